import { ConfigError } from './errors.js';
import { describe } from './ids.js';
import type { FenceToken } from './lock.js';

/** Accepted as the last argument of every async method. */
export interface CallOptions {
  /** An aborted signal rejects the call with `ABORTED` before anything is written. */
  signal?: AbortSignal;
}

/** Accepted by every write. */
export interface WriteOptions extends CallOptions {
  /**
   * A lease (or `{ key, fence }`) of the writer. The write is rejected with `FENCED`,
   * changing nothing, when a newer lease has been granted for that lock key since.
   * The lease must belong to the same tenant as the write.
   */
  fence?: FenceToken;
}

/** Read an options argument that may have been cast past the types. */
export function readOptions<T extends object>(options: unknown, what = 'options'): Partial<T> {
  if (options === undefined || options === null) return {};
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw new ConfigError(`${what} must be an object, got ${describe(options)}`);
  }
  return options as Partial<T>;
}

/** A positive safe integer (limits, TTLs), or `ConfigError`. */
export function assertPositiveInteger(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new ConfigError(`${what} must be a positive integer, got ${formatNumberish(value)}`);
  }
  return value;
}

/** A non-negative safe integer (cursors, watermarks, steps), or `ConfigError`. */
export function assertNonNegativeInteger(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new ConfigError(`${what} must be a non-negative integer, got ${formatNumberish(value)}`);
  }
  return value;
}

function formatNumberish(value: unknown): string {
  return typeof value === 'number' ? String(value) : describe(value);
}
