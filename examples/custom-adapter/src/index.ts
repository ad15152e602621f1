import {
  type Capabilities,
  ConfigError,
  createPayloadFormat,
  type Persistence,
} from '@entelix/core';
import { createKeyValueCheckpointer } from './checkpointer.js';
import type { KeyValueClient } from './key-value-client.js';
import { createKeyValueLock } from './lock.js';
import { createKeyValueSessionLog } from './session-log.js';
import { BACKEND, withBackendErrors } from './storage.js';
import { createKeyValueStore } from './store.js';

export { createInMemoryKeyValueClient, type KeyValueClient } from './key-value-client.js';

/** Options of {@link createKeyValuePersistence}. */
export interface KeyValuePersistenceOptions {
  /**
   * The key/value client to store everything in. Bundles over the same client share
   * data. It belongs to the caller: `close()` never closes it.
   */
  client: KeyValueClient;
}

const KEY_VALUE_CAPABILITIES: Capabilities = Object.freeze({
  // The client is synchronous and in-process; atomicity rests on JavaScript running one
  // method body at a time, which holds only within one process.
  multiProcess: false,
  rls: false,
  ttl: true,
  fencing: true,
});

/**
 * Entelix persistence over any synchronous string key/value client: checkpoints, store,
 * session log and lock, each record JSON under a tenant-first key.
 *
 * @example
 * ```ts
 * import { Checkpoint, ThreadKey } from '@entelix/core';
 * import {
 *   createInMemoryKeyValueClient,
 *   createKeyValuePersistence,
 * } from '@entelix/example-custom-adapter';
 *
 * const persistence = createKeyValuePersistence({ client: createInMemoryKeyValueClient() });
 * const key = ThreadKey.of('acme', 'thread-1');
 * await persistence.checkpointer().put(Checkpoint.create({ key, step: 0, state: { n: 1 } }));
 * ```
 */
export function createKeyValuePersistence(options: KeyValuePersistenceOptions): Persistence {
  const given = (options as Partial<KeyValuePersistenceOptions> | undefined)?.client;
  if (!isKeyValueClient(given)) {
    throw new ConfigError('options.client must have get, set, delete and keys methods', {
      backend: BACKEND,
    });
  }
  const client = withBackendErrors(given);
  return {
    checkpointer: (payload) =>
      createKeyValueCheckpointer(client, createPayloadFormat(payload, BACKEND)),
    store: (payload) => createKeyValueStore(client, createPayloadFormat(payload, BACKEND)),
    sessionLog: (payload) =>
      createKeyValueSessionLog(client, createPayloadFormat(payload, BACKEND)),
    lock: createKeyValueLock(client),
    capabilities: KEY_VALUE_CAPABILITIES,
    async close() {
      // The only resource is the client, and it was passed in: the caller closes it.
    },
  };
}

function isKeyValueClient(value: unknown): value is KeyValueClient {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return ['get', 'set', 'delete', 'keys'].every((name) => typeof candidate[name] === 'function');
}
