import {
  type CallOptions,
  CorruptRecordError,
  type PayloadFormat,
  readEvents,
  readFence,
  readLoadSinceArguments,
  readOptions,
  readWatermark,
  type SessionEvent,
  type SessionLog,
  ThreadKey,
  throwIfAborted,
  type WriteOptions,
} from '@entelix/core';
import {
  assertNewestFence,
  BACKEND,
  readTenantRecord,
  type StorageClient,
  storageKeys,
  writeRecord,
} from './storage.js';

/**
 * Per-thread bookkeeping. The live events are exactly the ordinals
 * `firstLiveOrdinal..headOrdinal`, so reads and archives walk ordinals with `get`
 * instead of scanning. The record outlives archives and deletes: that is what keeps
 * ordinals from ever being handed out twice.
 */
interface LogThread {
  tenantId: string;
  headOrdinal: number;
  firstLiveOrdinal: number;
}

/** One event as stored; `payload` is envelope text. */
interface StoredEvent {
  tenantId: string;
  seq: number;
  appendedAtMs: number;
  payload: string;
}

/** The session log as one record per event plus one per thread. */
export function createKeyValueSessionLog<E>(
  client: StorageClient,
  format: PayloadFormat<E>,
): SessionLog<E> {
  const readThread = (key: ThreadKey): LogThread =>
    readTenantRecord<LogThread>(client, storageKeys.logThread(key), key.tenantId) ?? {
      tenantId: key.tenantId,
      headOrdinal: 0,
      firstLiveOrdinal: 1,
    };

  /** Delete the live events below `endOrdinal` and return how many there were. */
  const deleteLiveBelow = (key: ThreadKey, thread: LogThread, endOrdinal: number): number => {
    let deleted = 0;
    for (let seq = thread.firstLiveOrdinal; seq < endOrdinal; seq++) {
      if (client.delete(storageKeys.logEvent(key, seq))) deleted++;
    }
    if (endOrdinal > thread.firstLiveOrdinal) {
      writeRecord(client, storageKeys.logThread(key), {
        ...thread,
        firstLiveOrdinal: endOrdinal,
      } satisfies LogThread);
    }
    return deleted;
  };

  return {
    async append(key, events, options) {
      const threadKey = ThreadKey.from(key);
      const batch = readEvents<E>(events);
      const opts = readOptions<WriteOptions>(options);
      const fence = readFence(opts.fence, threadKey.tenantId, BACKEND);
      // Encode the whole batch first: one bad event must leave the log untouched.
      const payloads = batch.map((event) => format.encode(event));
      throwIfAborted(opts.signal, BACKEND);
      assertNewestFence(client, fence);
      const thread = readThread(threadKey);
      if (payloads.length === 0) return thread.headOrdinal;
      const appendedAtMs = Date.now();
      payloads.forEach((payload, i) => {
        const seq = thread.headOrdinal + 1 + i;
        writeRecord(client, storageKeys.logEvent(threadKey, seq), {
          tenantId: threadKey.tenantId,
          seq,
          appendedAtMs,
          payload,
        } satisfies StoredEvent);
      });
      const headOrdinal = thread.headOrdinal + payloads.length;
      writeRecord(client, storageKeys.logThread(threadKey), {
        ...thread,
        headOrdinal,
      } satisfies LogThread);
      return headOrdinal;
    },

    async loadSince(key, cursor, options) {
      const threadKey = ThreadKey.from(key);
      const args = readLoadSinceArguments(cursor, options);
      throwIfAborted(args.signal, BACKEND);
      const thread = readThread(threadKey);
      const limit = args.limit ?? Number.POSITIVE_INFINITY;
      const loaded: SessionEvent<E>[] = [];
      const first = Math.max(args.cursor + 1, thread.firstLiveOrdinal);
      for (let seq = first; seq <= thread.headOrdinal && loaded.length < limit; seq++) {
        const stored = readTenantRecord<StoredEvent>(
          client,
          storageKeys.logEvent(threadKey, seq),
          threadKey.tenantId,
        );
        // Every ordinal in the live range has its event; a hole is not ours to hide.
        if (stored === undefined) throw missingEvent(seq);
        loaded.push({
          seq: stored.seq,
          event: format.decode(stored.payload),
          ts: new Date(stored.appendedAtMs),
        });
      }
      return loaded;
    },

    async head(key, options) {
      const threadKey = ThreadKey.from(key);
      throwIfAborted(readOptions<CallOptions>(options).signal, BACKEND);
      return readThread(threadKey).headOrdinal;
    },

    async archiveBefore(key, watermark, options) {
      const threadKey = ThreadKey.from(key);
      const requested = readWatermark(watermark);
      const opts = readOptions<WriteOptions>(options);
      const fence = readFence(opts.fence, threadKey.tenantId, BACKEND);
      throwIfAborted(opts.signal, BACKEND);
      assertNewestFence(client, fence);
      const thread = readThread(threadKey);
      // Clamped to head + 1: archiving can never reach ordinals not yet handed out.
      return deleteLiveBelow(threadKey, thread, Math.min(requested, thread.headOrdinal + 1));
    },

    async deleteThread(key, options) {
      const threadKey = ThreadKey.from(key);
      const opts = readOptions<WriteOptions>(options);
      const fence = readFence(opts.fence, threadKey.tenantId, BACKEND);
      throwIfAborted(opts.signal, BACKEND);
      assertNewestFence(client, fence);
      const thread = readThread(threadKey);
      return deleteLiveBelow(threadKey, thread, thread.headOrdinal + 1);
    },
  };
}

function missingEvent(seq: number) {
  return new CorruptRecordError(`event ${seq} is missing from the live range of its log`, {
    backend: BACKEND,
  });
}
