import {
  ConflictError,
  type JsonObject,
  type JsonValue,
  Namespace,
  NotFoundError,
  type Persistence,
  type ThreadKey,
} from '@entelix/core';
import {
  assertNewestFence,
  type CheckpointerDriver,
  type CheckpointRow,
  compareCodePoints,
  compareStoreItems,
  createPersistence,
  expectedHeadConflict,
  type LockDriver,
  lockKeyOf,
  matchesMetadataFilter,
  matchesStoreFilter,
  type PersistenceDriver,
  parseEnvelope,
  type SessionLogDriver,
  type StoreDriver,
  type StoreFilterCondition,
  type StoreItemRow,
  selectNamespaceScopes,
  startsWithScope,
  type VerifiedFence,
} from '@entelix/core/adapter';

/**
 * A bug planted in the reference adapter, one per run: each is a mistake a real
 * backend could make, and the conformance suite must catch every one.
 */
export type Flaw =
  // checkpoints
  | 'latest-by-step'
  | 'put-overwrites'
  | 'shares-tenants'
  | 'before-in-own-namespace'
  | 'before-last-written'
  | 'filter-after-limit'
  | 'filter-by-containment'
  | 'prune-miscounts'
  | 'prune-per-thread'
  | 'threads-across-tenants'
  | 'threads-in-utf16-order'
  | 'gathered-reads-by-position'
  | 'gathered-gets-by-position'
  | 'gathered-events-by-position'
  // pending writes
  | 'writes-last-wins'
  | 'negative-writes-first-win'
  | 'history-without-writes'
  | 'writes-by-task'
  | 'racy-pending-writes'
  | 'orphan-writes'
  | 'put-before-parent-check'
  | 'put-drops-parent-writes'
  // store
  | 'glob-prefix'
  | 'search-prefix-not-segment'
  | 'search-includes-expired'
  | 'null-operand-as-sql-null'
  | 'get-many-in-storage-order'
  | 'ttl-from-created-at'
  // session log
  | 'reuses-ordinals'
  | 'racy-appends'
  | 'ignores-expected-head'
  | 'racy-expected-head'
  | 'conflict-creates-thread'
  | 'truncate-moves-head'
  | 'delete-keeps-head'
  | 'latest-events-descending'
  // lock and fences
  | 'no-lock-exclusion'
  | 'ignores-fence'
  // purge
  | 'purge-leaves-events'
  | 'purge-resets-fences'
  | 'purge-by-prefix'
  | 'purge-keeps-heads'
  // hand-written paths around the kit
  | 'accepts-empty-tenant'
  | 'lenient-codec'
  | 'ignores-abort'
  | 'cached-reads';

interface CheckpointRecord {
  tenantId: string;
  threadId: string;
  ns: string;
  id: string;
  parentId: string | null;
  step: number;
  nextNode: string | null;
  metadataJson: string;
  payload: string;
  createdAtMs: number;
  /** The write order, one sequence for the whole storage. */
  seq: number;
}

interface WriteRecord {
  tenantId: string;
  threadId: string;
  ns: string;
  checkpointId: string;
  taskId: string;
  taskPath: string;
  idx: number;
  channel: string;
  payload: string;
}

interface ItemRecord {
  tenantId: string;
  scope: string[];
  key: string;
  payload: string;
  createdAtMs: number;
  updatedAtMs: number;
  expiresAtMs: number | null;
}

interface EventRecord {
  tenantId: string;
  threadId: string;
  seq: number;
  payload: string;
  appendedAtMs: number;
}

/**
 * The reference adapter's storage: flat tables, as a SQL backend would keep them,
 * shared by every bundle created over it.
 */
export interface FakeStorage {
  nextSeq: number;
  checkpoints: CheckpointRecord[];
  writes: WriteRecord[];
  /** By `JSON.stringify([tenant, scope, key])`. */
  items: Map<string, ItemRecord>;
  /** Session heads by `JSON.stringify([tenant, thread])`; kept forever. */
  heads: Map<string, { tenantId: string; threadId: string; head: number }>;
  events: EventRecord[];
  leases: Map<string, { fence: bigint; expiresAtMs: number }>;
  /** The newest fence per lock key, with the tenant it belongs to; never deleted. */
  fences: Map<string, { tenantId: string; fence: bigint }>;
}

export function createFakeStorage(): FakeStorage {
  return {
    nextSeq: 1,
    checkpoints: [],
    writes: [],
    items: new Map(),
    heads: new Map(),
    events: [],
    leases: new Map(),
    fences: new Map(),
  };
}

/** Every table, rendered deterministically: what the suite compares around refused calls. */
export function snapshotFakeStorage(storage: FakeStorage): string {
  return JSON.stringify(storage, (_key, value) => {
    if (value instanceof Map) return [...value.entries()];
    if (typeof value === 'bigint') return `${value}n`;
    return value;
  });
}

const BACKEND = 'fake';

// One round trip to a server: where a racy implementation lets other calls in.
const roundTrip = () => new Promise((resolve) => setTimeout(resolve, 1));

/** JSON containment, the `@>` of Postgres: what a metadata filter must not be. */
function contains(value: JsonValue | undefined, wanted: JsonValue | undefined): boolean {
  if (Array.isArray(wanted)) {
    return Array.isArray(value) && wanted.every((w) => value.some((v) => contains(v, w)));
  }
  if (typeof wanted === 'object' && wanted !== null) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
    return Object.entries(wanted).every(([k, w]) => contains(value[k], w));
  }
  return value === wanted;
}

/**
 * A small adapter on the kit (`createPersistence` with one driver per contract), kept
 * independent of the memory package. Correct unless given a flaw.
 */
export function createFakePersistence(storage: FakeStorage, flaw?: Flaw): Persistence {
  const has = (candidate: Flaw) => flaw === candidate;
  const checkFence = (fence: VerifiedFence | undefined) => {
    if (fence === undefined || has('ignores-fence')) return;
    assertNewestFence(fence, storage.fences.get(fence.lockKey)?.fence ?? 0n, BACKEND);
  };
  const driver: PersistenceDriver = {
    backend: BACKEND,
    capabilities: { multiProcess: false, rls: false, ttl: true, fencing: true },
    checkpointer: checkpointerDriver(storage, has, checkFence),
    store: storeDriver(storage, has, checkFence),
    sessionLog: sessionLogDriver(storage, has, checkFence),
    lock: lockDriver(storage, has),
    async purgeTenant(tenantId) {
      const ofTenant = (row: { tenantId: string }) =>
        has('purge-by-prefix') ? row.tenantId.startsWith(tenantId) : row.tenantId === tenantId;
      const checkpoints = storage.checkpoints.filter(ofTenant).length;
      storage.checkpoints = storage.checkpoints.filter((row) => !ofTenant(row));
      const writes = storage.writes.filter(ofTenant).length;
      storage.writes = storage.writes.filter((row) => !ofTenant(row));
      let storeItems = 0;
      for (const [name, item] of storage.items) {
        if (!ofTenant(item)) continue;
        storage.items.delete(name);
        storeItems++;
      }
      let events = 0;
      if (!has('purge-leaves-events')) {
        events = storage.events.filter(ofTenant).length;
        storage.events = storage.events.filter((row) => !ofTenant(row));
      }
      // One past, so an append conditional on a head read before the purge is refused.
      if (!has('purge-keeps-heads')) {
        for (const thread of storage.heads.values()) if (ofTenant(thread)) thread.head += 1;
      }
      for (const [lockKey, counter] of storage.fences) {
        if (!ofTenant(counter)) continue;
        storage.leases.delete(lockKey);
        // Past every lease granted so far, so none of them passes fencing again.
        if (has('purge-resets-fences')) storage.fences.delete(lockKey);
        else counter.fence += 1n;
      }
      return { checkpoints, writes, storeItems, events };
    },
    async close() {},
  };
  return bypassKit(createPersistence(driver), driver, flaw);
}

function checkpointerDriver(
  storage: FakeStorage,
  has: (flaw: Flaw) => boolean,
  checkFence: (fence: VerifiedFence | undefined) => void,
): CheckpointerDriver {
  const onThread = (key: ThreadKey) => (row: { tenantId: string; threadId: string }) =>
    (has('shares-tenants') || row.tenantId === key.tenantId) && row.threadId === key.threadId;
  const threadRows = (key: ThreadKey) => storage.checkpoints.filter(onThread(key));
  const find = (key: ThreadKey, ns: string, id: string) =>
    threadRows(key).find((row) => row.ns === ns && row.id === id);
  const writesOf = (row: CheckpointRecord) =>
    storage.writes.filter(
      (w) =>
        w.tenantId === row.tenantId &&
        w.threadId === row.threadId &&
        w.ns === row.ns &&
        w.checkpointId === row.id,
    );
  const toRow = (row: CheckpointRecord, withWrites = true): CheckpointRow => ({
    tenantId: row.tenantId,
    threadId: row.threadId,
    ns: row.ns,
    id: row.id,
    parentId: row.parentId,
    step: row.step,
    nextNode: row.nextNode,
    metadata: row.metadataJson,
    payload: row.payload,
    createdAt: row.createdAtMs,
    writes: withWrites ? writesOf(row) : [],
  });
  const insert = (key: ThreadKey, row: Omit<CheckpointRecord, 'tenantId' | 'threadId' | 'seq'>) => {
    storage.checkpoints.push({
      ...row,
      tenantId: key.tenantId,
      threadId: key.threadId,
      seq: storage.nextSeq++,
    });
  };
  const remove = (doomed: readonly CheckpointRecord[]) => {
    const gone = new Set(doomed);
    storage.checkpoints = storage.checkpoints.filter((row) => !gone.has(row));
    storage.writes = storage.writes.filter(
      (w) =>
        !doomed.some(
          (row) =>
            w.tenantId === row.tenantId &&
            w.threadId === row.threadId &&
            w.ns === row.ns &&
            w.checkpointId === row.id,
        ),
    );
  };
  type Attached = { ns: string; checkpointId: string };
  type TaskedWrite = Omit<WriteRecord, 'tenantId' | 'threadId' | 'ns' | 'checkpointId'>;
  const storeWrite = (key: ThreadKey, at: Attached, write: TaskedWrite) => {
    storage.writes.push({ ...write, tenantId: key.tenantId, threadId: key.threadId, ...at });
  };
  /** Attach writes to an existing checkpoint: first wins for idx >= 0, last for idx < 0. */
  const attachWrites = async (key: ThreadKey, at: Attached, writes: readonly TaskedWrite[]) => {
    const slot = (write: TaskedWrite) => (w: WriteRecord) =>
      w.tenantId === key.tenantId &&
      w.threadId === key.threadId &&
      w.ns === at.ns &&
      w.checkpointId === at.checkpointId &&
      w.taskId === write.taskId &&
      w.idx === write.idx;
    const taken = writes.map((write) => storage.writes.some(slot(write)));
    if (has('racy-pending-writes')) await roundTrip();
    for (const [i, write] of writes.entries()) {
      const replaces = write.idx < 0 ? !has('negative-writes-first-win') : has('writes-last-wins');
      if (taken[i] && !replaces) continue;
      if (taken[i]) storage.writes = storage.writes.filter((w) => !slot(write)(w));
      storeWrite(key, at, write);
    }
  };
  // The reads of one turn, answered together by the 'gathered-reads-by-position' flaw.
  const gathered = answeredByPosition((x: CheckpointRecord, y: CheckpointRecord) => x.seq - y.seq);
  const answer = async (findRow: () => CheckpointRecord | undefined) => {
    const row = has('gathered-reads-by-position') ? await gathered(findRow) : findRow();
    return row === undefined ? undefined : toRow(row);
  };
  const metadataMatches = (row: CheckpointRecord, filter: JsonObject) => {
    const metadata = JSON.parse(row.metadataJson) as JsonObject;
    return has('filter-by-containment')
      ? contains(metadata, filter)
      : matchesMetadataFilter(metadata, filter);
  };

  return {
    async put(record, call) {
      checkFence(call.fence);
      const withWrites = record.parentWrites.length > 0 && record.parentId !== null;
      const parentMissing =
        withWrites && find(record.key, record.ns, record.parentId as string) === undefined;
      const refuseMissingParent = () => {
        throw new NotFoundError(`parent checkpoint ${record.parentId} is not on this thread`, {
          backend: BACKEND,
        });
      };
      if (parentMissing && !has('put-before-parent-check')) refuseMissingParent();
      const existing = find(record.key, record.ns, record.id);
      if (existing !== undefined && !has('put-overwrites')) {
        throw new ConflictError(`checkpoint ${record.id} exists`, { backend: BACKEND });
      }
      if (existing !== undefined) remove([existing]);
      insert(record.key, {
        ns: record.ns,
        id: record.id,
        parentId: record.parentId,
        step: record.step,
        nextNode: record.nextNode,
        metadataJson: record.metadataJson,
        payload: record.payload,
        createdAtMs: record.createdAt.getTime(),
      });
      if (parentMissing) refuseMissingParent();
      if (withWrites && !has('put-drops-parent-writes')) {
        const at = { ns: record.ns, checkpointId: record.parentId as string };
        await attachWrites(record.key, at, record.parentWrites);
      }
    },

    async getLatest(key, ns) {
      return answer(() => {
        const rows = threadRows(key).filter((row) => row.ns === ns);
        return has('latest-by-step')
          ? rows.sort((x, y) => y.step - x.step)[0]
          : rows[rows.length - 1];
      });
    },

    async getById(key, ns, id) {
      return answer(() => find(key, ns, id));
    },

    async listHistory(key, query) {
      let rows = threadRows(key).reverse();
      if (query.before !== undefined) {
        // Oldest first: the first written of the checkpoints sharing the id.
        const anchor = (has('before-last-written') ? rows : [...rows].reverse()).find(
          (row) =>
            row.id === query.before &&
            (!has('before-in-own-namespace') || query.ns === undefined || row.ns === query.ns),
        );
        if (anchor === undefined) {
          throw new NotFoundError(`checkpoint ${query.before} is not on this thread`, {
            backend: BACKEND,
          });
        }
        rows = rows.filter((row) => row.seq < anchor.seq);
      }
      if (query.ns !== undefined) rows = rows.filter((row) => row.ns === query.ns);
      const { filter } = query;
      if (has('filter-after-limit')) rows = rows.slice(0, query.limit);
      if (filter !== undefined) rows = rows.filter((row) => metadataMatches(row, filter));
      return rows.slice(0, query.limit).map((row) => toRow(row, !has('history-without-writes')));
    },

    async fork(fork, call) {
      checkFence(call.fence);
      const parent = find(fork.key, fork.ns, fork.parentId);
      if (parent === undefined) {
        throw new NotFoundError(`parent ${fork.parentId} is not on this thread`, {
          backend: BACKEND,
        });
      }
      insert(fork.key, {
        ns: fork.ns,
        id: fork.id,
        parentId: fork.parentId,
        step: parent.step + 1,
        nextNode: parent.nextNode,
        metadataJson: fork.metadataJson,
        payload: fork.payload,
        createdAtMs: fork.createdAt.getTime(),
      });
    },

    async deleteThread(key, call) {
      checkFence(call.fence);
      const rows = threadRows(key);
      remove(rows);
      return rows.length;
    },

    async putWrites(key, target, writes, call) {
      checkFence(call.fence);
      const { taskId, taskPath } = target;
      const tasked = writes.map((write) => ({ ...write, taskId, taskPath }));
      const at = { ns: target.ns, checkpointId: target.checkpointId };
      if (has('orphan-writes')) for (const write of tasked) storeWrite(key, at, write);
      if (find(key, target.ns, target.checkpointId) === undefined) {
        throw new NotFoundError(`checkpoint ${target.checkpointId} is not on this thread`, {
          backend: BACKEND,
        });
      }
      if (has('orphan-writes')) return;
      await attachWrites(key, at, tasked);
    },

    async prune(key, keep, call) {
      checkFence(call.fence);
      const rows = threadRows(key)
        .filter((row) => keep.ns === undefined || row.ns === keep.ns)
        .reverse();
      const keptPerNs = new Map<string, number>();
      const doomed: CheckpointRecord[] = [];
      for (const row of rows) {
        const scope = has('prune-per-thread') ? '' : row.ns;
        const kept = keptPerNs.get(scope) ?? 0;
        if (kept < keep.keepLatest) keptPerNs.set(scope, kept + 1);
        else doomed.push(row);
      }
      remove(doomed);
      return has('prune-miscounts') ? rows.length - doomed.length : doomed.length;
    },

    async listThreads(tenantId, page) {
      const ofTenant = (row: CheckpointRecord) =>
        has('threads-across-tenants')
          ? row.tenantId.startsWith(tenantId)
          : row.tenantId === tenantId;
      const threads = [...new Set(storage.checkpoints.filter(ofTenant).map((row) => row.threadId))];
      if (has('threads-in-utf16-order')) threads.sort();
      else threads.sort(compareCodePoints);
      const after = page.after;
      return threads
        .filter((thread) => after === undefined || compareCodePoints(thread, after) > 0)
        .slice(0, page.limit);
    },
  };
}

function storeDriver(
  storage: FakeStorage,
  has: (flaw: Flaw) => boolean,
  checkFence: (fence: VerifiedFence | undefined) => void,
): StoreDriver {
  const nameOf = (ns: Namespace, key: string) => JSON.stringify([ns.tenantId, ns.scope, key]);
  const isLive = (item: ItemRecord, atMs = Date.now()) =>
    item.expiresAtMs === null || item.expiresAtMs > atMs;
  const live = (ns: Namespace, key: string) => {
    const item = storage.items.get(nameOf(ns, key));
    return item !== undefined && isLive(item) ? item : undefined;
  };
  // The gets of one turn, answered together by the 'gathered-gets-by-position' flaw.
  const gathered = answeredByPosition((x: ItemRecord, y: ItemRecord) => {
    const order = [...storage.items.values()];
    return order.indexOf(x) - order.indexOf(y);
  });
  const toRow = (item: ItemRecord): StoreItemRow => ({
    tenantId: item.tenantId,
    payload: item.payload,
    createdAt: item.createdAtMs,
    updatedAt: item.updatedAtMs,
    expiresAt: item.expiresAtMs,
  });
  const ofNamespace = (ns: Namespace) =>
    [...storage.items.values()].filter(
      (item) =>
        item.tenantId === ns.tenantId &&
        item.scope.length === ns.scope.length &&
        item.scope.every((part, i) => part === ns.scope[i]),
    );
  // What a LIKE pattern built from an unescaped prefix matches.
  const likePrefix = (key: string, prefix: string) =>
    new RegExp(
      `^${[...prefix]
        .map((ch) =>
          ch === '%' ? '.*' : ch === '_' ? '.' : ch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
        )
        .join('')}`,
      'su',
    ).test(key);

  return {
    async put(ns, key, payload, ttlMs, call) {
      checkFence(call.fence);
      const atMs = Date.now();
      const existing = live(ns, key);
      const createdAtMs = existing?.createdAtMs ?? atMs;
      const expiresFromMs = has('ttl-from-created-at') ? createdAtMs : atMs;
      storage.items.set(nameOf(ns, key), {
        tenantId: ns.tenantId,
        scope: [...ns.scope],
        key,
        payload,
        createdAtMs,
        updatedAtMs: atMs,
        expiresAtMs: ttlMs === undefined ? null : expiresFromMs + ttlMs,
      });
    },

    async get(ns, key) {
      const item = has('gathered-gets-by-position')
        ? await gathered(() => live(ns, key))
        : live(ns, key);
      return item === undefined ? undefined : toRow(item);
    },

    async getMany(refs) {
      if (has('get-many-in-storage-order')) {
        const wanted = new Set(refs.map((ref) => nameOf(ref.namespace, ref.key)));
        const found = [...storage.items.entries()]
          .filter(([name, item]) => wanted.has(name) && isLive(item))
          .map(([, item]) => toRow(item));
        return refs.map((_, i) => found[i]);
      }
      return refs.map((ref) => {
        const item = live(ref.namespace, ref.key);
        return item === undefined ? undefined : toRow(item);
      });
    },

    async delete(ns, key, call) {
      checkFence(call.fence);
      const item = storage.items.get(nameOf(ns, key));
      storage.items.delete(nameOf(ns, key));
      return item !== undefined && isLive(item);
    },

    async list(ns, query) {
      const { prefix, after } = query;
      const keys = ofNamespace(ns)
        .filter((item) => isLive(item))
        .map((item) => item.key)
        .filter(
          (key) =>
            prefix === undefined ||
            (has('glob-prefix') ? likePrefix(key, prefix) : key.startsWith(prefix)),
        )
        .filter((key) => after === undefined || compareCodePoints(key, after) > 0)
        .sort(compareCodePoints);
      return query.limit === undefined ? keys : keys.slice(0, query.limit);
    },

    async listNamespaces(tenantId, query) {
      const scopes = [...storage.items.values()]
        .filter((item) => item.tenantId === tenantId && isLive(item))
        .map((item) => item.scope);
      return selectNamespaceScopes(scopes, query);
    },

    async search(tenantId, query) {
      const rendered = (scope: readonly string[]) => scope.join('/');
      const underPrefix = (scope: readonly string[]) =>
        has('search-prefix-not-segment')
          ? rendered(scope).startsWith(rendered(query.namespacePrefix))
          : startsWithScope(scope, query.namespacePrefix);
      const { after } = query;
      return [...storage.items.values()]
        .filter((item) => item.tenantId === tenantId && underPrefix(item.scope))
        .filter((item) => has('search-includes-expired') || isLive(item))
        .filter((item) => after === undefined || compareStoreItems(item, after) > 0)
        .filter(
          (item) =>
            query.filter.length === 0 ||
            matchesStoreFilter(
              parseEnvelope(item.payload, BACKEND).state,
              has('null-operand-as-sql-null')
                ? withoutNullInequalities(query.filter)
                : query.filter,
            ),
        )
        .sort(compareStoreItems)
        .slice(0, query.limit)
        .map((item) => ({ ...toRow(item), scope: item.scope, key: item.key }));
    },

    async evictExpired(tenantId) {
      let evicted = 0;
      for (const [name, item] of storage.items) {
        if (tenantId !== undefined && item.tenantId !== tenantId) continue;
        if (isLive(item)) continue;
        storage.items.delete(name);
        evicted++;
      }
      return evicted;
    },
  };
}

/**
 * The conditions without their `$ne null` ones: compared with SQL NULL, such a
 * condition is neither true nor false, and a search that drops an item only for a false
 * one keeps an item whose field is null.
 */
function withoutNullInequalities(
  conditions: readonly StoreFilterCondition[],
): StoreFilterCondition[] {
  return conditions.filter(({ op, value }) => !(op === '$ne' && value === null));
}

function sessionLogDriver(
  storage: FakeStorage,
  has: (flaw: Flaw) => boolean,
  checkFence: (fence: VerifiedFence | undefined) => void,
): SessionLogDriver {
  const nameOf = (key: ThreadKey) => JSON.stringify([key.tenantId, key.threadId]);
  const eventsOf = (key: ThreadKey) =>
    storage.events.filter((e) => e.tenantId === key.tenantId && e.threadId === key.threadId);
  const headOf = (key: ThreadKey) =>
    has('reuses-ordinals')
      ? (eventsOf(key).at(-1)?.seq ?? 0)
      : (storage.heads.get(nameOf(key))?.head ?? 0);
  const setHead = (key: ThreadKey, head: number) =>
    storage.heads.set(nameOf(key), { tenantId: key.tenantId, threadId: key.threadId, head });
  const toRows = (events: readonly EventRecord[]) =>
    events.map((e) => ({
      tenantId: e.tenantId,
      seq: e.seq,
      payload: e.payload,
      appendedAt: e.appendedAtMs,
    }));
  const removeEvents = (key: ThreadKey, doomed: (seq: number) => boolean) => {
    const before = storage.events.length;
    storage.events = storage.events.filter(
      (e) => !(e.tenantId === key.tenantId && e.threadId === key.threadId && doomed(e.seq)),
    );
    return before - storage.events.length;
  };

  // The latest-event reads of one turn, answered together by the
  // 'gathered-events-by-position' flaw: each read's events, in thread order.
  const gatheredEvents = answeredByPosition((x: EventRecord[], y: EventRecord[]) =>
    compareCodePoints(x[0]?.threadId ?? '', y[0]?.threadId ?? ''),
  );

  return {
    async append(key, payloads, { expectedHead, truncateAfter }, call) {
      checkFence(call.fence);
      if (has('conflict-creates-thread') && !storage.heads.has(nameOf(key))) setHead(key, 0);
      let head = headOf(key);
      const checksHead = expectedHead !== undefined && !has('ignores-expected-head');
      if (checksHead && head !== expectedHead) throw expectedHeadConflict(expectedHead, BACKEND);
      if (has('racy-appends') || has('racy-expected-head')) {
        await roundTrip();
        if (has('racy-expected-head')) head = headOf(key);
      }
      if (truncateAfter !== undefined) removeEvents(key, (seq) => seq > truncateAfter);
      // A thread that never held an event gets no head from a conditional truncation.
      if (payloads.length === 0) return head;
      const appendedAtMs = Date.now();
      for (const payload of payloads) {
        head += 1;
        storage.events.push({
          tenantId: key.tenantId,
          threadId: key.threadId,
          seq: head,
          payload,
          appendedAtMs,
        });
      }
      setHead(key, head);
      return head;
    },

    async loadSince(key, page) {
      const events = eventsOf(key).filter((e) => e.seq > page.cursor);
      return toRows(page.limit === undefined ? events : events.slice(0, page.limit));
    },

    async loadLatest(key, limit) {
      const newest = () => {
        const newestFirst = eventsOf(key).reverse().slice(0, limit);
        return has('latest-events-descending') ? newestFirst : newestFirst.reverse();
      };
      if (!has('gathered-events-by-position')) return toRows(newest());
      return toRows((await gatheredEvents(() => newest())) ?? []);
    },

    async head(key) {
      return headOf(key);
    },

    async archiveBefore(key, watermark, call) {
      checkFence(call.fence);
      const effective = Math.min(watermark, headOf(key) + 1);
      return removeEvents(key, (seq) => seq < effective);
    },

    async truncateAfter(key, seq, expectedHead, call) {
      checkFence(call.fence);
      const checksHead = expectedHead !== undefined && !has('ignores-expected-head');
      if (checksHead && headOf(key) !== expectedHead) {
        throw expectedHeadConflict(expectedHead, BACKEND);
      }
      const removed = removeEvents(key, (each) => each > seq);
      if (has('truncate-moves-head') && storage.heads.has(nameOf(key))) setHead(key, seq);
      return removed;
    },

    async deleteThread(key, call) {
      checkFence(call.fence);
      const removed = removeEvents(key, () => true);
      if (storage.heads.has(nameOf(key)) && !has('delete-keeps-head')) {
        setHead(key, headOf(key) + 1);
      }
      return removed;
    },

    async listThreads(tenantId, page) {
      const after = page.after;
      return [...storage.heads.values()]
        .filter((thread) => thread.tenantId === tenantId)
        .map((thread) => thread.threadId)
        .sort(compareCodePoints)
        .filter((thread) => after === undefined || compareCodePoints(thread, after) > 0)
        .slice(0, page.limit);
    },
  };
}

function lockDriver(storage: FakeStorage, has: (flaw: Flaw) => boolean): LockDriver {
  const isLive = (lockKey: string, fence: bigint) => {
    const lease = storage.leases.get(lockKey);
    return lease !== undefined && lease.fence === fence && lease.expiresAtMs > Date.now();
  };
  return {
    async grant(key, ttlMs) {
      const lockKey = lockKeyOf(key);
      const held = storage.leases.get(lockKey);
      if (held !== undefined && held.expiresAtMs > Date.now() && !has('no-lock-exclusion')) {
        return undefined;
      }
      const fence = (storage.fences.get(lockKey)?.fence ?? 0n) + 1n;
      storage.fences.set(lockKey, { tenantId: key.tenantId, fence });
      storage.leases.set(lockKey, { fence, expiresAtMs: Date.now() + ttlMs });
      return fence;
    },
    async extend(key, fence, ttlMs) {
      const lockKey = lockKeyOf(key);
      if (!isLive(lockKey, fence)) return false;
      storage.leases.set(lockKey, { fence, expiresAtMs: Date.now() + ttlMs });
      return true;
    },
    async release(key, fence) {
      const lockKey = lockKeyOf(key);
      if (!isLive(lockKey, fence)) return false;
      storage.leases.delete(lockKey);
      return true;
    },
  };
}

/**
 * The flaws that only a hand-written layer can have, planted the way they happen: a
 * method that skips the kit, or wraps it and gets something wrong.
 */
function bypassKit(persistence: Persistence, driver: PersistenceDriver, flaw?: Flaw): Persistence {
  switch (flaw) {
    case 'accepts-empty-tenant':
      // A fast path for head() that trusts the key's static type.
      return {
        ...persistence,
        sessionLog: (options) => ({
          ...persistence.sessionLog(options),
          head: async (key) => driver.sessionLog.head(key, { signal: undefined }),
        }),
      };
    case 'lenient-codec':
      // A put that serialises by hand, with a fallback for what JSON cannot hold.
      return {
        ...persistence,
        store: (options) => ({
          ...persistence.store(options),
          put: async (namespace, key, value, putOptions) =>
            driver.store.put(
              Namespace.from(namespace),
              key,
              JSON.stringify({ schema_version: 1, state: value ?? null }),
              putOptions?.ttlMs,
              { signal: undefined, fence: undefined },
            ),
        }),
      };
    case 'ignores-abort': {
      // A wrapper that forwards the arguments but forgets the options.
      return {
        ...persistence,
        store: (options) => {
          const store = persistence.store(options);
          return { ...store, get: (namespace, key) => store.get(namespace, key) };
        },
      };
    }
    case 'writes-by-task':
      // Re-sorting writes by task for display, forgetting the task path comes first.
      return {
        ...persistence,
        checkpointer: (options) => {
          const checkpointer = persistence.checkpointer(options);
          const resort = <T extends { pendingWrites: readonly { taskId: string; idx: number }[] }>(
            cp: T | undefined,
          ): T | undefined =>
            cp === undefined
              ? undefined
              : {
                  ...cp,
                  pendingWrites: [...cp.pendingWrites].sort(
                    (x, y) => compareCodePoints(x.taskId, y.taskId) || x.idx - y.idx,
                  ),
                };
          return {
            ...checkpointer,
            getLatest: async (key, o) => resort(await checkpointer.getLatest(key, o)),
            getById: async (key, id, o) => resort(await checkpointer.getById(key, id, o)),
            listHistory: async (key, o) =>
              (await checkpointer.listHistory(key, o)).map((cp) => resort(cp) ?? cp),
          };
        },
      };
    case 'cached-reads':
      return withCachedReads(persistence);
    default:
      return persistence;
  }
}

/**
 * Checkpoints and events never change once written, so a per-instance cache of what
 * was decoded looks safe; it hands the same objects to every caller.
 */
function withCachedReads(persistence: Persistence): Persistence {
  return {
    ...persistence,
    checkpointer: (options) => {
      const checkpointer = persistence.checkpointer(options);
      const cache = new Map<string, Awaited<ReturnType<typeof checkpointer.getById>>>();
      return {
        ...checkpointer,
        async getById(key, id, o) {
          const name = JSON.stringify([key.tenantId, key.threadId, o?.ns ?? '', id]);
          if (!cache.has(name)) cache.set(name, await checkpointer.getById(key, id, o));
          return cache.get(name);
        },
      };
    },
    store: (options) => {
      const store = persistence.store(options);
      const cache = new Map<string, Awaited<ReturnType<typeof store.get>>>();
      return {
        ...store,
        async get(namespace, key, o) {
          const name = JSON.stringify([namespace.render(), key]);
          if (!cache.has(name)) cache.set(name, await store.get(namespace, key, o));
          return cache.get(name);
        },
        async put(namespace, key, value, o) {
          cache.delete(JSON.stringify([namespace.render(), key]));
          return store.put(namespace, key, value, o);
        },
      };
    },
    sessionLog: (options) => {
      const log = persistence.sessionLog(options);
      type Event = Awaited<ReturnType<typeof log.loadSince>>[number];
      const bySeq = new Map<string, Event>();
      return {
        ...log,
        async loadSince(key, cursor, o) {
          return (await log.loadSince(key, cursor, o)).map((event) => {
            const name = JSON.stringify([key.tenantId, key.threadId, event.seq]);
            const cached = bySeq.get(name) ?? event;
            bySeq.set(name, cached);
            return cached;
          });
        },
      };
    },
  };
}

/**
 * Reads of one turn answered together as a flawed statement for several reads would:
 * the records found, in `order`, handed out by position rather than to the read each
 * answers.
 */
function answeredByPosition<R>(
  order: (x: R, y: R) => number,
): (find: () => R | undefined) => Promise<R | undefined> {
  let turn: { find: () => R | undefined; resolve: (found: R | undefined) => void }[] = [];
  return (find) =>
    new Promise((resolve) => {
      if (turn.length === 0) {
        process.nextTick(() => {
          const reads = turn;
          turn = [];
          const found = reads
            .map((read) => read.find())
            .filter((record) => record !== undefined)
            .sort(order);
          for (const [i, read] of reads.entries()) read.resolve(found[i]);
        });
      }
      turn.push({ find, resolve });
    });
}
