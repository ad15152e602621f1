import {
  acquireByPolling,
  assertNewestFence,
  type Checkpoint,
  type Checkpointer,
  Checkpoint as CheckpointHelpers,
  type CheckpointId,
  CheckpointId as CheckpointIds,
  ConflictError,
  compareCodePoints,
  createLockLease,
  createPayloadFormat,
  type DistributedLock,
  lockKeyOf,
  Namespace,
  NotFoundError,
  type PayloadOptions,
  type Persistence,
  readAcquireArguments,
  readEvents,
  readFence,
  readListHistoryOptions,
  readListNamespacesOptions,
  readLoadSinceArguments,
  readOptions,
  readStoreListOptions,
  readStorePutOptions,
  readTryAcquireArguments,
  readWatermark,
  type SessionLog,
  type Store,
  selectNamespaceScopes,
  ThreadKey,
  throwIfAborted,
  validateId,
} from '@entelix/core';

/**
 * Deliberate contract violations, one or more per conformance group, used to prove
 * the suite catches them.
 */
export type Flaw =
  | 'accepts-empty-tenant'
  | 'latest-by-step'
  | 'put-overwrites'
  | 'reuses-ordinals'
  | 'glob-prefix'
  | 'no-lock-exclusion'
  | 'ignores-fence'
  | 'shares-tenants'
  | 'lenient-codec'
  | 'ignores-abort'
  | 'racy-appends';

type Row = {
  id: string;
  parentId: string | null;
  step: number;
  text: string;
  nextNode: string | null;
  at: number;
};
type Item = { text: string; created: number; updated: number; expires: number | null };

/** Shared storage of the fake: plain maps keyed by injective renderings. */
export interface FakeStorage {
  checkpoints: Map<string, Row[]>;
  logs: Map<string, { head: number; events: { seq: number; text: string; at: number }[] }>;
  items: Map<string, Map<string, Map<string, Item>>>;
  leases: Map<string, { fence: bigint; expires: number }>;
  fences: Map<string, bigint>;
}

export function createFakeStorage(): FakeStorage {
  return {
    checkpoints: new Map(),
    logs: new Map(),
    items: new Map(),
    leases: new Map(),
    fences: new Map(),
  };
}

const B = 'fake';
const optionsOf = (options: unknown) =>
  readOptions<{ signal?: AbortSignal; fence?: unknown }>(options);

/**
 * A small, independent implementation of the four contracts (not the memory package),
 * correct unless told to carry a flaw.
 */
export function createFakePersistence(
  storage: FakeStorage,
  flaws: readonly Flaw[] = [],
): Persistence {
  const has = (flaw: Flaw) => flaws.includes(flaw);
  const checkAbort = (signal: unknown) => {
    if (!has('ignores-abort')) throwIfAborted(signal as AbortSignal | undefined, B);
  };
  const checkFence = (fence: unknown, tenantId: string) => {
    const token = readFence(fence, tenantId, B);
    if (token === undefined || has('ignores-fence')) return;
    assertNewestFence(token, storage.fences.get(token.lockKey) ?? 0n, B);
  };
  const threadName = (key: ThreadKey) =>
    has('shares-tenants') ? key.threadId : ThreadKey.render(key);
  const format = <T>(options?: PayloadOptions<T>) => {
    const real = createPayloadFormat(options, B);
    if (!has('lenient-codec')) return real;
    return {
      encode: (v: T) => JSON.stringify({ schema_version: 1, state: v ?? null }),
      decode: real.decode,
    };
  };

  function checkpointer<S>(options?: PayloadOptions<S>): Checkpointer<S> {
    const payload = format(options);
    const rows = (key: ThreadKey) => storage.checkpoints.get(threadName(key)) ?? [];
    const toCheckpoint = (key: ThreadKey, row: Row): Checkpoint<S> => ({
      id: row.id as CheckpointId,
      key,
      parentId: row.parentId as CheckpointId | null,
      step: row.step,
      state: payload.decode(row.text),
      nextNode: row.nextNode,
      createdAt: new Date(row.at),
    });
    const write = (key: ThreadKey, row: Row) => {
      const list = rows(key).filter((r) => !(has('put-overwrites') && r.id === row.id));
      storage.checkpoints.set(threadName(key), [...list, row]);
    };
    return {
      async put(checkpoint, opts) {
        const cp = CheckpointHelpers.validate<S>(checkpoint);
        const o = readOptions<{ signal: AbortSignal; fence: unknown }>(opts);
        const text = payload.encode(cp.state);
        checkAbort(o.signal);
        checkFence(o.fence, cp.key.tenantId);
        if (!has('put-overwrites') && rows(cp.key).some((r) => r.id === cp.id))
          throw new ConflictError('exists', { backend: B });
        write(cp.key, {
          id: cp.id,
          parentId: cp.parentId,
          step: cp.step,
          text,
          nextNode: cp.nextNode,
          at: cp.createdAt.getTime(),
        });
      },
      async getLatest(k, opts) {
        const key = ThreadKey.from(k);
        checkAbort(optionsOf(opts).signal);
        const list = rows(key);
        const latest = has('latest-by-step')
          ? [...list].sort((x, y) => y.step - x.step)[0]
          : list[list.length - 1];
        return latest && toCheckpoint(key, latest);
      },
      async getById(k, id, opts) {
        const key = ThreadKey.from(k);
        const cid = CheckpointIds.parse(id);
        checkAbort(optionsOf(opts).signal);
        const row = rows(key).find((r) => r.id === cid);
        return row && toCheckpoint(key, row);
      },
      async listHistory(k, opts) {
        const key = ThreadKey.from(k);
        const { limit, before, signal } = readListHistoryOptions(opts);
        checkAbort(signal);
        const list = rows(key);
        const end = before === undefined ? list.length : list.findIndex((r) => r.id === before);
        if (end < 0) return [];
        return list
          .slice(Math.max(0, end - limit), end)
          .reverse()
          .map((r) => toCheckpoint(key, r));
      },
      async updateState(k, parentId, state, opts) {
        const key = ThreadKey.from(k);
        const parent = CheckpointIds.parse(parentId);
        const o = readOptions<{ signal: AbortSignal; fence: unknown }>(opts);
        const text = payload.encode(state);
        checkAbort(o.signal);
        checkFence(o.fence, key.tenantId);
        const row = rows(key).find((r) => r.id === parent);
        if (!row) throw new NotFoundError('no parent', { backend: B });
        const id = CheckpointIds.create();
        write(key, {
          id,
          parentId: parent,
          step: row.step + 1,
          text,
          nextNode: row.nextNode,
          at: Date.now(),
        });
        return id;
      },
      async deleteThread(k, opts) {
        const key = ThreadKey.from(k);
        checkAbort(optionsOf(opts).signal);
        checkFence(optionsOf(opts).fence, key.tenantId);
        const count = rows(key).length;
        storage.checkpoints.delete(threadName(key));
        return count;
      },
    };
  }

  function store<V>(options?: PayloadOptions<V>): Store<V> {
    const payload = format(options);
    const live = (item: Item | undefined): item is Item =>
      item !== undefined && (item.expires === null || item.expires > Date.now());
    const items = (ns: Namespace) => storage.items.get(ns.tenantId)?.get(ns.render());
    const matches = (key: string, prefix: string) =>
      has('glob-prefix')
        ? new RegExp(`^${prefix.replaceAll('%', '.*').replaceAll('_', '.')}`).test(key)
        : key.startsWith(prefix);
    return {
      async put(n, k, value, opts) {
        const ns = Namespace.from(n);
        const key = validateId(k, 'key');
        const o = readStorePutOptions(opts);
        const text = payload.encode(value);
        checkAbort(o.signal);
        checkFence(o.fence, ns.tenantId);
        const tenant = storage.items.get(ns.tenantId) ?? new Map<string, Map<string, Item>>();
        storage.items.set(ns.tenantId, tenant);
        const map = tenant.get(ns.render()) ?? new Map<string, Item>();
        tenant.set(ns.render(), map);
        const old = map.get(key);
        const now = Date.now();
        map.set(key, {
          text,
          created: live(old) ? old.created : now,
          updated: now,
          expires: o.ttlMs ? now + o.ttlMs : null,
        });
      },
      async get(n, k, opts) {
        const ns = Namespace.from(n);
        const key = validateId(k, 'key');
        checkAbort(optionsOf(opts).signal);
        const item = items(ns)?.get(key);
        if (!live(item)) return undefined;
        const expiresAt = item.expires === null ? null : new Date(item.expires);
        return {
          namespace: ns,
          key,
          value: payload.decode(item.text),
          createdAt: new Date(item.created),
          updatedAt: new Date(item.updated),
          expiresAt,
        };
      },
      async delete(n, k, opts) {
        const ns = Namespace.from(n);
        const key = validateId(k, 'key');
        checkAbort(optionsOf(opts).signal);
        checkFence(optionsOf(opts).fence, ns.tenantId);
        const item = items(ns)?.get(key);
        items(ns)?.delete(key);
        return live(item);
      },
      async list(n, opts) {
        const ns = Namespace.from(n);
        const { prefix, after, limit, signal } = readStoreListOptions(opts);
        checkAbort(signal);
        const keys = [...(items(ns) ?? new Map<string, Item>())]
          .filter(
            ([key, item]) =>
              live(item) &&
              (prefix === undefined || matches(key, prefix)) &&
              (after === undefined || compareCodePoints(key, after) > 0),
          )
          .map(([key]) => key)
          .sort(compareCodePoints);
        return keys.slice(0, limit ?? keys.length);
      },
      async listNamespaces(t, opts) {
        const tenant = validateId(t, 'tenantId');
        const o = readListNamespacesOptions(opts);
        checkAbort(o.signal);
        const scopes = [...(storage.items.get(tenant) ?? new Map<string, Map<string, Item>>())]
          .filter(([, map]) => [...map.values()].some(live))
          .map(([rendered]) => [...Namespace.parse(rendered).scope]);
        return selectNamespaceScopes(scopes, o).map((scope) => Namespace.of(tenant, ...scope));
      },
      async evictExpired(t, opts) {
        const tenant = t === undefined ? undefined : validateId(t, 'tenantId');
        checkAbort(optionsOf(opts).signal);
        let count = 0;
        for (const [name, namespaces] of storage.items) {
          if (tenant !== undefined && name !== tenant) continue;
          for (const map of namespaces.values()) {
            for (const [key, item] of map) {
              if (live(item)) continue;
              map.delete(key);
              count++;
            }
          }
        }
        return count;
      },
    };
  }

  function sessionLog<E>(options?: PayloadOptions<E>): SessionLog<E> {
    const payload = format(options);
    const log = (key: ThreadKey) => {
      const name = threadName(key);
      const existing = storage.logs.get(name) ?? { head: 0, events: [] };
      storage.logs.set(name, existing);
      return existing;
    };
    const headOf = (key: ThreadKey) => {
      const l = log(key);
      return has('reuses-ordinals') ? (l.events[l.events.length - 1]?.seq ?? 0) : l.head;
    };
    return {
      async append(k, events, opts) {
        const key = ThreadKey.from(k);
        const texts = readEvents<E>(events).map((e) => payload.encode(e));
        checkAbort(optionsOf(opts).signal);
        checkFence(optionsOf(opts).fence, key.tenantId);
        let head = headOf(key);
        if (has('racy-appends')) await new Promise((resolve) => setTimeout(resolve, 1));
        const l = log(key);
        for (const text of texts) l.events.push({ seq: ++head, text, at: Date.now() });
        l.head = head;
        return head;
      },
      async loadSince(k, cursor, opts) {
        const key = ThreadKey.from(k);
        const a = readLoadSinceArguments(cursor, opts);
        checkAbort(a.signal);
        const events = log(key).events.filter((e) => e.seq > a.cursor);
        return events
          .slice(0, a.limit ?? events.length)
          .map((e) => ({ seq: e.seq, event: payload.decode(e.text), ts: new Date(e.at) }));
      },
      async head(k, opts) {
        const key = has('accepts-empty-tenant') ? (k as ThreadKey) : ThreadKey.from(k);
        checkAbort(optionsOf(opts).signal);
        return headOf(key);
      },
      async archiveBefore(k, watermark, opts) {
        const key = ThreadKey.from(k);
        const w = Math.min(readWatermark(watermark), headOf(key) + 1);
        checkAbort(optionsOf(opts).signal);
        checkFence(optionsOf(opts).fence, key.tenantId);
        const l = log(key);
        const before = l.events.length;
        l.events = l.events.filter((e) => e.seq >= w);
        return before - l.events.length;
      },
      async deleteThread(k, opts) {
        const key = ThreadKey.from(k);
        checkAbort(optionsOf(opts).signal);
        checkFence(optionsOf(opts).fence, key.tenantId);
        const l = log(key);
        const count = l.events.length;
        l.events = [];
        return count;
      },
    };
  }

  const grant = (key: ThreadKey, ttlMs: number) => {
    const requestedAt = Date.now();
    const name = lockKeyOf(key);
    const held = storage.leases.get(name);
    if (!has('no-lock-exclusion') && held && held.expires > Date.now()) return undefined;
    const fence = (storage.fences.get(name) ?? 0n) + 1n;
    storage.fences.set(name, fence);
    storage.leases.set(name, { fence, expires: Date.now() + ttlMs });
    const mine = () => {
      const l = storage.leases.get(name);
      return l !== undefined && l.fence === fence && l.expires > Date.now();
    };
    return createLockLease(
      { key, fence, ttlMs, requestedAt },
      {
        backend: B,
        extend: async (ms) => {
          if (!mine()) return false;
          storage.leases.set(name, { fence, expires: Date.now() + ms });
          return true;
        },
        release: async () => mine() && storage.leases.delete(name),
      },
    );
  };
  const lock: DistributedLock = {
    async tryAcquire(k, opts) {
      const a = readTryAcquireArguments(k, opts);
      checkAbort(a.signal);
      return grant(a.key, a.ttlMs);
    },
    async acquire(k, opts) {
      const a = readAcquireArguments(k, opts);
      return acquireByPolling(async () => grant(a.key, a.ttlMs), {
        timeoutMs: a.timeoutMs,
        signal: a.signal,
        backend: B,
      });
    },
  };

  return {
    checkpointer,
    store,
    sessionLog,
    lock,
    capabilities: { multiProcess: false, rls: false, ttl: true, fencing: true },
    close: async () => {},
  };
}
