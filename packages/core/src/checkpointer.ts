import { type JsonObject, jsonEquals, readJsonObject } from './codec.js';
import type { PayloadFormat } from './envelope.js';
import { ConfigError, CorruptRecordError } from './errors.js';
import {
  assertRowTenant,
  CheckpointId,
  describeValue,
  TenantId,
  type ThreadId,
  ThreadKey,
  validateChannel,
  validateId,
  validatePath,
} from './ids.js';
import { type DriverCall, type DriverWrite, readWriteCall, startCall, startWrite } from './kit.js';
import {
  assertNonNegativeInteger,
  assertPositiveInteger,
  type CallOptions,
  readOptions,
  readSignal,
  type WriteOptions,
} from './options.js';
import { compareCodePoints, isOrderedPage, type PageQuery } from './order.js';

/** A snapshot of a graph's state on one thread. Immutable once written. */
export interface Checkpoint<S> {
  readonly id: CheckpointId;
  readonly key: ThreadKey;
  /**
   * The checkpoint's namespace within the thread: `''` is the root graph, a runtime's
   * subgraphs use others. A checkpoint is identified by (tenant, thread, ns, id).
   */
  readonly ns: string;
  readonly parentId: CheckpointId | null;
  /** The graph step; a non-negative integer of at most 2^52. Not used for ordering. */
  readonly step: number;
  readonly state: S;
  /** The node to run next, or `null` when the graph is at rest. */
  readonly nextNode: string | null;
  /** What the runtime wants to find checkpoints by (see `listHistory`'s `filter`). */
  readonly metadata: JsonObject;
  readonly createdAt: Date;
}

/** A task's output attached to a checkpoint, saved before the next checkpoint exists. */
export interface PendingWrite<W = unknown> {
  readonly taskId: string;
  readonly taskPath: string;
  /** The write's index within its task; negative for a runtime's special channels. */
  readonly idx: number;
  readonly channel: string;
  readonly value: W;
}

/** A checkpoint as read back: with its pending writes, ordered by (taskPath, taskId, idx). */
export interface SavedCheckpoint<S, W = unknown> extends Checkpoint<S> {
  readonly pendingWrites: readonly PendingWrite<W>[];
}

/** What {@link Checkpoint.create} needs. */
export interface CheckpointInput<S> {
  key: ThreadKey;
  step: number;
  state: S;
  nextNode?: string | null;
  parentId?: CheckpointId | string | null;
  /** Default: a fresh UUIDv7. Any UUID, so a runtime can keep its own ids. */
  id?: CheckpointId | string;
  /** Default `''`, the root graph. */
  ns?: string;
  /** Default `{}`. */
  metadata?: JsonObject;
  /** Default: now. */
  createdAt?: Date;
}

/** Options of the reads of one checkpoint. */
export interface CheckpointReadOptions extends CallOptions {
  /** The checkpoint namespace; default `''`. */
  ns?: string;
}

/** Options of {@link Checkpointer.listHistory}. */
export interface ListHistoryOptions extends CallOptions {
  /** How many checkpoints at most; a positive integer. */
  limit: number;
  /** Only this namespace. Omitted: every namespace of the thread, in one write order. */
  ns?: string;
  /**
   * Only checkpoints written before this one, which must be a checkpoint of the thread
   * in any namespace (`NOT_FOUND` otherwise): keyset paging.
   */
  before?: CheckpointId | string;
  /** Only checkpoints whose metadata has each of these top-level keys, JSON-equal. */
  filter?: JsonObject;
}

/** Options of {@link Checkpointer.updateState}. */
export interface UpdateStateOptions extends WriteOptions {
  /** The namespace of the parent, where the fork is written too; default `''`. */
  ns?: string;
  /** The fork's metadata; default `{}`. */
  metadata?: JsonObject;
}

/** Which checkpoint and task a batch of pending writes belongs to. */
export interface PendingWriteTarget {
  checkpointId: CheckpointId | string;
  /** The checkpoint's namespace; default `''`. */
  ns?: string;
  taskId: string;
  /** The task's path in the graph, for ordering; default `''`. */
  taskPath?: string;
}

/** One pending write as given to {@link Checkpointer.putWrites}. */
export interface PendingWriteInput<W = unknown> {
  idx: number;
  channel: string;
  value: W;
}

/**
 * A task's pending writes for the parent of the checkpoint being put (see
 * {@link PutOptions.parentWrites}).
 */
export interface ParentWrites<W = unknown> {
  taskId: string;
  /** The task's path in the graph, for ordering; default `''`. */
  taskPath?: string;
  writes: readonly PendingWriteInput<W>[];
}

/** Options of {@link Checkpointer.put}. */
export interface PutOptions<W = unknown> extends WriteOptions {
  /**
   * Pending writes for the checkpoint's parent, in the checkpoint's namespace, stored in
   * the same atomic step as the checkpoint: what `putWrites` on the parent and then
   * `put` would store, with putWrites's rules, in one backend call and one commit. A
   * runtime that ends a step with its tasks' writes and the next checkpoint saves one
   * round trip and one durable commit per step. `NOT_FOUND` if the parent is not in the
   * namespace (checked before `CONFLICT`), and then nothing is written; `CONFIG` if the
   * checkpoint has no parent and a batch holds a write.
   */
  parentWrites?: readonly ParentWrites<W>[];
}

/** Options of {@link Checkpointer.prune}. */
export interface PruneOptions extends WriteOptions {
  /** How many of the newest checkpoints to keep in each namespace; a non-negative integer. */
  keepLatest: number;
  /** Only this namespace. Omitted: each namespace of the thread. */
  ns?: string;
}

/** Options of the `listThreads` methods. */
export interface ListThreadsOptions extends CallOptions {
  /** How many thread ids at most; a positive integer. */
  limit: number;
  /** Keyset paging: only thread ids after this one, in code-point order. */
  after?: string;
}

/**
 * Graph-state snapshots per thread. "Latest" and history order are the order in which
 * checkpoints were written, one sequence per thread across its namespaces, assigned
 * by the backend, never `step`, the id or a client clock.
 */
export interface Checkpointer<S, W = unknown> {
  /**
   * {@link Checkpoint.create} typed by this checkpointer (no I/O). Unlike the generic
   * helper it also types a loop that feeds each checkpoint's id into the next one,
   * which TypeScript cannot infer through a generic call.
   */
  create(input: CheckpointInput<S>): Checkpoint<S>;
  /**
   * Store a new checkpoint. `CONFLICT` if its (ns, id) already exists on that thread.
   * With `parentWrites`, the parent's pending writes are stored in the same step.
   */
  put(checkpoint: Checkpoint<S>, options?: PutOptions<W>): Promise<void>;
  /** The last checkpoint written in the namespace, or `undefined`. */
  getLatest(
    key: ThreadKey,
    options?: CheckpointReadOptions,
  ): Promise<SavedCheckpoint<S, W> | undefined>;
  /** One checkpoint of the namespace, or `undefined`. */
  getById(
    key: ThreadKey,
    id: CheckpointId | string,
    options?: CheckpointReadOptions,
  ): Promise<SavedCheckpoint<S, W> | undefined>;
  /** Checkpoints newest first, at most `limit`, filtered before the limit applies. */
  listHistory(key: ThreadKey, options: ListHistoryOptions): Promise<SavedCheckpoint<S, W>[]>;
  /**
   * Fork: write a new checkpoint in the parent's namespace whose parent is `parentId`,
   * with `step = parent.step + 1` and the parent's `nextNode`. It becomes the latest.
   * `NOT_FOUND` if the parent is missing.
   */
  updateState(
    key: ThreadKey,
    parentId: CheckpointId | string,
    state: S,
    options?: UpdateStateOptions,
  ): Promise<CheckpointId>;
  /** Delete every checkpoint and pending write of the thread; returns how many checkpoints. */
  deleteThread(key: ThreadKey, options?: WriteOptions): Promise<number>;
  /**
   * Attach a task's writes to a checkpoint (`NOT_FOUND` if it does not exist). For
   * `idx >= 0` the first write of (checkpoint, taskId, idx) wins and a repeat changes
   * nothing; for `idx < 0` the last one wins. An empty batch does nothing.
   */
  putWrites(
    key: ThreadKey,
    target: PendingWriteTarget,
    writes: readonly PendingWriteInput<W>[],
    options?: WriteOptions,
  ): Promise<void>;
  /**
   * Keep the newest `keepLatest` checkpoints of each namespace (or of `ns`) and delete
   * the rest with their writes; returns how many checkpoints were deleted.
   */
  prune(key: ThreadKey, options: PruneOptions): Promise<number>;
  /** Thread ids of the tenant that hold a checkpoint, in code-point order. */
  listThreads(tenantId: string, options: ListThreadsOptions): Promise<ThreadId[]>;
}

/** Helpers for {@link Checkpoint} values. */
export const Checkpoint = {
  /**
   * A new checkpoint; `id` defaults to a fresh UUIDv7 and `createdAt` to now. In a loop
   * where each checkpoint's id becomes the next one's `parentId`, use the
   * checkpointer's own `create` instead: TypeScript cannot type a generic call whose
   * argument depends on its own result (TS7022).
   */
  create<S>(input: CheckpointInput<S>): Checkpoint<S> {
    const fields = readOptions<CheckpointInput<S>>(input, 'checkpoint input');
    const createdAt = fields.createdAt ?? new Date();
    return Object.freeze({
      id: fields.id === undefined ? CheckpointId.create() : CheckpointId.parse(fields.id),
      key: ThreadKey.from(fields.key),
      ns: fields.ns === undefined ? '' : validatePath(fields.ns, 'ns'),
      parentId: fields.parentId == null ? null : CheckpointId.parse(fields.parentId),
      step: readStep(fields.step, 'step'),
      state: fields.state as S,
      nextNode: validateNextNode(fields.nextNode),
      metadata: Object.freeze(readJsonObject(fields.metadata, 'metadata') ?? {}),
      createdAt: readCreatedAt(createdAt, 'createdAt'),
    });
  },
  /**
   * Re-validate a checkpoint handed to `put` (it may have been cast past the types)
   * and return a normalized copy. Throws `INVALID_ID` or `CONFIG`.
   */
  validate<S>(checkpoint: unknown): Checkpoint<S> {
    if (typeof checkpoint !== 'object' || checkpoint === null) {
      throw new ConfigError(`checkpoint must be an object, got ${describeValue(checkpoint)}`);
    }
    const cp = checkpoint as Record<string, unknown>;
    // Identifiers first, then the other fields.
    const key = ThreadKey.from(cp.key);
    const ns = cp.ns === undefined ? '' : validatePath(cp.ns, 'checkpoint.ns');
    const id = CheckpointId.parse(cp.id);
    const parentId = cp.parentId == null ? null : CheckpointId.parse(cp.parentId);
    const nextNode = validateNextNode(cp.nextNode);
    return {
      id,
      key,
      ns,
      parentId,
      step: readStep(cp.step, 'checkpoint.step'),
      state: cp.state as S,
      nextNode,
      metadata: readJsonObject(cp.metadata, 'checkpoint.metadata') ?? {},
      createdAt: readCreatedAt(cp.createdAt, 'checkpoint.createdAt'),
    };
  },
};

function validateNextNode(nextNode: unknown): string | null {
  return nextNode == null ? null : validateId(nextNode, 'nextNode');
}

/**
 * The largest step a checkpoint may be given. `updateState` stores its parent's step + 1
 * without a check of its own, so this leaves room for 2^52 of them before a step stops
 * being a safe integer (and the thread stops reading back).
 */
const MAX_STEP = 2 ** 52;

function readStep(value: unknown, what: string): number {
  const step = assertNonNegativeInteger(value, what);
  if (step > MAX_STEP) {
    throw new ConfigError(`${what} must be at most 2^52 (${MAX_STEP}), got ${step}`);
  }
  return step;
}

// Years 1 to 9999: what an ISO 8601 date (how backends send and keep it) can say.
const EARLIEST_CREATED_AT = Date.parse('0001-01-01T00:00:00.000Z');
const LATEST_CREATED_AT = Date.parse('9999-12-31T23:59:59.999Z');

function readCreatedAt(value: unknown, what: string): Date {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) {
    throw new ConfigError(`${what} must be a valid Date`);
  }
  const time = value.getTime();
  if (time < EARLIEST_CREATED_AT || time > LATEST_CREATED_AT) {
    throw new ConfigError(
      `${what} must be in the years 1 to 9999, got ${value.toISOString()}: a date outside them has no ISO 8601 form every backend stores`,
    );
  }
  return value;
}

/**
 * True when `metadata` has every key of `filter` with a JSON-equal value: the
 * reference semantics of `listHistory`'s `filter`, for backends that filter in memory.
 */
export function matchesMetadataFilter(metadata: JsonObject, filter: JsonObject): boolean {
  for (const key of Object.keys(filter)) {
    if (!Object.hasOwn(metadata, key) || !jsonEquals(metadata[key], filter[key])) return false;
  }
  return true;
}

/** Order pending writes by (taskPath, taskId, idx), strings in code-point order. */
export function comparePendingWrites(
  a: { taskPath: string; taskId: string; idx: number },
  b: { taskPath: string; taskId: string; idx: number },
): number {
  return (
    compareCodePoints(a.taskPath, b.taskPath) ||
    compareCodePoints(a.taskId, b.taskId) ||
    a.idx - b.idx
  );
}

// ---------------------------------------------------------------------------------
// The adapter kit's side: what a backend implements, and the wrapper that turns it
// into the public contract.

/** A checkpoint as the driver stores it: validated, the state and metadata encoded. */
export interface CheckpointRecord {
  readonly key: ThreadKey;
  readonly ns: string;
  readonly id: CheckpointId;
  readonly parentId: CheckpointId | null;
  readonly step: number;
  readonly nextNode: string | null;
  readonly metadata: JsonObject;
  /** `metadata` as JSON text. */
  readonly metadataJson: string;
  /** The state's envelope text. */
  readonly payload: string;
  readonly createdAt: Date;
  /**
   * Pending writes for the parent (in `ns`), to store in the same atomic step; empty
   * when the put carries none, and then `parentId` may be `null`. At most one write per
   * (taskId, idx).
   */
  readonly parentWrites: readonly ParentWriteRecord[];
}

/** One pending write of a put's parent, as the driver stores it. */
export interface ParentWriteRecord extends PendingWriteRecord {
  readonly taskId: string;
  readonly taskPath: string;
}

/** What `updateState` hands the driver: the driver takes step and nextNode from the parent. */
export interface CheckpointFork {
  readonly key: ThreadKey;
  readonly ns: string;
  readonly parentId: CheckpointId;
  /** The new checkpoint's id. */
  readonly id: CheckpointId;
  readonly metadata: JsonObject;
  readonly metadataJson: string;
  readonly payload: string;
  readonly createdAt: Date;
}

/** A checkpoint as a driver reads it back. The kit checks and decodes every field. */
export interface CheckpointRow {
  readonly tenantId: unknown;
  readonly threadId: unknown;
  readonly ns: unknown;
  readonly id: unknown;
  readonly parentId: unknown;
  readonly step: unknown;
  readonly nextNode: unknown;
  /** JSON text, or the object a driver parsed already. */
  readonly metadata: unknown;
  /** The state's envelope text. */
  readonly payload: unknown;
  /** A `Date` or epoch milliseconds. */
  readonly createdAt: unknown;
  /** The checkpoint's pending writes, in any order. */
  readonly writes: readonly PendingWriteRow[];
}

/** A pending write as a driver reads it back. */
export interface PendingWriteRow {
  readonly taskId: unknown;
  readonly taskPath: unknown;
  readonly idx: unknown;
  readonly channel: unknown;
  /** The value's envelope text. */
  readonly payload: unknown;
}

/** One pending write as the driver stores it. */
export interface PendingWriteRecord {
  readonly idx: number;
  readonly channel: string;
  /** The value's envelope text. */
  readonly payload: string;
}

/** The checkpoint and task of a `putWrites` batch, validated. */
export interface PendingWriteBatchTarget {
  readonly checkpointId: CheckpointId;
  readonly ns: string;
  readonly taskId: string;
  readonly taskPath: string;
}

/** A validated `listHistory` query. */
export interface HistoryQuery {
  readonly limit: number;
  readonly ns: string | undefined;
  readonly before: CheckpointId | undefined;
  /** Never empty: `{}` reaches the driver as `undefined`. */
  readonly filter: JsonObject | undefined;
}

/**
 * The storage operations of a checkpointer. Every argument is validated and encoded;
 * each write carries the fence to check in the same atomic step. A driver throws
 * `ConflictError`, `NotFoundError` and `FencedError` where the contract says, and
 * wraps its own failures with `toBackendError`.
 */
export interface CheckpointerDriver {
  /**
   * Insert; `ConflictError` if (key, ns, id) exists. Assigns the thread's next write
   * position. With `parentWrites`, first `NotFoundError` if the parent is not in (key,
   * ns), then the writes are attached to the parent as `putWrites` attaches them, all in
   * one atomic step with the insert: nothing is written when any check fails.
   */
  put(record: CheckpointRecord, call: DriverWrite): Promise<void>;
  /** The last checkpoint written in `ns`, with its writes. */
  getLatest(key: ThreadKey, ns: string, call: DriverCall): Promise<CheckpointRow | undefined>;
  getById(
    key: ThreadKey,
    ns: string,
    id: CheckpointId,
    call: DriverCall,
  ): Promise<CheckpointRow | undefined>;
  /**
   * Newest first; `filter` applied before `limit`. `NotFoundError` when `before` is
   * not a checkpoint of the thread (in any namespace).
   */
  listHistory(key: ThreadKey, query: HistoryQuery, call: DriverCall): Promise<CheckpointRow[]>;
  /** Write the fork; `NotFoundError` if the parent is not in (key, ns). */
  fork(fork: CheckpointFork, call: DriverWrite): Promise<void>;
  /** Every namespace and pending write; returns the number of checkpoints. */
  deleteThread(key: ThreadKey, call: DriverWrite): Promise<number>;
  /**
   * `NotFoundError` if the checkpoint does not exist. The batch holds at most one
   * write per idx: insert it if absent (`idx >= 0`), or replace it (`idx < 0`).
   */
  putWrites(
    key: ThreadKey,
    target: PendingWriteBatchTarget,
    writes: readonly PendingWriteRecord[],
    call: DriverWrite,
  ): Promise<void>;
  /** Delete all but the newest `keepLatest` of each namespace (or of `ns`), with their writes. */
  prune(
    key: ThreadKey,
    keep: { keepLatest: number; ns: string | undefined },
    call: DriverWrite,
  ): Promise<number>;
  /** Thread ids holding a checkpoint, code-point order, after `after`, at most `limit`. */
  listThreads(
    tenantId: TenantId,
    page: { limit: number; after: string | undefined },
    call: DriverCall,
  ): Promise<string[]>;
}

/** What the kit needs besides the driver: the backend's name and the payload formats. */
export interface CheckpointerFormats<S, W> {
  readonly backend: string;
  readonly states: PayloadFormat<S>;
  readonly writes: PayloadFormat<W>;
}

/**
 * Build the public {@link Checkpointer} over a driver. Every method checks its call in
 * one order (see the adapter guide): the positional arguments, then the options
 * (identifiers and the fence first), then encodes payloads, then the signal, and only
 * then calls the driver; what the driver returns is checked and decoded here.
 */
export function createCheckpointer<S, W = unknown>(
  driver: CheckpointerDriver,
  formats: CheckpointerFormats<S, W>,
): Checkpointer<S, W> {
  const { backend, states, writes: writeFormat } = formats;
  const read = (options: unknown, what: string): { ns: string; call: DriverCall } => {
    const opts = readOptions<CheckpointReadOptions>(options, what);
    const ns = opts.ns === undefined ? '' : validatePath(opts.ns, 'ns');
    return { ns, call: startCall(readSignal(opts.signal), backend) };
  };
  const decodeAll = (rows: readonly CheckpointRow[], key: ThreadKey) =>
    rows.map((row) => decodeCheckpoint(row, key, states, writeFormat, backend));

  return {
    create: (input) => Checkpoint.create(input),

    async put(checkpoint, options) {
      const cp = Checkpoint.validate<S>(checkpoint);
      const opts = readOptions<PutOptions<W>>(options, 'put options');
      const parentInputs = readParentWrites(opts.parentWrites);
      const write = readWriteCall(opts, cp.key.tenantId, backend, 'put options');
      if (parentInputs.length > 0 && cp.parentId === null) {
        throw new ConfigError('parentWrites need a checkpoint with a parentId');
      }
      const parentWrites = parentInputs.map(
        (input): ParentWriteRecord => ({
          taskId: input.taskId,
          taskPath: input.taskPath,
          idx: input.idx,
          channel: input.channel,
          payload: writeFormat.encode(input.value as W),
        }),
      );
      const record: CheckpointRecord = {
        key: cp.key,
        ns: cp.ns,
        id: cp.id,
        parentId: cp.parentId,
        step: cp.step,
        nextNode: cp.nextNode,
        metadata: cp.metadata,
        metadataJson: JSON.stringify(cp.metadata),
        payload: states.encode(cp.state),
        createdAt: cp.createdAt,
        parentWrites,
      };
      await driver.put(record, startWrite(write, backend));
    },

    async getLatest(key, options) {
      const threadKey = ThreadKey.from(key);
      const { ns, call } = read(options, 'getLatest options');
      const row = await driver.getLatest(threadKey, ns, call);
      return row === undefined
        ? undefined
        : decodeCheckpoint(row, threadKey, states, writeFormat, backend);
    },

    async getById(key, id, options) {
      const threadKey = ThreadKey.from(key);
      const checkpointId = CheckpointId.parse(id);
      const { ns, call } = read(options, 'getById options');
      const row = await driver.getById(threadKey, ns, checkpointId, call);
      return row === undefined
        ? undefined
        : decodeCheckpoint(row, threadKey, states, writeFormat, backend);
    },

    async listHistory(key, options) {
      const threadKey = ThreadKey.from(key);
      const opts = readOptions<ListHistoryOptions>(options, 'listHistory options');
      const ns = opts.ns === undefined ? undefined : validatePath(opts.ns, 'ns');
      const before = opts.before === undefined ? undefined : CheckpointId.parse(opts.before);
      const limit = assertPositiveInteger(opts.limit, 'limit');
      const filter = readJsonObject(opts.filter, 'filter');
      const call = startCall(readSignal(opts.signal), backend);
      const query: HistoryQuery = {
        limit,
        ns,
        before,
        filter: filter === undefined || Object.keys(filter).length === 0 ? undefined : filter,
      };
      return decodeAll(await driver.listHistory(threadKey, query, call), threadKey);
    },

    async updateState(key, parentId, state, options) {
      const threadKey = ThreadKey.from(key);
      const parent = CheckpointId.parse(parentId);
      const opts = readOptions<UpdateStateOptions>(options, 'updateState options');
      const ns = opts.ns === undefined ? '' : validatePath(opts.ns, 'ns');
      const write = readWriteCall(opts, threadKey.tenantId, backend, 'updateState options');
      const metadata = readJsonObject(opts.metadata, 'metadata') ?? {};
      const payload = states.encode(state);
      const id = CheckpointId.create();
      await driver.fork(
        {
          key: threadKey,
          ns,
          parentId: parent,
          id,
          metadata,
          metadataJson: JSON.stringify(metadata),
          payload,
          createdAt: new Date(),
        },
        startWrite(write, backend),
      );
      return id;
    },

    async deleteThread(key, options) {
      const threadKey = ThreadKey.from(key);
      const write = readWriteCall(options, threadKey.tenantId, backend, 'deleteThread options');
      return expectCount(await driver.deleteThread(threadKey, startWrite(write, backend)), backend);
    },

    async putWrites(key, target, writes, options) {
      const threadKey = ThreadKey.from(key);
      const batchTarget = readWriteTarget(target);
      const inputs = readPendingWrites(writes);
      const write = readWriteCall(options, threadKey.tenantId, backend, 'putWrites options');
      const records = firstAndLastWins(inputs).map(
        (input): PendingWriteRecord => ({
          idx: input.idx,
          channel: input.channel,
          payload: writeFormat.encode(input.value as W),
        }),
      );
      const call = startWrite(write, backend);
      if (records.length === 0) return;
      await driver.putWrites(threadKey, batchTarget, records, call);
    },

    async prune(key, options) {
      const threadKey = ThreadKey.from(key);
      const opts = readOptions<PruneOptions>(options, 'prune options');
      const ns = opts.ns === undefined ? undefined : validatePath(opts.ns, 'ns');
      const write = readWriteCall(opts, threadKey.tenantId, backend, 'prune options');
      const keepLatest = assertNonNegativeInteger(opts.keepLatest, 'keepLatest');
      return expectCount(
        await driver.prune(threadKey, { keepLatest, ns }, startWrite(write, backend)),
        backend,
      );
    },

    async listThreads(tenantId, options) {
      const tenant = TenantId.parse(tenantId);
      const page = readListThreadsOptions(options);
      const call = startCall(page.signal, backend);
      const threads = await driver.listThreads(tenant, page, call);
      return readThreadIds(threads, page, backend);
    },
  };
}

/** Validated `listThreads` options, shared by the checkpointer and the session log. */
export function readListThreadsOptions(options: unknown): {
  limit: number;
  after: string | undefined;
  signal: AbortSignal | undefined;
} {
  const opts = readOptions<ListThreadsOptions>(options, 'listThreads options');
  const after = opts.after === undefined ? undefined : validateId(opts.after, 'after');
  return {
    limit: assertPositiveInteger(opts.limit, 'limit'),
    after,
    signal: readSignal(opts.signal),
  };
}

/** Thread ids a driver listed for `page`, checked. */
export function readThreadIds(
  threads: unknown,
  page: PageQuery<string>,
  backend: string,
): ThreadId[] {
  if (!Array.isArray(threads)) {
    throw new CorruptRecordError('listThreads did not return an array', { backend });
  }
  const ids = threads.map((thread) => {
    try {
      return validateId(thread, 'thread id') as ThreadId;
    } catch (error) {
      throw new CorruptRecordError('a stored thread id is malformed', { cause: error, backend });
    }
  });
  if (!isOrderedPage<string>(ids, page, compareCodePoints)) {
    throw new CorruptRecordError(
      'listThreads returned thread ids out of order, after the limit or not after the cursor',
      { backend },
    );
  }
  return ids;
}

function readWriteTarget(target: unknown): PendingWriteBatchTarget {
  if (typeof target !== 'object' || target === null || Array.isArray(target)) {
    throw new ConfigError(`putWrites target must be an object, got ${describeValue(target)}`);
  }
  const t = target as Record<string, unknown>;
  return {
    checkpointId: CheckpointId.parse(t.checkpointId),
    ns: t.ns === undefined ? '' : validatePath(t.ns, 'ns'),
    taskId: validateId(t.taskId, 'taskId'),
    taskPath: t.taskPath === undefined ? '' : validatePath(t.taskPath, 'taskPath'),
  };
}

function readPendingWrites(
  writes: unknown,
  what = 'writes',
): { idx: number; channel: string; value: unknown }[] {
  if (!Array.isArray(writes)) {
    throw new ConfigError(`${what} must be an array, got ${describeValue(writes)}`);
  }
  return writes.map((write, i) => {
    if (typeof write !== 'object' || write === null || Array.isArray(write)) {
      throw new ConfigError(`${what}[${i}] must be an object, got ${describeValue(write)}`);
    }
    const w = write as Record<string, unknown>;
    const channel = validateChannel(w.channel, `${what}[${i}].channel`);
    if (typeof w.idx !== 'number' || !Number.isSafeInteger(w.idx)) {
      throw new ConfigError(
        `${what}[${i}].idx must be a safe integer, got ${describeValue(w.idx)}`,
      );
    }
    return { idx: w.idx, channel, value: w.value };
  });
}

/**
 * A put's `parentWrites`, flattened to one write per (taskId, idx): batches of one task
 * resolve their repeats as consecutive `putWrites` calls would.
 */
function readParentWrites(
  batches: unknown,
): { taskId: string; taskPath: string; idx: number; channel: string; value: unknown }[] {
  if (batches === undefined) return [];
  if (!Array.isArray(batches)) {
    throw new ConfigError(`parentWrites must be an array, got ${describeValue(batches)}`);
  }
  const flat = batches.flatMap((batch, i) => {
    const what = `parentWrites[${i}]`;
    if (typeof batch !== 'object' || batch === null || Array.isArray(batch)) {
      throw new ConfigError(`${what} must be an object, got ${describeValue(batch)}`);
    }
    const b = batch as Record<string, unknown>;
    const taskId = validateId(b.taskId, `${what}.taskId`);
    const taskPath = b.taskPath === undefined ? '' : validatePath(b.taskPath, `${what}.taskPath`);
    return readPendingWrites(b.writes, `${what}.writes`).map((write) => ({
      taskId,
      taskPath,
      ...write,
    }));
  });
  // Map.groupBy needs Node 21.
  const byTask = new Map<string, typeof flat>();
  for (const write of flat) {
    const writes = byTask.get(write.taskId);
    if (writes === undefined) byTask.set(write.taskId, [write]);
    else writes.push(write);
  }
  return [...byTask.values()].flatMap((writes) => firstAndLastWins(writes));
}

/**
 * One write per idx, as the contract resolves repeats inside a batch: the first for
 * `idx >= 0`, the last for `idx < 0`. Order of first appearance is kept.
 */
function firstAndLastWins<T extends { idx: number }>(writes: readonly T[]): T[] {
  const byIdx = new Map<number, T>();
  for (const write of writes) {
    if (write.idx >= 0 && byIdx.has(write.idx)) continue;
    byIdx.set(write.idx, write);
  }
  return [...byIdx.values()];
}

function expectCount(count: unknown, backend: string): number {
  if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) {
    throw new CorruptRecordError(`the backend returned ${describeValue(count)} as a count`, {
      backend,
    });
  }
  return count;
}

function corrupt(what: string, backend: string, cause?: unknown): CorruptRecordError {
  return new CorruptRecordError(`stored checkpoint ${what}`, { cause, backend });
}

/** Check and decode one row a driver read for `key`. */
function decodeCheckpoint<S, W>(
  row: CheckpointRow,
  key: ThreadKey,
  states: PayloadFormat<S>,
  writes: PayloadFormat<W>,
  backend: string,
): SavedCheckpoint<S, W> {
  assertRowTenant(row.tenantId, key, backend);
  if (row.threadId !== key.threadId) throw corrupt('belongs to another thread', backend);
  let id: CheckpointId;
  let parentId: CheckpointId | null;
  try {
    id = CheckpointId.parse(row.id);
    parentId = row.parentId == null ? null : CheckpointId.parse(row.parentId);
  } catch (error) {
    throw corrupt('has a malformed id', backend, error);
  }
  const { step, ns, nextNode, payload } = row;
  if (typeof step !== 'number' || !Number.isSafeInteger(step) || step < 0) {
    throw corrupt('has a malformed step', backend);
  }
  if (typeof ns !== 'string') throw corrupt('has a malformed ns', backend);
  if (nextNode !== null && typeof nextNode !== 'string') {
    throw corrupt('has a malformed nextNode', backend);
  }
  if (typeof payload !== 'string') throw corrupt('state is not text', backend);
  return {
    id,
    key,
    ns,
    parentId,
    step,
    state: states.decode(payload),
    nextNode,
    metadata: decodeMetadata(row.metadata, backend),
    createdAt: decodeDate(row.createdAt, backend, 'checkpoint createdAt'),
    pendingWrites: decodeWrites(row.writes, writes, backend),
  };
}

function decodeMetadata(metadata: unknown, backend: string): JsonObject {
  let parsed = metadata;
  if (typeof metadata === 'string') {
    try {
      parsed = JSON.parse(metadata);
    } catch (error) {
      throw corrupt('metadata is not JSON', backend, error);
    }
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw corrupt('metadata is not an object', backend);
  }
  return parsed as JsonObject;
}

function decodeWrites<W>(
  rows: readonly PendingWriteRow[] | undefined,
  format: PayloadFormat<W>,
  backend: string,
): PendingWrite<W>[] {
  if (rows === undefined || rows.length === 0) return [];
  const decoded = rows.map((row): PendingWrite<W> => {
    const { taskId, taskPath, idx, channel, payload } = row;
    if (
      typeof taskId !== 'string' ||
      typeof taskPath !== 'string' ||
      typeof channel !== 'string' ||
      typeof idx !== 'number' ||
      !Number.isSafeInteger(idx) ||
      typeof payload !== 'string'
    ) {
      throw new CorruptRecordError('stored pending write is malformed', { backend });
    }
    return { taskId, taskPath, idx, channel, value: format.decode(payload) };
  });
  return decoded.sort(comparePendingWrites);
}

/** A stored timestamp (a `Date` or epoch milliseconds) as a valid `Date`. */
export function decodeDate(value: unknown, backend: string, what: string): Date {
  // A copy even of a Date: what a read returns must not share state with the driver.
  const ms =
    typeof value === 'number' ? value : value instanceof Date ? value.getTime() : Number.NaN;
  const date = new Date(ms);
  if (Number.isNaN(date.getTime())) {
    throw new CorruptRecordError(`stored ${what} is not a timestamp`, { backend });
  }
  return date;
}
