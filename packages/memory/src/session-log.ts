import {
  type CallOptions,
  type PayloadFormat,
  readEvents,
  readLoadSinceArguments,
  readOptions,
  readWatermark,
  type SessionLog,
  ThreadKey,
  throwIfAborted,
  type WriteOptions,
} from '@entelix/core';
import { BACKEND, checkFence, type EventThread, type MemoryDatabase } from './database.js';

/** The memory session log: events in ordinal order, the head kept forever. */
export function createMemorySessionLog<E>(
  database: MemoryDatabase,
  format: PayloadFormat<E>,
  now: () => number,
): SessionLog<E> {
  const threadOf = (key: ThreadKey) => database.sessionLogs.get(ThreadKey.render(key));

  return {
    async append(key, events, options) {
      const threadKey = ThreadKey.from(key);
      const batch = readEvents<E>(events);
      const opts = readOptions<WriteOptions>(options);
      // Encode the whole batch first: one bad event must leave the log untouched.
      const payloads = batch.map((event) => format.encode(event));
      throwIfAborted(opts.signal, BACKEND);
      checkFence(database, opts.fence, threadKey.tenantId);
      const rendered = ThreadKey.render(threadKey);
      let thread: EventThread | undefined = database.sessionLogs.get(rendered);
      if (payloads.length === 0) return thread?.headOrdinal ?? 0;
      if (thread === undefined) {
        thread = { headOrdinal: 0, events: [] };
        database.sessionLogs.set(rendered, thread);
      }
      const appendedAtMs = now();
      for (const payload of payloads) {
        thread.headOrdinal += 1;
        thread.events.push({ seq: thread.headOrdinal, payload, appendedAtMs });
      }
      return thread.headOrdinal;
    },

    async loadSince(key, cursor, options) {
      const threadKey = ThreadKey.from(key);
      const args = readLoadSinceArguments(cursor, options);
      throwIfAborted(args.signal, BACKEND);
      const events = threadOf(threadKey)?.events ?? [];
      const after = events.filter((event) => event.seq > args.cursor);
      const page = args.limit === undefined ? after : after.slice(0, args.limit);
      return page.map((event) => ({
        seq: event.seq,
        event: format.decode(event.payload),
        ts: new Date(event.appendedAtMs),
      }));
    },

    async head(key, options) {
      const threadKey = ThreadKey.from(key);
      throwIfAborted(readOptions<CallOptions>(options).signal, BACKEND);
      return threadOf(threadKey)?.headOrdinal ?? 0;
    },

    async archiveBefore(key, watermark, options) {
      const threadKey = ThreadKey.from(key);
      const requested = readWatermark(watermark);
      const opts = readOptions<WriteOptions>(options);
      throwIfAborted(opts.signal, BACKEND);
      checkFence(database, opts.fence, threadKey.tenantId);
      const thread = threadOf(threadKey);
      if (thread === undefined) return 0;
      const effective = Math.min(requested, thread.headOrdinal + 1);
      const before = thread.events.length;
      thread.events = thread.events.filter((event) => event.seq >= effective);
      return before - thread.events.length;
    },

    async deleteThread(key, options) {
      const threadKey = ThreadKey.from(key);
      const opts = readOptions<WriteOptions>(options);
      throwIfAborted(opts.signal, BACKEND);
      checkFence(database, opts.fence, threadKey.tenantId);
      const thread = threadOf(threadKey);
      if (thread === undefined) return 0;
      const count = thread.events.length;
      thread.events = [];
      return count;
    },
  };
}
