export { fencedConfig, LEASE_KEY, TENANT_ID_KEY } from './config.js';
export type { ThreadLockOptions } from './lease.js';
export { withThreadLock } from './lease.js';
export type { EntelixSaver, EntelixSaverOptions, StoredCheckpoint } from './saver.js';
export { createEntelixSaver } from './saver.js';
export type { EntelixStore, EntelixStoreOptions } from './store.js';
export { createEntelixStore } from './store.js';
export { VALUE_TAG } from './values.js';
