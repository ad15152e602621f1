import type { Capabilities, Persistence } from '@entelix/core';
import { createPersistence, type PersistenceDriver } from '@entelix/core/adapter';
import { createMemoryCheckpointer } from './checkpointer.js';
import { BACKEND, createMemoryDatabase, type MemoryDatabase } from './database.js';
import { createMemoryLock } from './lock.js';
import { createMemorySessionLog } from './session-log.js';
import { createMemoryStore } from './store.js';

export { createMemoryDatabase, type MemoryDatabase } from './database.js';

/** Options of {@link createMemoryPersistence}. */
export interface MemoryPersistenceOptions {
  /**
   * The storage to use. Bundles created over the same database share data, like two
   * processes sharing a server. Default: a new, private database.
   */
  database?: MemoryDatabase;
  /**
   * The clock of the storage, in epoch milliseconds: timestamps, store TTLs and the
   * lease table's expiry. Default `Date.now`. A lease holder's own view (`expiresAt`,
   * `lease.signal`) runs on real time, as it would against a server.
   */
  clock?: () => number;
}

const MEMORY_CAPABILITIES: Capabilities = Object.freeze({
  multiProcess: false,
  rls: false,
  ttl: true,
  fencing: true,
});

/**
 * A persistence bundle that keeps everything in this process's memory: for tests,
 * prototypes and single-process tools. It meets the whole contract except sharing data
 * across processes.
 *
 * @example
 * ```ts
 * import { Checkpoint, ThreadKey } from '@entelix/core';
 * import { createMemoryPersistence } from '@entelix/memory';
 *
 * const persistence = createMemoryPersistence();
 * const key = ThreadKey.of('acme', 'thread-1');
 * await persistence.checkpointer().put(Checkpoint.create({ key, step: 0, state: { n: 1 } }));
 * ```
 */
export function createMemoryPersistence(options: MemoryPersistenceOptions = {}): Persistence {
  const database = options.database ?? createMemoryDatabase();
  const clock = options.clock ?? Date.now;
  const driver: PersistenceDriver = {
    backend: BACKEND,
    capabilities: MEMORY_CAPABILITIES,
    checkpointer: createMemoryCheckpointer(database),
    store: createMemoryStore(database, clock),
    sessionLog: createMemorySessionLog(database, clock),
    lock: createMemoryLock(database, clock),
    async purgeTenant(tenantId) {
      let checkpoints = 0;
      let writes = 0;
      for (const thread of database.checkpoints.get(tenantId)?.values() ?? []) {
        checkpoints += thread.inWriteOrder.length;
        for (const checkpoint of thread.inWriteOrder) writes += checkpoint.writes?.size ?? 0;
      }
      database.checkpoints.delete(tenantId);
      let storeItems = 0;
      for (const namespace of database.store.get(tenantId)?.values() ?? []) {
        storeItems += namespace.items.size;
      }
      database.store.delete(tenantId);
      // Heads stay, so ordinals never repeat, and move one past, so an append conditional
      // on a head read before the purge is refused.
      let events = 0;
      for (const thread of database.sessionLogs.get(tenantId)?.values() ?? []) {
        events += thread.events.length;
        thread.events = [];
        thread.headOrdinal += 1;
      }
      // Every lease of the tenant ends, and its fence counter moves past it, so a lease
      // granted before the purge never passes fencing after it.
      const fences = database.newestFences.get(tenantId);
      for (const [lockKey, fence] of fences ?? []) fences?.set(lockKey, fence + 1n);
      database.leases.delete(tenantId);
      return { checkpoints, writes, storeItems, events };
    },
    async close() {
      // Nothing to release: the database is garbage once no bundle references it.
    },
  };
  return createPersistence(driver);
}
