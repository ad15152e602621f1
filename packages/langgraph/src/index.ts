export { fencedConfig, LEASE_KEY, TENANT_ID_KEY } from './config.js';
export type { ThreadLockOptions } from './lease.js';
export { withThreadLock } from './lease.js';
export type { EntelixSaver, EntelixSaverOptions, StoredCheckpoint } from './saver.js';
export { createEntelixSaver } from './saver.js';
export { VALUE_TAG } from './values.js';
