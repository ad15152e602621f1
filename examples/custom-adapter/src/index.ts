import {
  type Capabilities,
  ConfigError,
  type Persistence,
  type TenantId,
  type ThreadId,
  type ThreadKey,
} from '@entelix/core';
import { createPersistence, type PersistenceDriver } from '@entelix/core/adapter';
import { createKeyValueCheckpointer } from './checkpointer.js';
import type { KeyValueClient } from './key-value-client.js';
import { createKeyValueLock } from './lock.js';
import { createKeyValueSessionLog, moveHeadPast } from './session-log.js';
import {
  BACKEND,
  deleteKeys,
  readNewestFence,
  type StorageClient,
  storageKeys,
  walkKeys,
  withBackendErrors,
} from './storage.js';
import { createKeyValueStore } from './store.js';

export {
  createInMemoryKeyValueClient,
  type KeyRange,
  type KeyValueClient,
} from './key-value-client.js';

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
 * Entelix persistence over any synchronous, ordered string key/value client:
 * checkpoints, store, session log and lock, each record JSON under a tenant-first key.
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
  const driver: PersistenceDriver = {
    backend: BACKEND,
    capabilities: KEY_VALUE_CAPABILITIES,
    checkpointer: createKeyValueCheckpointer(client),
    store: createKeyValueStore(client),
    sessionLog: createKeyValueSessionLog(client),
    lock: createKeyValueLock(client),
    async purgeTenant(tenantId) {
      return purgeTenant(client, tenantId);
    },
    async close() {
      // The only resource is the client, and it was passed in: the caller closes it.
    },
  };
  return createPersistence(driver);
}

/**
 * Every family is keyed tenant first, so erasing a tenant is one range per family.
 * Session heads stay, so the tenant's ordinals are never handed out again, each moved
 * one past as `deleteThread` moves it.
 */
function purgeTenant(client: StorageClient, tenantId: TenantId) {
  const checkpoints = deleteKeys(client, storageKeys.ofTenant('checkpoint', tenantId));
  const writes = deleteKeys(client, storageKeys.ofTenant('checkpoint-write', tenantId));
  deleteKeys(client, storageKeys.ofTenant('checkpoint-id', tenantId));
  deleteKeys(client, storageKeys.ofTenant('checkpoint-ns', tenantId));
  deleteKeys(client, storageKeys.ofTenant('checkpoint-thread', tenantId));
  const storeItems = deleteKeys(client, storageKeys.ofTenant('store-item', tenantId));
  deleteKeys(client, storageKeys.ofTenant('store-namespace', tenantId));
  const events = deleteKeys(client, storageKeys.ofTenant('session-event', tenantId));
  const heads = storageKeys.ofTenant('session-head', tenantId);
  for (const headKey of walkKeys(client, heads)) {
    // Written from a validated key, so what follows the prefix is a thread id.
    moveHeadPast(client, { tenantId, threadId: headKey.slice(heads.length) as ThreadId });
  }
  // Each lease of the tenant ends, and its fence counter moves past it, so a lease
  // granted before the purge never passes fencing after it.
  const fences = storageKeys.ofTenant('lock-fence', tenantId);
  for (const fenceKey of walkKeys(client, fences)) {
    // Written from a validated key, so what follows the prefix is a thread id.
    const key: ThreadKey = { tenantId, threadId: fenceKey.slice(fences.length) as ThreadId };
    client.set(fenceKey, (readNewestFence(client, key) + 1n).toString());
    client.delete(storageKeys.lease(key));
  }
  return { checkpoints, writes, storeItems, events };
}

function isKeyValueClient(value: unknown): value is KeyValueClient {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return ['get', 'set', 'delete', 'keys'].every((name) => typeof candidate[name] === 'function');
}
