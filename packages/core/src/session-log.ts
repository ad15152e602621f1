import {
  decodeDate,
  type ListThreadsOptions,
  readListThreadsOptions,
  readThreadIds,
} from './checkpointer.js';
import type { PayloadFormat } from './envelope.js';
import { ConfigError, ConflictError, CorruptRecordError } from './errors.js';
import { assertRowTenant, describeValue, TenantId, type ThreadId, ThreadKey } from './ids.js';
import { type DriverCall, type DriverWrite, readWriteCall, startCall, startWrite } from './kit.js';
import {
  assertNonNegativeInteger,
  assertPositiveInteger,
  type CallOptions,
  readOptions,
  readSignal,
  type WriteOptions,
} from './options.js';

/** One event of a session log, as read back. */
export interface SessionEvent<E> {
  /** The event's ordinal: 1-based, handed out consecutively, never reused on the thread. */
  readonly seq: number;
  readonly event: E;
  /** When the event was appended (backend clock). */
  readonly ts: Date;
}

/** Options of {@link SessionLog.append}. */
export interface AppendOptions extends WriteOptions {
  /**
   * Append only if the head is exactly this ordinal; otherwise `CONFLICT` and nothing
   * is written. For read-modify-write without a lock.
   */
  expectedHead?: number;
  /**
   * First delete the events with `seq > truncateAfter`, in the same atomic step: the
   * batch replaces the tail (a regenerated answer, a retried turn). It gets new
   * ordinals after the head; with an empty batch this is a conditional truncation.
   */
  truncateAfter?: number;
}

/** Options of {@link SessionLog.truncateAfter}. */
export interface TruncateOptions extends WriteOptions {
  /** Truncate only if the head is exactly this ordinal; otherwise `CONFLICT`, nothing deleted. */
  expectedHead?: number;
}

/** Options of {@link SessionLog.loadSince}. */
export interface LoadSinceOptions extends CallOptions {
  /** At most this many events (positive integer). Omitted: all. */
  limit?: number;
}

/** Options of {@link SessionLog.loadLatest}. */
export interface LoadLatestOptions extends CallOptions {
  /** How many of the newest events; a positive integer. */
  limit: number;
}

/**
 * An append-only event log per thread. Appends hand out consecutive ordinals; no
 * ordinal is ever handed out twice, also after archiving, truncating or deleting
 * everything, and removals never renumber.
 */
export interface SessionLog<E> {
  /**
   * Append a batch (consecutive ordinals) and return the new head ordinal. An empty
   * batch writes nothing and returns the current head.
   */
  append(key: ThreadKey, events: readonly E[], options?: AppendOptions): Promise<number>;
  /** Events with `seq > cursor`, ascending. */
  loadSince(key: ThreadKey, cursor: number, options?: LoadSinceOptions): Promise<SessionEvent<E>[]>;
  /** The newest `limit` events, ascending. */
  loadLatest(key: ThreadKey, options: LoadLatestOptions): Promise<SessionEvent<E>[]>;
  /** The last ordinal handed out on the thread, `0` if none ever was. */
  head(key: ThreadKey, options?: CallOptions): Promise<number>;
  /**
   * Delete events with `seq < watermark` (the watermark is clamped to `head + 1`);
   * returns how many were deleted. Idempotent and monotonic.
   */
  archiveBefore(key: ThreadKey, watermark: number, options?: WriteOptions): Promise<number>;
  /**
   * Delete events with `seq > seq`; returns how many. The head stays where it is: the
   * next append gets `head + 1`, never a removed ordinal.
   */
  truncateAfter(key: ThreadKey, seq: number, options?: TruncateOptions): Promise<number>;
  /**
   * Delete every event of the thread; returns how many. The head is kept, so ordinals
   * are never reused, and moved one past, so an append conditional on a head read
   * before the deletion is `CONFLICT` instead of writing as if nothing had happened.
   */
  deleteThread(key: ThreadKey, options?: WriteOptions): Promise<number>;
  /** Thread ids of the tenant that ever held an event, in code-point order. */
  listThreads(tenantId: string, options: ListThreadsOptions): Promise<ThreadId[]>;
}

// ---------------------------------------------------------------------------------
// The adapter kit's side

/** An event as a driver reads it back. */
export interface SessionEventRow {
  readonly tenantId: unknown;
  readonly seq: unknown;
  /** The event's envelope text. */
  readonly payload: unknown;
  /** `Date` or epoch milliseconds. */
  readonly appendedAt: unknown;
}

/**
 * The storage operations of a session log. Arguments are validated and events
 * encoded. Reads return events in ascending ordinal order.
 */
export interface SessionLogDriver {
  /**
   * In one atomic step: with `expectedHead`, throw `expectedHeadConflict` and change
   * nothing unless the head equals it; with `truncateAfter`, delete `seq >
   * truncateAfter`; append the batch with the next ordinals; return the new head. The
   * batch is empty only when `truncateAfter` is given.
   */
  append(
    key: ThreadKey,
    payloads: readonly string[],
    condition: { expectedHead: number | undefined; truncateAfter: number | undefined },
    call: DriverWrite,
  ): Promise<number>;
  loadSince(
    key: ThreadKey,
    page: { cursor: number; limit: number | undefined },
    call: DriverCall,
  ): Promise<SessionEventRow[]>;
  loadLatest(key: ThreadKey, limit: number, call: DriverCall): Promise<SessionEventRow[]>;
  head(key: ThreadKey, call: DriverCall): Promise<number>;
  /** Delete `seq < min(watermark, head + 1)`; returns the count. */
  archiveBefore(key: ThreadKey, watermark: number, call: DriverWrite): Promise<number>;
  /**
   * Delete `seq > seq`, keeping the head, and return the count; with `expectedHead`,
   * `expectedHeadConflict` and nothing deleted unless the head equals it.
   */
  truncateAfter(
    key: ThreadKey,
    seq: number,
    expectedHead: number | undefined,
    call: DriverWrite,
  ): Promise<number>;
  /** Delete every event and move the head one past (a thread without one gets none); returns the count. */
  deleteThread(key: ThreadKey, call: DriverWrite): Promise<number>;
  listThreads(
    tenantId: TenantId,
    page: { limit: number; after: string | undefined },
    call: DriverCall,
  ): Promise<string[]>;
}

/**
 * Build the public {@link SessionLog} over a driver: arguments first, then options,
 * then encoding, then the signal, then the driver; rows checked and decoded here.
 */
export function createSessionLog<E>(
  driver: SessionLogDriver,
  formats: { readonly backend: string; readonly events: PayloadFormat<E> },
): SessionLog<E> {
  const { backend, events: format } = formats;
  const decodeAll = (rows: readonly SessionEventRow[], key: ThreadKey): SessionEvent<E>[] =>
    rows.map((row) => {
      assertRowTenant(row.tenantId, key, backend);
      const { seq, payload } = row;
      if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq <= 0) {
        throw new CorruptRecordError('stored event has a malformed ordinal', { backend });
      }
      if (typeof payload !== 'string') {
        throw new CorruptRecordError('stored event is not text', { backend });
      }
      return {
        seq,
        event: format.decode(payload),
        ts: decodeDate(row.appendedAt, backend, 'event timestamp'),
      };
    });
  const ordinal = (value: unknown, what: string): number => {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      throw new CorruptRecordError(`the backend returned ${describeValue(value)} as ${what}`, {
        backend,
      });
    }
    return value;
  };

  return {
    async append(key, events, options) {
      const threadKey = ThreadKey.from(key);
      if (!Array.isArray(events)) {
        throw new ConfigError(`events must be an array, got ${describeValue(events)}`);
      }
      const opts = readOptions<AppendOptions>(options, 'append options');
      const write = readWriteCall(opts, threadKey.tenantId, backend, 'append options');
      const expectedHead = readExpectedHead(opts.expectedHead);
      const truncateAfter =
        opts.truncateAfter === undefined
          ? undefined
          : assertNonNegativeInteger(opts.truncateAfter, 'truncateAfter');
      // The whole batch first: one bad event writes nothing.
      const payloads = events.map((event) => format.encode(event as E));
      const call = startWrite(write, backend);
      if (payloads.length === 0 && truncateAfter === undefined) {
        const head = ordinal(await driver.head(threadKey, call), 'the head');
        if (expectedHead !== undefined && head !== expectedHead) {
          throw expectedHeadConflict(expectedHead, backend);
        }
        return head;
      }
      const condition = { expectedHead, truncateAfter };
      return ordinal(await driver.append(threadKey, payloads, condition, call), 'the head');
    },

    async loadSince(key, cursor, options) {
      const threadKey = ThreadKey.from(key);
      const after = assertNonNegativeInteger(cursor, 'cursor');
      const opts = readOptions<LoadSinceOptions>(options, 'loadSince options');
      const limit =
        opts.limit === undefined ? undefined : assertPositiveInteger(opts.limit, 'limit');
      const call = startCall(readSignal(opts.signal), backend);
      return decodeAll(
        await driver.loadSince(threadKey, { cursor: after, limit }, call),
        threadKey,
      );
    },

    async loadLatest(key, options) {
      const threadKey = ThreadKey.from(key);
      const opts = readOptions<LoadLatestOptions>(options, 'loadLatest options');
      const limit = assertPositiveInteger(opts.limit, 'limit');
      const call = startCall(readSignal(opts.signal), backend);
      return decodeAll(await driver.loadLatest(threadKey, limit, call), threadKey);
    },

    async head(key, options) {
      const threadKey = ThreadKey.from(key);
      const opts = readOptions<CallOptions>(options, 'head options');
      const call = startCall(readSignal(opts.signal), backend);
      return ordinal(await driver.head(threadKey, call), 'the head');
    },

    async archiveBefore(key, watermark, options) {
      const threadKey = ThreadKey.from(key);
      const validWatermark = assertNonNegativeInteger(watermark, 'watermark');
      const write = readWriteCall(options, threadKey.tenantId, backend, 'archiveBefore options');
      return ordinal(
        await driver.archiveBefore(threadKey, validWatermark, startWrite(write, backend)),
        'a count',
      );
    },

    async truncateAfter(key, seq, options) {
      const threadKey = ThreadKey.from(key);
      const keepThrough = assertNonNegativeInteger(seq, 'seq');
      const opts = readOptions<TruncateOptions>(options, 'truncateAfter options');
      const write = readWriteCall(opts, threadKey.tenantId, backend, 'truncateAfter options');
      const expectedHead = readExpectedHead(opts.expectedHead);
      const count = await driver.truncateAfter(
        threadKey,
        keepThrough,
        expectedHead,
        startWrite(write, backend),
      );
      return ordinal(count, 'a count');
    },

    async deleteThread(key, options) {
      const threadKey = ThreadKey.from(key);
      const write = readWriteCall(options, threadKey.tenantId, backend, 'deleteThread options');
      return ordinal(await driver.deleteThread(threadKey, startWrite(write, backend)), 'a count');
    },

    async listThreads(tenantId, options) {
      const tenant = TenantId.parse(tenantId);
      const page = readListThreadsOptions(options);
      const call = startCall(page.signal, backend);
      return readThreadIds(await driver.listThreads(tenant, page, call), page, backend);
    },
  };
}

function readExpectedHead(value: unknown): number | undefined {
  return value === undefined ? undefined : assertNonNegativeInteger(value, 'expectedHead');
}

/** The `CONFLICT` of an `expectedHead` that is not the head; drivers throw it too. */
export function expectedHeadConflict(expectedHead: number, backend: string): ConflictError {
  return new ConflictError(
    `the head is not ${expectedHead}: another write came first; nothing was changed`,
    { backend },
  );
}
