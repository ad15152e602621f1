/**
 * Every error this library throws is an {@link EntelixError} with a stable `code`.
 *
 * Check errors with `EntelixError.isInstance(e)` or `ConflictError.isInstance(e)`,
 * never `instanceof`: two copies of `@entelix/core` in one process (a common result
 * of npm's dependency tree) would each have their own classes, but they share the
 * `Symbol.for` brand used here.
 */

/** The stable error codes. Match on these, not on messages. */
export const ErrorCode = {
  INVALID_ID: 'INVALID_ID',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  LOCK_TIMEOUT: 'LOCK_TIMEOUT',
  LOCK_LOST: 'LOCK_LOST',
  FENCED: 'FENCED',
  SCHEMA_VERSION_MISMATCH: 'SCHEMA_VERSION_MISMATCH',
  SERIALIZATION: 'SERIALIZATION',
  CORRUPT_RECORD: 'CORRUPT_RECORD',
  BACKEND: 'BACKEND',
  CONFIG: 'CONFIG',
  ABORTED: 'ABORTED',
} as const;

/** One of the {@link ErrorCode} values. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const BRAND = Symbol.for('@entelix/core/EntelixError');

/** Options accepted by every error constructor. */
export interface EntelixErrorOptions {
  /** The underlying error (a driver error, a validation failure...). */
  cause?: unknown;
  /** Which backend raised it (`memory`, `postgres`, `redis`, ...); `core` when omitted. */
  backend?: string;
}

/**
 * Base class of every error thrown by Entelix packages.
 * The message always starts with `[entelix] [<backend>]`.
 */
export class EntelixError extends Error {
  /** The stable error code. */
  readonly code: ErrorCode;
  /** The backend that raised the error, or `core`. */
  readonly backend: string;

  constructor(code: ErrorCode, message: string, options: EntelixErrorOptions = {}) {
    const backend = options.backend ?? 'core';
    super(
      `[entelix] [${backend}] ${message}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.code = code;
    this.backend = backend;
    this.name = new.target.name;
    Object.defineProperty(this, BRAND, { value: true, enumerable: false });
  }

  /** True for any Entelix error, from this copy of core or another one. */
  static isInstance(error: unknown): error is EntelixError {
    return (
      typeof error === 'object' &&
      error !== null &&
      (error as Record<symbol, unknown>)[BRAND] === true &&
      typeof (error as { code?: unknown }).code === 'string'
    );
  }
}

type ErrorClass<C extends ErrorCode> = {
  new (message: string, options?: EntelixErrorOptions): EntelixError & { readonly code: C };
  readonly code: C;
  isInstance(error: unknown): error is EntelixError & { readonly code: C };
};

function defineError<C extends ErrorCode>(code: C, name: string): ErrorClass<C> {
  const cls = class extends EntelixError {
    static readonly code: C = code;
    declare readonly code: C;
    constructor(message: string, options?: EntelixErrorOptions) {
      super(code, message, options);
    }
    static override isInstance(error: unknown): error is EntelixError & { readonly code: C } {
      return EntelixError.isInstance(error) && error.code === code;
    }
  };
  Object.defineProperty(cls, 'name', { value: name });
  return cls;
}

/** An identifier (tenant, thread, namespace part, key, checkpoint id) is not legal. */
export const InvalidIdError = defineError(ErrorCode.INVALID_ID, 'InvalidIdError');
export type InvalidIdError = InstanceType<typeof InvalidIdError>;
/** Something the operation needs (such as a parent checkpoint) does not exist. */
export const NotFoundError = defineError(ErrorCode.NOT_FOUND, 'NotFoundError');
export type NotFoundError = InstanceType<typeof NotFoundError>;
/** A write would overwrite something immutable (a checkpoint id that already exists). */
export const ConflictError = defineError(ErrorCode.CONFLICT, 'ConflictError');
export type ConflictError = InstanceType<typeof ConflictError>;
/** `acquire` gave up after `timeoutMs`. */
export const LockTimeoutError = defineError(ErrorCode.LOCK_TIMEOUT, 'LockTimeoutError');
export type LockTimeoutError = InstanceType<typeof LockTimeoutError>;
/** The lease expired and was taken over (or released) before this call. */
export const LockLostError = defineError(ErrorCode.LOCK_LOST, 'LockLostError');
export type LockLostError = InstanceType<typeof LockLostError>;
/** A write carried a fence token older than the newest grant for its lock key. */
export const FencedError = defineError(ErrorCode.FENCED, 'FencedError');
export type FencedError = InstanceType<typeof FencedError>;
/** A stored payload has a schema version this code cannot read. */
export const SchemaVersionMismatchError = defineError(
  ErrorCode.SCHEMA_VERSION_MISMATCH,
  'SchemaVersionMismatchError',
);
export type SchemaVersionMismatchError = InstanceType<typeof SchemaVersionMismatchError>;
/** A value cannot be stored because it does not round-trip through the codec. */
export const SerializationError = defineError(ErrorCode.SERIALIZATION, 'SerializationError');
export type SerializationError = InstanceType<typeof SerializationError>;
/** A stored record is malformed or belongs to another tenant. */
export const CorruptRecordError = defineError(ErrorCode.CORRUPT_RECORD, 'CorruptRecordError');
export type CorruptRecordError = InstanceType<typeof CorruptRecordError>;
/** The storage driver failed; the driver's error is the `cause`. */
export const BackendError = defineError(ErrorCode.BACKEND, 'BackendError');
export type BackendError = InstanceType<typeof BackendError>;
/** An option or argument (other than an identifier) is not valid. */
export const ConfigError = defineError(ErrorCode.CONFIG, 'ConfigError');
export type ConfigError = InstanceType<typeof ConfigError>;
/** The call's `AbortSignal` was aborted. */
export const AbortedError = defineError(ErrorCode.ABORTED, 'AbortedError');
export type AbortedError = InstanceType<typeof AbortedError>;

/** Every error class, by code. */
export const errorClasses = {
  INVALID_ID: InvalidIdError,
  NOT_FOUND: NotFoundError,
  CONFLICT: ConflictError,
  LOCK_TIMEOUT: LockTimeoutError,
  LOCK_LOST: LockLostError,
  FENCED: FencedError,
  SCHEMA_VERSION_MISMATCH: SchemaVersionMismatchError,
  SERIALIZATION: SerializationError,
  CORRUPT_RECORD: CorruptRecordError,
  BACKEND: BackendError,
  CONFIG: ConfigError,
  ABORTED: AbortedError,
} as const satisfies { [C in ErrorCode]: ErrorClass<C> };

/**
 * Wrap anything a driver threw as a {@link BackendError}, once, at the boundary.
 * Entelix errors pass through unchanged so a typed error is never re-wrapped.
 */
export function toBackendError(error: unknown, backend: string, action: string): EntelixError {
  if (EntelixError.isInstance(error)) return error;
  const detail = error instanceof Error ? error.message : String(error);
  return new BackendError(`${action} failed: ${detail}`, { cause: error, backend });
}
