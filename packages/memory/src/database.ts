import { assertNewestFence, compareCodePoints, type VerifiedFence } from '@entelix/core/adapter';

/** A stored pending write: the value is envelope text, decoded afresh on every read. */
export interface StoredWrite {
  taskId: string;
  taskPath: string;
  idx: number;
  channel: string;
  payload: string;
}

/** A stored checkpoint: the payload is envelope text, so every read decodes a fresh value. */
export interface StoredCheckpoint {
  ns: string;
  id: string;
  parentId: string | null;
  step: number;
  payload: string;
  nextNode: string | null;
  metadataJson: string;
  createdAtMs: number;
  /** Write order within the thread, across its namespaces. */
  seq: number;
  /** Pending writes by `taskId` and `idx` (see {@link writeKey}); created by the first. */
  writes: Map<string, StoredWrite> | undefined;
}

/** One thread's checkpoints, in write order across namespaces. */
export interface CheckpointThread {
  nextSeq: number;
  /** By {@link checkpointKey} of ns and id. */
  byKey: Map<string, StoredCheckpoint>;
  inWriteOrder: StoredCheckpoint[];
}

/** One thread's session log. The head survives deletes so ordinals are never reused. */
export interface EventThread {
  headOrdinal: number;
  events: { seq: number; payload: string; appendedAtMs: number }[];
}

/** One stored item of the store. */
export interface StoredItem {
  payload: string;
  createdAtMs: number;
  updatedAtMs: number;
  expiresAtMs: number | null;
}

/** One namespace's items. */
export interface StoredNamespace {
  scope: string[];
  items: Map<string, StoredItem>;
}

/** A lease as the lock table holds it. */
export interface StoredLease {
  fence: bigint;
  expiresAtMs: number;
}

/**
 * Threads of one tenant by thread id, with the ids also kept in code-point order so a
 * page of `listThreads` costs a binary search and the page.
 */
export class TenantThreads<T> {
  readonly #byId = new Map<string, T>();
  readonly #sortedIds: string[] = [];

  get(threadId: string): T | undefined {
    return this.#byId.get(threadId);
  }

  getOrCreate(threadId: string, create: () => T): T {
    let thread = this.#byId.get(threadId);
    if (thread === undefined) {
      thread = create();
      this.#byId.set(threadId, thread);
      this.#sortedIds.splice(this.#firstIndexAfter(threadId, true), 0, threadId);
    }
    return thread;
  }

  delete(threadId: string): void {
    if (!this.#byId.delete(threadId)) return;
    this.#sortedIds.splice(this.#firstIndexAfter(threadId, true), 1);
  }

  values(): IterableIterator<T> {
    return this.#byId.values();
  }

  /** Up to `limit` ids after `after`, in code-point order. */
  page(limit: number, after: string | undefined): string[] {
    const start = after === undefined ? 0 : this.#firstIndexAfter(after, false);
    return this.#sortedIds.slice(start, start + limit);
  }

  // The index of the first id not below `id` (`inclusive`) or above it.
  #firstIndexAfter(id: string, inclusive: boolean): number {
    let low = 0;
    let high = this.#sortedIds.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const order = compareCodePoints(this.#sortedIds[middle] as string, id);
      if (order < 0 || (!inclusive && order === 0)) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}

/**
 * The storage every bundle of one memory database shares. Maps are keyed tenant first,
 * by the ids themselves or injective renderings of them, so tenants can never collide,
 * and `Map` keeps `__proto__` and friends ordinary keys.
 */
export interface MemoryDatabase {
  /** Checkpoint threads by tenant, then thread id. */
  readonly checkpoints: Map<string, TenantThreads<CheckpointThread>>;
  /** Session log threads by tenant, then thread id. */
  readonly sessionLogs: Map<string, TenantThreads<EventThread>>;
  /** Store namespaces by tenant, then by `Namespace.render`. */
  readonly store: Map<string, Map<string, StoredNamespace>>;
  /** Live and expired leases by tenant, then lock key. */
  readonly leases: Map<string, Map<string, StoredLease>>;
  /**
   * The newest fence granted, by tenant, then lock key; kept after release so fences
   * never repeat.
   */
  readonly newestFences: Map<string, Map<string, bigint>>;
}

/**
 * Create an empty memory database. Pass the same database to several
 * `createMemoryPersistence` calls to give them shared storage, as two processes would
 * share a server.
 */
export function createMemoryDatabase(): MemoryDatabase {
  return {
    checkpoints: new Map(),
    sessionLogs: new Map(),
    store: new Map(),
    leases: new Map(),
    newestFences: new Map(),
  };
}

/** The backend name used in error messages. */
export const BACKEND = 'memory';

/** The threads of a tenant in one of the thread maps, created on first use. */
export function tenantThreads<T>(
  map: Map<string, TenantThreads<T>>,
  tenantId: string,
): TenantThreads<T> {
  let threads = map.get(tenantId);
  if (threads === undefined) {
    threads = new TenantThreads<T>();
    map.set(tenantId, threads);
  }
  return threads;
}

/** The key of a checkpoint within its thread: ns and id, which never holds U+0000. */
export function checkpointKey(ns: string, id: string): string {
  return `${ns}\u0000${id}`;
}

/** The key of a pending write within its checkpoint. */
export function writeKey(taskId: string, idx: number): string {
  return `${taskId}\u0000${idx}`;
}

/**
 * Reject a write whose fence is not the newest grant for its lock key. Call it right
 * before the write, with no await in between: that is what makes the pair atomic here.
 */
export function checkFence(database: MemoryDatabase, fence: VerifiedFence | undefined): void {
  if (fence === undefined) return;
  const newest = database.newestFences.get(fence.key.tenantId)?.get(fence.lockKey) ?? 0n;
  assertNewestFence(fence, newest, BACKEND);
}

/** The map of one tenant in a tenant-first map of maps, created on first use. */
export function ofTenant<V>(map: Map<string, Map<string, V>>, tenantId: string): Map<string, V> {
  let inner = map.get(tenantId);
  if (inner === undefined) {
    inner = new Map();
    map.set(tenantId, inner);
  }
  return inner;
}
