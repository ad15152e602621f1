import { type Capabilities, createPayloadFormat, type Persistence } from '@entelix/core';
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
  /** The one clock for timestamps, TTLs and lease expiry, in epoch milliseconds. Default `Date.now`. */
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
  return {
    checkpointer: (payload) =>
      createMemoryCheckpointer(database, createPayloadFormat(payload, BACKEND), clock),
    store: (payload) => createMemoryStore(database, createPayloadFormat(payload, BACKEND), clock),
    sessionLog: (payload) =>
      createMemorySessionLog(database, createPayloadFormat(payload, BACKEND), clock),
    lock: createMemoryLock(database, clock),
    capabilities: MEMORY_CAPABILITIES,
    async close() {
      // Nothing to release: the database is garbage once no bundle references it.
    },
  };
}
