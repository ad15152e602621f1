// What applications use. Adapter authors find the kit at `@entelix/core/adapter`.
export type {
  Checkpointer,
  CheckpointInput,
  CheckpointReadOptions,
  ListHistoryOptions,
  ListThreadsOptions,
  ParentWrites,
  PendingWrite,
  PendingWriteInput,
  PendingWriteTarget,
  PruneOptions,
  PutOptions,
  SavedCheckpoint,
  UpdateStateOptions,
} from './checkpointer.js';
export { Checkpoint } from './checkpointer.js';
export type { Codec, JsonObject, JsonValue } from './codec.js';
export { MAX_JSON_DEPTH, strictJsonCodec } from './codec.js';
export type { Envelope, PayloadOptions, Upcaster } from './envelope.js';
export { CURRENT_SCHEMA_VERSION } from './envelope.js';
export type { EntelixErrorOptions } from './errors.js';
export {
  AbortedError,
  BackendError,
  ConfigError,
  ConflictError,
  CorruptRecordError,
  EntelixError,
  ErrorCode,
  FencedError,
  InvalidIdError,
  LockLostError,
  LockTimeoutError,
  NotFoundError,
  SchemaVersionMismatchError,
  SerializationError,
} from './errors.js';
export {
  CheckpointId,
  MAX_ID_BYTES,
  MAX_PATH_BYTES,
  Namespace,
  TenantId,
  ThreadId,
  ThreadKey,
} from './ids.js';
export type {
  AcquireOptions,
  DistributedLock,
  FenceToken,
  LockLease,
  SessionLockOptions,
  TryAcquireOptions,
} from './lock.js';
export {
  DEFAULT_SESSION_LOCK_TIMEOUT_MS,
  DEFAULT_SESSION_LOCK_TTL_MS,
  withSessionLock,
} from './lock.js';
export type { CallOptions, WriteOptions } from './options.js';
export { MAX_TTL_MS } from './options.js';
export type {
  Capabilities,
  CheckpointerOptions,
  Persistence,
  PurgeCounts,
} from './persistence.js';
export type {
  AppendOptions,
  LoadLatestOptions,
  LoadSinceOptions,
  SessionEvent,
  SessionLog,
  TruncateOptions,
} from './session-log.js';
export type {
  ListNamespacesOptions,
  Store,
  StoreFilter,
  StoreFilterOperator,
  StoreItem,
  StoreItemRef,
  StoreListOptions,
  StorePutOptions,
  StoreSearchOptions,
} from './store.js';
