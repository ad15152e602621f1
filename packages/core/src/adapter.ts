/**
 * The adapter kit: what a backend needs to implement the Entelix contracts.
 *
 * A backend implements one driver per contract (storage operations over validated,
 * typed inputs) and hands them to {@link createPersistence}, which returns the public
 * bundle. Validation, option reading, the order of checks, payload encoding, row
 * checks and the lock's lease handling all happen here, once, for every backend.
 *
 * @module
 */
export type {
  CheckpointerDriver,
  CheckpointerFormats,
  CheckpointFork,
  CheckpointRecord,
  CheckpointRow,
  HistoryQuery,
  ParentWriteRecord,
  PendingWriteBatchTarget,
  PendingWriteRecord,
  PendingWriteRow,
} from './checkpointer.js';
export {
  comparePendingWrites,
  createCheckpointer,
  matchesMetadataFilter,
} from './checkpointer.js';
export { assertJsonValue, jsonEquals, MAX_JSON_DEPTH } from './codec.js';
export type { PayloadFormat } from './envelope.js';
export { createPayloadFormat, parseEnvelope } from './envelope.js';
export { errorClasses, toBackendError } from './errors.js';
export { assertRowTenant, describeValue, validateId, validatePath } from './ids.js';
export type { DriverCall, DriverWrite, VerifiedFence } from './kit.js';
export { lockKeyOf, readFence } from './kit.js';
export type { LockDriver } from './lock.js';
export { assertNewestFence, createDistributedLock, FENCED_REASON, fencedError } from './lock.js';
export { assertTtlMs } from './options.js';
export { compareCodePoints, compareScopes, startsWithScope } from './order.js';
export type { PersistenceDriver } from './persistence.js';
export { createPersistence } from './persistence.js';
export type { SessionEventRow, SessionLogDriver } from './session-log.js';
export { createSessionLog, expectedHeadConflict } from './session-log.js';
export type {
  KeyQuery,
  NamespaceQuery,
  StoreDriver,
  StoreFilterCondition,
  StoreItemRow,
  StoreSearchQuery,
  StoreSearchRow,
} from './store.js';
export {
  compareStoreItems,
  createStore,
  matchesStoreFilter,
  readStoreFilter,
  selectNamespaceScopes,
} from './store.js';
