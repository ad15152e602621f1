import { AsyncLocalStorage } from 'node:async_hooks';
import {
  type Checkpointer,
  CheckpointId,
  ConfigError,
  CorruptRecordError,
  type Checkpoint as EntelixCheckpoint,
  type FenceToken,
  type JsonObject,
  type JsonValue,
  type ParentWrites,
  type Persistence,
  type SavedCheckpoint,
  TenantId,
  type ThreadId,
  ThreadKey,
} from '@entelix/core';
import { matchesMetadataFilter } from '@entelix/core/adapter';
import type { RunnableConfig } from '@langchain/core/runnables';
import {
  BaseCheckpointSaver,
  type ChannelVersions,
  type Checkpoint,
  type CheckpointListOptions,
  type CheckpointMetadata,
  type CheckpointPendingWrite,
  type CheckpointTuple,
  getCheckpointId,
  JsonPlusSerializer,
  maxChannelVersion,
  type PendingWrite,
  type SerializerProtocol,
  TASKS,
  WRITES_IDX_MAP,
} from '@langchain/langgraph-checkpoint';
import { configurableOf, readLease, readThreadId, resolveTenant, TENANT_ID_KEY } from './config.js';
import { BRIDGE, hasCode } from './errors.js';
import { createValueCodec, isPlainJson, settled, type ValueCodec } from './values.js';

/** Options of {@link createEntelixSaver}. */
export interface EntelixSaverOptions {
  /**
   * Bind the saver to one tenant. Calls may still name it in `configurable.tenant_id`
   * but never another one. Unbound, every call must name its tenant.
   */
  tenantId?: string;
  /** LangGraph's serializer; default a `JsonPlusSerializer`. */
  serde?: SerializerProtocol;
  /**
   * How many checkpoints one backend call of `list` reads when no `limit` bounds it,
   * and how many thread ids one page of a tenant-wide `list` reads. Default 100.
   */
  pageSize?: number;
}

/** A LangGraph checkpoint saver over an Entelix {@link Persistence}. */
export interface EntelixSaver extends BaseCheckpointSaver<number> {
  /** The tenant the saver is bound to, if any. */
  readonly tenantId: TenantId | undefined;
  /**
   * Run `fn` with `tenantId` as the tenant of every saver call that names none: for
   * the configs LangGraph builds itself without your `configurable` keys, such as the
   * subgraph lookups of `getState(config, { subgraphs: true })`, and for
   * `deleteThread(threadId)`, which takes no config.
   */
  withTenant<T>(tenantId: string, fn: () => T | Promise<T>): Promise<T>;
}

/**
 * The checkpoint as Entelix stores it, in the checkpoint's `state`. Channel values are
 * the JSON LangGraph's serializer writes (see `VALUE_TAG` for what is not JSON).
 */
export interface StoredCheckpoint {
  v: number;
  ts: string;
  channel_values: JsonObject;
  channel_versions: JsonObject;
  versions_seen: JsonObject;
}

const DEFAULT_PAGE_SIZE = 100;
/** How many checkpoint slots a saver remembers having written or read (see putWrites). */
const KNOWN_SLOTS = 1024;

/**
 * A LangGraph.js checkpoint saver over any Entelix persistence: one compiled graph
 * serves every tenant, each call naming its tenant in `configurable.tenant_id` (or the
 * saver bound to one), and a lease in `configurable.entelix_lease` fences the run's
 * writes. Each `put`, `putWrites`, `getTuple` and page of `list` is one backend call.
 *
 * @example
 * ```ts
 * import { createMemoryPersistence } from '@entelix/memory';
 * import { createEntelixSaver } from '@entelix/langgraph';
 *
 * const saver = createEntelixSaver(createMemoryPersistence());
 * const graph = builder.compile({ checkpointer: saver });
 * await graph.invoke(input, { configurable: { tenant_id: 'acme', thread_id: 't-1' } });
 * ```
 */
export function createEntelixSaver(
  persistence: Persistence,
  options: EntelixSaverOptions = {},
): EntelixSaver {
  if (typeof persistence?.checkpointer !== 'function') {
    throw new ConfigError('createEntelixSaver needs an Entelix Persistence', { backend: BRIDGE });
  }
  const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
  if (!Number.isSafeInteger(pageSize) || pageSize <= 0) {
    throw new ConfigError('pageSize must be a positive integer', { backend: BRIDGE });
  }
  const tenantId = options.tenantId === undefined ? undefined : TenantId.parse(options.tenantId);
  return new EntelixCheckpointSaver(persistence, options.serde, tenantId, pageSize);
}

/** A `putWrites` call in flight: when it joined the queue for the next put, and settled. */
interface TaskWritesInFlight {
  readonly queued: Promise<void>;
  readonly settled: Promise<void>;
}

/** The task a `putWrites` call writes for, and its checkpoint's slot. */
interface TaskWrites {
  readonly slot: string;
  readonly checkpointId: CheckpointId;
  readonly taskId: string;
  readonly taskPath: string;
}

/** What a write call addresses, read from its config. */
interface WriteTarget {
  readonly key: ThreadKey;
  readonly ns: string;
  readonly fence: FenceToken | undefined;
}

/** A task's writes waiting for the put of the checkpoint after theirs (see putWrites). */
interface QueuedWrites {
  readonly batch: ParentWrites<JsonValue>;
  readonly fence: FenceToken | undefined;
  /** True once a put stored the writes with its checkpoint; false: write them alone. */
  readonly settle: (carried: boolean) => void;
}

class EntelixCheckpointSaver extends BaseCheckpointSaver<number> implements EntelixSaver {
  readonly tenantId: TenantId | undefined;
  readonly #checkpoints: Checkpointer<StoredCheckpoint, JsonValue>;
  readonly #values: ValueCodec;
  readonly #pageSize: number;
  readonly #scope = new AsyncLocalStorage<TenantId>();
  /** Puts in flight, by checkpoint slot: a `putWrites` for one waits for it. */
  readonly #putsInFlight = new Map<string, Promise<unknown>>();
  /** Callbacks of `putWrites` calls waiting for a checkpoint's put to land, by slot. */
  readonly #awaitingPut = new Map<string, Set<() => void>>();
  /** Slots of checkpoints this saver recently wrote or read, oldest first. */
  readonly #knownSlots = new Map<string, true>();
  /** Writes waiting to go out with the put of their checkpoint's child, by their slot. */
  readonly #queuedWrites = new Map<string, QueuedWrites[]>();
  /**
   * The last `putWrites` call of each (checkpoint slot, task) still in flight: the next
   * one for the same task queues or writes after it, so first-wins and last-wins follow
   * the order of the calls, not the order their values finish serializing.
   */
  readonly #taskWritesInFlight = new Map<string, TaskWritesInFlight>();

  constructor(
    persistence: Persistence,
    serde: SerializerProtocol | undefined,
    tenantId: TenantId | undefined,
    pageSize: number,
  ) {
    super(serde ?? new JsonPlusSerializer());
    this.tenantId = tenantId;
    this.#checkpoints = persistence.checkpointer<StoredCheckpoint, JsonValue>();
    this.#values = createValueCodec(this.serde, serde === undefined);
    this.#pageSize = pageSize;
  }

  async withTenant<T>(tenantId: string, fn: () => T | Promise<T>): Promise<T> {
    const tenant = TenantId.parse(tenantId);
    if (this.tenantId !== undefined && this.tenantId !== tenant) {
      throw new ConfigError(
        `this saver is bound to another tenant than ${JSON.stringify(tenant)}`,
        {
          backend: BRIDGE,
        },
      );
    }
    return this.#scope.run(tenant, async () => fn());
  }

  async getTuple(config: RunnableConfig): Promise<CheckpointTuple | undefined> {
    const configurable = configurableOf(config);
    const tenant = this.#tenantOf(configurable, 'getTuple');
    const threadId = readThreadId(configurable);
    if (threadId === undefined) return undefined;
    const key = ThreadKey.of(tenant, threadId);
    const ns = readNs(configurable);
    const checkpointId = getCheckpointId(config);
    const saved = checkpointId
      ? await this.#checkpoints.getById(key, checkpointId, { ns })
      : await this.#checkpoints.getLatest(key, { ns });
    return saved === undefined ? undefined : this.#toTuple(saved);
  }

  async *list(
    config: RunnableConfig,
    options: CheckpointListOptions = {},
  ): AsyncGenerator<CheckpointTuple> {
    const configurable = configurableOf(config);
    const tenant = this.#tenantOf(configurable, 'list');
    const threadId = readThreadId(configurable);
    const ns = configurable.checkpoint_ns === undefined ? undefined : readNs(configurable);
    const checkpointId = getCheckpointId(config) || undefined;
    const query = readListOptions(options);
    let remaining = query.limit ?? Number.POSITIVE_INFINITY;
    if (remaining === 0) return;

    const threads = threadId !== undefined ? [threadId] : this.#threadsOf(tenant);
    for await (const thread of threads) {
      const key = ThreadKey.of(tenant, thread);
      const history =
        checkpointId === undefined
          ? this.#history(key, ns, query, () => remaining)
          : this.#oneCheckpoint(key, ns, checkpointId, query);
      for await (const saved of history) {
        yield await this.#toTuple(saved);
        remaining--;
        if (remaining === 0) return;
      }
    }
  }

  async put(
    config: RunnableConfig,
    checkpoint: Checkpoint,
    metadata: CheckpointMetadata,
    _newVersions: ChannelVersions,
  ): Promise<RunnableConfig> {
    const target = this.#writeTarget(config, 'put');
    const parentId = getCheckpointId(config) || undefined;
    const fields = readCheckpoint(checkpoint);
    const slot = slotOf(target.key, target.ns, fields.id);
    const stored = this.#storeCheckpoint(target, fields, metadata, parentId);
    this.#putsInFlight.set(slot, stored);
    try {
      await stored;
    } finally {
      if (this.#putsInFlight.get(slot) === stored) this.#putsInFlight.delete(slot);
    }
    this.#remember(slot);
    for (const landed of this.#awaitingPut.get(slot) ?? []) landed();
    return { configurable: this.#configurable(target.key, target.ns, fields.id) };
  }

  async putWrites(
    config: RunnableConfig,
    writes: PendingWrite[],
    taskId: string,
    taskPath?: string,
  ): Promise<void> {
    const target = this.#writeTarget(config, 'putWrites');
    const rawId = getCheckpointId(config);
    if (!rawId) {
      throw new ConfigError('putWrites needs configurable.checkpoint_id', { backend: BRIDGE });
    }
    const checkpointId = CheckpointId.parse(rawId);
    if (!Array.isArray(writes)) {
      throw new ConfigError('putWrites takes an array of [channel, value] pairs', {
        backend: BRIDGE,
      });
    }
    for (const [index, write] of writes.entries()) {
      if (!Array.isArray(write) || typeof write[0] !== 'string') {
        throw new ConfigError(`writes[${index}] must be a [channel, value] pair`, {
          backend: BRIDGE,
        });
      }
    }
    const slot = slotOf(target.key, target.ns, checkpointId);
    const task: TaskWrites = { slot, checkpointId, taskId, taskPath: taskPath ?? '' };
    const inFlight = `${slot}\u0000${taskId}`;
    let markQueued = () => {};
    const queued = new Promise<void>((resolve) => {
      markQueued = resolve;
    });
    const done = this.#putTaskWrites(
      target,
      task,
      writes,
      this.#taskWritesInFlight.get(inFlight),
      markQueued,
    );
    const call: TaskWritesInFlight = {
      queued,
      settled: done.then(
        () => {},
        () => {},
      ),
    };
    this.#taskWritesInFlight.set(inFlight, call);
    void call.settled.then(() => {
      // A call that failed before it queued must not hold the next one back.
      markQueued();
      if (this.#taskWritesInFlight.get(inFlight) === call)
        this.#taskWritesInFlight.delete(inFlight);
    });
    return done;
  }

  /**
   * `putWrites` once its values are dumped: queued for the next put after the task's
   * previous call queued, or written alone after the previous call has settled.
   */
  async #putTaskWrites(
    target: WriteTarget,
    task: TaskWrites,
    writes: PendingWrite[],
    previous: TaskWritesInFlight | undefined,
    markQueued: () => void,
  ): Promise<void> {
    const values = await settled(writes.map(([, value]) => this.#values.dump(value)));
    const records = writes.map(([channel], index) => ({
      idx: WRITES_IDX_MAP[channel] ?? index,
      channel,
      value: values[index] as JsonValue,
    }));
    if (previous !== undefined) await previous.queued;
    const { slot, checkpointId, taskId, taskPath } = task;
    const batch = { taskId, taskPath, writes: records };
    const write = () =>
      this.#checkpoints.putWrites(
        target.key,
        { checkpointId, ns: target.ns, taskId, taskPath },
        records,
        { fence: target.fence },
      );
    await this.#untilPutSettles(slot, target.key);
    if (await this.#carriedByNextPut(slot, batch, target.fence, markQueued)) return;
    if (previous !== undefined) await previous.settled;
    try {
      await write();
    } catch (error) {
      if (!hasCode(error, 'NOT_FOUND') || !(await this.#checkpointLands(slot, target.key))) {
        throw error;
      }
      await write();
    }
  }

  /**
   * Integer versions, as LangGraph's JS savers use, and the next of a string version in
   * the zero-padded `<counter>.<random>` form LangGraph's Python savers write, so a thread
   * copied from one of those can go on running here.
   */
  override getNextVersion(current: number | undefined): number {
    if (typeof current !== 'string') return super.getNextVersion(current);
    const counter = Number.parseInt((current as string).split('.')[0] ?? '', 10);
    if (!Number.isSafeInteger(counter)) {
      throw new CorruptRecordError('a stored channel version is neither a number nor a counter', {
        backend: BRIDGE,
      });
    }
    const random = Math.floor(Math.random() * 1e16)
      .toString()
      .padStart(16, '0');
    // LangGraph types versions as the saver's own kind but hands stored ones back as they
    // are, so a copied thread's string versions arrive here typed as numbers.
    return `${String(counter + 1).padStart(32, '0')}.${random}` as unknown as number;
  }

  async deleteThread(threadId: string): Promise<void> {
    const tenant = resolveTenant(undefined, this.tenantId, this.#scope.getStore(), 'deleteThread');
    await this.#checkpoints.deleteThread(ThreadKey.of(tenant, threadId));
  }

  #tenantOf(configurable: Record<string, unknown>, what: string): TenantId {
    return resolveTenant(configurable[TENANT_ID_KEY], this.tenantId, this.#scope.getStore(), what);
  }

  #writeTarget(config: RunnableConfig, what: string): WriteTarget {
    const configurable = configurableOf(config);
    const tenant = this.#tenantOf(configurable, what);
    const threadId = readThreadId(configurable);
    if (threadId === undefined) {
      throw new ConfigError(`${what} needs configurable.thread_id`, { backend: BRIDGE });
    }
    const key = ThreadKey.of(tenant, threadId);
    return { key, ns: readNs(configurable), fence: readLease(configurable, key) };
  }

  /**
   * The configurable of a config this saver hands back: enough to address the
   * checkpoint again. An unbound saver repeats the tenant, so that a snapshot's config
   * can be passed straight back to replay, fork or update it.
   */
  #configurable(key: ThreadKey, ns: string, checkpointId: string): Record<string, string> {
    const configurable: Record<string, string> = {
      thread_id: key.threadId,
      checkpoint_ns: ns,
      checkpoint_id: checkpointId,
    };
    if (this.tenantId === undefined) configurable[TENANT_ID_KEY] = key.tenantId;
    return configurable;
  }

  async #storeCheckpoint(
    target: WriteTarget,
    fields: CheckpointFields,
    metadata: CheckpointMetadata,
    parentId: string | undefined,
  ): Promise<void> {
    const channelValues = { ...fields.channel_values };
    const channelVersions = { ...fields.channel_versions };
    if (fields.v < 4 && parentId !== undefined) {
      // Checkpoints before format 4 kept pending sends on the parent's writes; LangGraph's
      // savers move them into the TASKS channel, once, here when it is written.
      const parent = await this.#checkpoints.getById(target.key, parentId, { ns: target.ns });
      channelValues[TASKS] = await Promise.all(
        (parent?.pendingWrites ?? [])
          .filter((write) => write.channel === TASKS)
          .map((write) => this.#values.load(write.value)),
      );
      const versions = Object.values(channelVersions) as ChannelVersions[string][];
      channelVersions[TASKS] =
        versions.length > 0 ? maxChannelVersion(...versions) : this.getNextVersion(undefined);
    }
    const [values, storedMetadata] = await Promise.all([
      this.#dumpChannels(channelValues),
      this.#dumpMetadata(metadata),
    ]);
    const state: StoredCheckpoint = {
      v: fields.v,
      ts: fields.ts,
      channel_values: values,
      channel_versions: channelVersions as JsonObject,
      versions_seen: fields.versions_seen as JsonObject,
    };
    const createdAtMs = Date.parse(fields.ts);
    // `put` checks every field itself; a separate `create` would check them twice.
    const checkpoint: EntelixCheckpoint<StoredCheckpoint> = {
      key: target.key,
      ns: target.ns,
      id: fields.id,
      parentId: parentId === undefined ? null : CheckpointId.parse(parentId),
      step: entelixStep(metadata),
      state,
      nextNode: null,
      metadata: storedMetadata,
      createdAt: Number.isNaN(createdAtMs) ? new Date() : new Date(createdAtMs),
    };
    const queued =
      parentId === undefined
        ? []
        : this.#takeQueuedWrites(slotOf(target.key, target.ns, parentId), target.fence);
    if (queued.length === 0) {
      await this.#checkpoints.put(checkpoint, { fence: target.fence });
      return;
    }
    try {
      await this.#checkpoints.put(checkpoint, {
        fence: target.fence,
        parentWrites: queued.map((entry) => entry.batch),
      });
    } catch {
      // Nothing was written: each call goes on alone, to meet its own outcome.
      for (const entry of queued) entry.settle(false);
      await this.#checkpoints.put(checkpoint, { fence: target.fence });
      return;
    }
    for (const entry of queued) entry.settle(true);
  }

  /**
   * Let the put of the checkpoint after this one carry a task's writes: LangGraph issues
   * a step's writes and then, within the same turn of the event loop, the put of the
   * next checkpoint, whose parent they belong to. One backend call then stores both in
   * one commit. Resolves true once such a put stored them; false when no put took them
   * before the next turn, or its call failed, and the writes are to be written alone.
   */
  #carriedByNextPut(
    slot: string,
    batch: ParentWrites<JsonValue>,
    fence: FenceToken | undefined,
    onQueued: () => void,
  ): Promise<boolean> {
    return new Promise((settle) => {
      let queue = this.#queuedWrites.get(slot);
      if (queue === undefined) {
        const created: QueuedWrites[] = [];
        queue = created;
        this.#queuedWrites.set(slot, created);
        void nextTurn().then(() => {
          if (this.#queuedWrites.get(slot) !== created) return;
          this.#queuedWrites.delete(slot);
          for (const entry of created) entry.settle(false);
        });
      }
      queue.push({ batch, fence, settle });
      onQueued();
    });
  }

  /** The writes queued for the checkpoint `slot` under the same fence, taken off the queue. */
  #takeQueuedWrites(slot: string, fence: FenceToken | undefined): QueuedWrites[] {
    const queue = this.#queuedWrites.get(slot);
    if (queue === undefined) return [];
    const taken: QueuedWrites[] = [];
    // In place: the queue's flush at the next turn settles whatever is left in it.
    for (let i = 0; i < queue.length; ) {
      const entry = queue[i] as QueuedWrites;
      if (entry.fence?.fence === fence?.fence) taken.push(...queue.splice(i, 1));
      else i++;
    }
    if (queue.length === 0) this.#queuedWrites.delete(slot);
    return taken;
  }

  async #dumpChannels(channelValues: Record<string, unknown>): Promise<JsonObject> {
    const channels = Object.keys(channelValues);
    const values = await settled(
      channels.map((channel) => this.#values.dump(channelValues[channel])),
    );
    return Object.fromEntries(channels.map((channel, i) => [channel, values[i] as JsonValue]));
  }

  async #dumpMetadata(metadata: CheckpointMetadata): Promise<JsonObject> {
    if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
      throw new ConfigError('checkpoint metadata must be an object', { backend: BRIDGE });
    }
    const stored = await this.#values.dump(metadata);
    // The tagged escapes are objects too, so metadata always lands in Entelix's
    // metadata, where `list`'s filter is applied by the backend.
    return stored as JsonObject;
  }

  #remember(slot: string): void {
    this.#knownSlots.delete(slot);
    this.#knownSlots.set(slot, true);
    if (this.#knownSlots.size > KNOWN_SLOTS) {
      const [oldest] = this.#knownSlots.keys();
      if (oldest !== undefined) this.#knownSlots.delete(oldest);
    }
  }

  /**
   * Before `putWrites`: let the put of its checkpoint land if LangGraph has issued or is
   * about to issue it. LangGraph does not wait for a checkpoint's put before running the
   * next step, chaining a run's puts one after another, so a task's writes can arrive
   * while their checkpoint's put is in flight or queued behind earlier ones (async
   * durability), or just before it is issued (exit durability flushes the final writes
   * first). A checkpoint this saver recently wrote or read needs no wait.
   */
  async #untilPutSettles(slot: string, key: ThreadKey): Promise<void> {
    let turned = false;
    for (;;) {
      const own = this.#putsInFlight.get(slot);
      if (own !== undefined) {
        await own.catch(() => undefined);
        return;
      }
      if (this.#knownSlots.has(slot)) return;
      const others = this.#putsOfThread(key);
      if (others.length > 0) {
        // The chain moved on: the next put may be ours, issued a turn later.
        await Promise.allSettled(others);
        turned = false;
      } else if (!turned) {
        turned = true;
        await nextTurn();
      } else {
        return;
      }
    }
  }

  #putsOfThread(key: ThreadKey): Promise<unknown>[] {
    const threadSlot = threadSlotOf(key);
    return [...this.#putsInFlight]
      .filter(([other]) => other.startsWith(threadSlot))
      .map(([, put]) => put);
  }

  /**
   * After `putWrites` found no checkpoint: wait for its put if LangGraph is about to
   * make it. LangGraph chains a run's puts one after another and does not wait for them
   * before the next step, so a task's writes can arrive while their checkpoint's put is
   * still queued behind earlier ones (async durability), or just before it is issued
   * (exit durability flushes the final writes first). Waits while this thread has puts
   * in flight, and one more turn of the event loop; true once the checkpoint's put landed.
   */
  async #checkpointLands(slot: string, key: ThreadKey): Promise<boolean> {
    let landed = false;
    const onLanded = () => {
      landed = true;
    };
    const waiting = this.#awaitingPut.get(slot) ?? new Set();
    waiting.add(onLanded);
    this.#awaitingPut.set(slot, waiting);
    const putsOfThread = () => this.#putsOfThread(key);
    try {
      for (;;) {
        let inFlight = putsOfThread();
        if (inFlight.length === 0) {
          await nextTurn();
          if (landed) return true;
          inFlight = putsOfThread();
          if (inFlight.length === 0) return false;
        }
        await Promise.allSettled(inFlight);
        if (landed) return true;
      }
    } finally {
      waiting.delete(onLanded);
      if (waiting.size === 0) this.#awaitingPut.delete(slot);
    }
  }

  async *#threadsOf(tenant: TenantId): AsyncGenerator<ThreadId> {
    let after: string | undefined;
    for (;;) {
      const page = await this.#checkpoints.listThreads(tenant, { limit: this.#pageSize, after });
      yield* page;
      if (page.length < this.#pageSize) return;
      after = page[page.length - 1];
    }
  }

  /**
   * One thread's checkpoints, newest first, as LangGraph's `list` selects them. With
   * `before` on this thread (the usual case) each page is one `listHistory` call that
   * starts at it. An anchor on another thread cannot be a cursor here, so the thread is
   * read newest first and filtered by id: that reads the checkpoints newer than it too.
   */
  async *#history(
    key: ThreadKey,
    ns: string | undefined,
    query: ListQuery,
    remaining: () => number,
  ): AsyncGenerator<SavedCheckpoint<StoredCheckpoint, JsonValue>> {
    const { beforeId, filter } = query;
    let cursor: string | undefined;
    let scanning =
      beforeId !== undefined &&
      query.beforeThreadId !== undefined &&
      query.beforeThreadId !== key.threadId;
    if (beforeId !== undefined && !scanning) cursor = beforeId;
    for (;;) {
      const limit = scanning ? this.#pageSize : Math.min(remaining(), this.#pageSize);
      let page: SavedCheckpoint<StoredCheckpoint, JsonValue>[];
      try {
        page = await this.#checkpoints.listHistory(key, { limit, ns, before: cursor, filter });
      } catch (error) {
        if (!hasCode(error, 'NOT_FOUND') || scanning || cursor !== beforeId) throw error;
        scanning = true;
        cursor = undefined;
        continue;
      }
      for (const saved of page) {
        if (beforeId === undefined || saved.id < beforeId) yield saved;
      }
      if (page.length < limit) return;
      cursor = page[page.length - 1]?.id;
    }
  }

  /** `list` of a config that names a checkpoint: that checkpoint, if it matches. */
  async *#oneCheckpoint(
    key: ThreadKey,
    ns: string | undefined,
    checkpointId: string,
    query: ListQuery,
  ): AsyncGenerator<SavedCheckpoint<StoredCheckpoint, JsonValue>> {
    const id = CheckpointId.parse(checkpointId);
    const matches = (saved: SavedCheckpoint<StoredCheckpoint, JsonValue>) =>
      saved.id === id &&
      (query.beforeId === undefined || saved.id < query.beforeId) &&
      (query.filter === undefined || matchesMetadataFilter(saved.metadata, query.filter));
    if (ns !== undefined) {
      const saved = await this.#checkpoints.getById(key, id, { ns });
      if (saved !== undefined && matches(saved)) yield saved;
      return;
    }
    // Without a namespace the id may be in any of them: read the thread until found.
    for await (const saved of this.#history(
      key,
      undefined,
      { ...query, beforeId: undefined },
      () => this.#pageSize,
    )) {
      if (matches(saved)) yield saved;
    }
  }

  async #toTuple(saved: SavedCheckpoint<StoredCheckpoint, JsonValue>): Promise<CheckpointTuple> {
    const state = readStoredCheckpoint(saved.state);
    this.#remember(slotOf(saved.key, saved.ns, saved.id));
    const channels = Object.keys(state.channel_values);
    const loaded = await settled([
      this.#values.load(saved.metadata),
      ...channels.map((channel) => this.#values.load(state.channel_values[channel] ?? null)),
      ...saved.pendingWrites.map((write) => this.#values.load(write.value)),
    ]);
    const metadata = loaded[0];
    const channelValues = Object.fromEntries(
      channels.map((channel, i) => [channel, loaded[1 + i]]),
    );
    const pendingWrites = saved.pendingWrites.map(
      (write, i): CheckpointPendingWrite => [
        write.taskId,
        write.channel,
        loaded[1 + channels.length + i],
      ],
    );
    const tuple: CheckpointTuple = {
      config: { configurable: this.#configurable(saved.key, saved.ns, saved.id) },
      checkpoint: {
        v: state.v,
        id: saved.id,
        ts: state.ts,
        channel_values: channelValues,
        channel_versions: state.channel_versions as ChannelVersions,
        versions_seen: state.versions_seen as Record<string, ChannelVersions>,
      },
      metadata: metadata as CheckpointMetadata,
      pendingWrites,
    };
    if (saved.parentId !== null) {
      tuple.parentConfig = {
        configurable: this.#configurable(saved.key, saved.ns, saved.parentId),
      };
    }
    return tuple;
  }
}

/** The fields of a LangGraph checkpoint, checked. */
interface CheckpointFields {
  v: number;
  id: CheckpointId;
  ts: string;
  channel_values: Record<string, unknown>;
  channel_versions: Record<string, unknown>;
  versions_seen: Record<string, unknown>;
}

function readCheckpoint(checkpoint: unknown): CheckpointFields {
  if (typeof checkpoint !== 'object' || checkpoint === null) {
    throw new ConfigError('put needs a checkpoint object', { backend: BRIDGE });
  }
  const cp = checkpoint as Partial<Checkpoint>;
  const id = CheckpointId.parse(cp.id);
  if (typeof cp.v !== 'number' || !Number.isSafeInteger(cp.v)) {
    throw new ConfigError('checkpoint.v must be an integer', { backend: BRIDGE });
  }
  if (typeof cp.ts !== 'string') {
    throw new ConfigError('checkpoint.ts must be a string', { backend: BRIDGE });
  }
  return {
    v: cp.v,
    id,
    ts: cp.ts,
    channel_values: readRecord(cp.channel_values, 'checkpoint.channel_values'),
    channel_versions: readRecord(cp.channel_versions, 'checkpoint.channel_versions'),
    versions_seen: readRecord(cp.versions_seen, 'checkpoint.versions_seen'),
  };
}

function readRecord(value: unknown, what: string): Record<string, unknown> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError(`${what} must be an object`, { backend: BRIDGE });
  }
  return value as Record<string, unknown>;
}

function readStoredCheckpoint(state: unknown): StoredCheckpoint {
  const cp = state as Partial<StoredCheckpoint> | null;
  if (
    typeof cp !== 'object' ||
    cp === null ||
    typeof cp.v !== 'number' ||
    typeof cp.ts !== 'string' ||
    !isObject(cp.channel_values) ||
    !isObject(cp.channel_versions) ||
    !isObject(cp.versions_seen)
  ) {
    throw new CorruptRecordError('a stored checkpoint is not a LangGraph checkpoint', {
      backend: BRIDGE,
    });
  }
  return cp as StoredCheckpoint;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `configurable.checkpoint_ns`, `''` (the root graph) when absent. */
function readNs(configurable: Record<string, unknown>): string {
  const ns = configurable.checkpoint_ns;
  return ns === undefined ? '' : (ns as string);
}

/**
 * Entelix's `step` for a LangGraph checkpoint: its `metadata.step` clamped at 0.
 * LangGraph numbers the input checkpoint -1 (and an exit-durability stub -2), while an
 * Entelix step is a non-negative integer; the exact step stays in the metadata, where
 * `list`'s filter finds it.
 */
function entelixStep(metadata: CheckpointMetadata): number {
  const step = (metadata as { step?: unknown } | undefined)?.step;
  if (step === undefined) return 0;
  if (typeof step !== 'number' || !Number.isSafeInteger(step)) {
    throw new ConfigError('checkpoint metadata.step must be an integer', { backend: BRIDGE });
  }
  return Math.max(0, step);
}

/** A validated `list` query. */
interface ListQuery {
  readonly limit: number | undefined;
  readonly beforeId: CheckpointId | undefined;
  /** The thread of the `before` config, when it names one. */
  readonly beforeThreadId: string | undefined;
  readonly filter: JsonObject | undefined;
}

function readListOptions(options: CheckpointListOptions): ListQuery {
  if (typeof options !== 'object' || options === null) {
    throw new ConfigError('list options must be an object', { backend: BRIDGE });
  }
  const { limit, before, filter } = options;
  if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 0)) {
    throw new ConfigError('list limit must be a non-negative integer', { backend: BRIDGE });
  }
  const beforeConfigurable = configurableOf(before);
  const rawBefore = before === undefined ? '' : getCheckpointId(before);
  const beforeThread = beforeConfigurable.thread_id;
  return {
    limit,
    beforeId: rawBefore ? CheckpointId.parse(rawBefore) : undefined,
    beforeThreadId: typeof beforeThread === 'string' ? beforeThread : undefined,
    filter: readFilter(filter),
  };
}

function readFilter(filter: unknown): JsonObject | undefined {
  if (filter === undefined) return undefined;
  if (typeof filter !== 'object' || filter === null || Array.isArray(filter)) {
    throw new ConfigError('list filter must be an object of metadata values', { backend: BRIDGE });
  }
  const entries = Object.entries(filter).filter(([, value]) => value !== undefined);
  if (entries.length === 0) return undefined;
  const normalized = Object.fromEntries(entries);
  if (!isPlainJson(normalized, 0)) {
    throw new ConfigError('list filter values must be JSON (metadata is compared as JSON)', {
      backend: BRIDGE,
    });
  }
  return normalized as JsonObject;
}

/** A checkpoint's identity within this process: tenant, thread, namespace and id. */
function slotOf(key: ThreadKey, ns: string, checkpointId: string): string {
  return `${threadSlotOf(key)}${ns}\u0000${checkpointId}`;
}

/** What the slots of every checkpoint of one thread start with. */
function threadSlotOf(key: ThreadKey): string {
  return `${key.tenantId}\u0000${key.threadId}\u0000`;
}

/** After every microtask queued so far has run: LangGraph issues chained puts in those. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => {
    if (typeof setImmediate === 'function') setImmediate(resolve);
    else setTimeout(resolve, 0);
  });
}
