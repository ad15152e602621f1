import { ConfigError } from './errors.js';
import type { ThreadKey } from './ids.js';
import { describe } from './ids.js';
import {
  assertNonNegativeInteger,
  assertPositiveInteger,
  type CallOptions,
  readOptions,
  type WriteOptions,
} from './options.js';

/** One event of a session log, as read back. */
export interface SessionEvent<E> {
  /** The event's ordinal: 1-based, gap-free, never reused on the thread. */
  readonly seq: number;
  readonly event: E;
  /** When the event was appended (backend clock). */
  readonly ts: Date;
}

/** Options of {@link SessionLog.loadSince}. */
export interface LoadSinceOptions extends CallOptions {
  /** At most this many events (positive integer). Omitted: all. */
  limit?: number;
}

/**
 * An append-only event log per thread. Every appended event gets the next ordinal;
 * ordinals are gap-free and never reused, also after archiving or deleting everything.
 */
export interface SessionLog<E> {
  /**
   * Append a batch (consecutive ordinals) and return the new head ordinal. An empty
   * batch writes nothing and returns the current head.
   */
  append(key: ThreadKey, events: readonly E[], options?: WriteOptions): Promise<number>;
  /** Events with `seq > cursor`, ascending. */
  loadSince(key: ThreadKey, cursor: number, options?: LoadSinceOptions): Promise<SessionEvent<E>[]>;
  /** The last ordinal handed out on the thread, `0` if none ever was. */
  head(key: ThreadKey, options?: CallOptions): Promise<number>;
  /**
   * Delete events with `seq < watermark` (the watermark is clamped to `head + 1`);
   * returns how many were deleted. Idempotent and monotonic.
   */
  archiveBefore(key: ThreadKey, watermark: number, options?: WriteOptions): Promise<number>;
  /** Delete every event of the thread; the head is kept so ordinals are never reused. */
  deleteThread(key: ThreadKey, options?: WriteOptions): Promise<number>;
}

/** Validate the events argument of `append`: an array (possibly empty). */
export function readEvents<E>(events: unknown): readonly E[] {
  if (!Array.isArray(events)) {
    throw new ConfigError(`events must be an array, got ${describe(events)}`);
  }
  return events as readonly E[];
}

/** Validated `loadSince` arguments. */
export function readLoadSinceArguments(
  cursor: unknown,
  options: unknown,
): { cursor: number; limit: number | undefined; signal: AbortSignal | undefined } {
  const opts = readOptions<LoadSinceOptions>(options, 'loadSince options');
  return {
    cursor: assertNonNegativeInteger(cursor, 'cursor'),
    limit: opts.limit === undefined ? undefined : assertPositiveInteger(opts.limit, 'limit'),
    signal: opts.signal,
  };
}

/** Validate an `archiveBefore` watermark: a non-negative integer. */
export function readWatermark(watermark: unknown): number {
  return assertNonNegativeInteger(watermark, 'watermark');
}
