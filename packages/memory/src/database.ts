import { assertNewestFence, readFence } from '@entelix/core';

/** A stored checkpoint: the payload is envelope text, so every read decodes a fresh value. */
export interface StoredCheckpoint {
  id: string;
  parentId: string | null;
  step: number;
  payload: string;
  nextNode: string | null;
  createdAtMs: number;
  /** Write order within the thread. */
  seq: number;
}

/** One thread's checkpoints, in write order. */
export interface CheckpointThread {
  nextSeq: number;
  byId: Map<string, StoredCheckpoint>;
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
 * The storage every bundle of one memory database shares. All maps are keyed by
 * injective renderings of tenant-first keys, so tenants can never collide, and `Map`
 * keeps `__proto__` and friends ordinary keys.
 */
export interface MemoryDatabase {
  /** Checkpoint threads by `ThreadKey.render`. */
  readonly checkpoints: Map<string, CheckpointThread>;
  /** Session log threads by `ThreadKey.render`. */
  readonly sessionLogs: Map<string, EventThread>;
  /** Store namespaces by tenant, then by `Namespace.render`. */
  readonly store: Map<string, Map<string, StoredNamespace>>;
  /** Live and expired leases by lock key. */
  readonly leases: Map<string, StoredLease>;
  /** The newest fence granted per lock key; kept after release so fences never repeat. */
  readonly newestFences: Map<string, bigint>;
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

/**
 * Validate a write's `fence` and reject it when a newer lease was granted for its key.
 * Call after every other validation and before the write, with no await in between.
 */
export function checkFence(database: MemoryDatabase, fence: unknown, tenantId: string): void {
  const token = readFence(fence, tenantId, BACKEND);
  if (token === undefined) return;
  assertNewestFence(token, database.newestFences.get(token.lockKey) ?? 0n, BACKEND);
}
