import { ConfigError } from './errors.js';
import { describeValue } from './ids.js';
import type { FenceToken } from './lock.js';

/** Accepted as the last argument of every async method. */
export interface CallOptions {
  /**
   * An aborted signal rejects the call with `ABORTED` before anything is written. What
   * an abort does once the request is on its way depends on the backend (see its README).
   */
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

/**
 * The longest TTL a lease or a store item may have: 100 years in milliseconds. Every
 * backend represents an expiry this far out exactly (a JavaScript `Date` reaches the
 * year 275760, Postgres 294276), and a lease of this length keeps its timers armed for
 * all of it. Longer is `CONFIG`.
 */
export const MAX_TTL_MS = 100 * 365.25 * 86_400_000;

/** Read an options argument that may have been cast past the types. */
export function readOptions<T extends object>(options: unknown, what = 'options'): Partial<T> {
  if (options === undefined || options === null) return {};
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw new ConfigError(`${what} must be an object, got ${describeValue(options)}`);
  }
  return options as Partial<T>;
}

/**
 * A `signal` option: `undefined` or an `AbortSignal`, else `ConfigError`. Checked by
 * shape, not `instanceof` (another realm's or a polyfill's signal is as good), down to
 * the listener methods the lock and the drivers call on it.
 */
export function readSignal(signal: unknown): AbortSignal | undefined {
  if (signal === undefined || signal === null) return undefined;
  const candidate = signal as Partial<AbortSignal>;
  if (
    typeof signal !== 'object' ||
    typeof candidate.aborted !== 'boolean' ||
    typeof candidate.addEventListener !== 'function' ||
    typeof candidate.removeEventListener !== 'function'
  ) {
    throw new ConfigError(`signal must be an AbortSignal, got ${describeValue(signal)}`);
  }
  return signal as AbortSignal;
}

/** A positive safe integer (limits), or `ConfigError`. */
export function assertPositiveInteger(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new ConfigError(`${what} must be a positive integer, got ${describeValue(value)}`);
  }
  return value;
}

/** A non-negative safe integer (cursors, watermarks, steps), or `ConfigError`. */
export function assertNonNegativeInteger(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new ConfigError(`${what} must be a non-negative integer, got ${describeValue(value)}`);
  }
  return value;
}

/** A TTL: a positive integer of at most {@link MAX_TTL_MS} milliseconds, or `ConfigError`. */
export function assertTtlMs(value: unknown, what = 'ttlMs'): number {
  const ttlMs = assertPositiveInteger(value, what);
  if (ttlMs > MAX_TTL_MS) {
    throw new ConfigError(
      `${what} must be at most ${MAX_TTL_MS} (100 years), got ${ttlMs}: an expiry that far out cannot be represented`,
    );
  }
  return ttlMs;
}
