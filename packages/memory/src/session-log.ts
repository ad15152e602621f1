import type { ThreadKey } from '@entelix/core';
import { expectedHeadConflict, type SessionLogDriver } from '@entelix/core/adapter';
import {
  BACKEND,
  checkFence,
  type EventThread,
  type MemoryDatabase,
  tenantThreads,
} from './database.js';

/** Events in ordinal order per thread, the head kept forever (a deletion moves it one past). */
export function createMemorySessionLog(
  database: MemoryDatabase,
  now: () => number,
): SessionLogDriver {
  const threadOf = (key: ThreadKey) => database.sessionLogs.get(key.tenantId)?.get(key.threadId);
  const checkHead = (key: ThreadKey, expectedHead: number | undefined) => {
    const current = threadOf(key)?.headOrdinal ?? 0;
    if (expectedHead !== undefined && current !== expectedHead) {
      throw expectedHeadConflict(expectedHead, BACKEND);
    }
  };
  const toRows = (key: ThreadKey, events: EventThread['events']) =>
    events.map((event) => ({
      tenantId: key.tenantId,
      seq: event.seq,
      payload: event.payload,
      appendedAt: event.appendedAtMs,
    }));

  return {
    async append(key, payloads, { expectedHead, truncateAfter }, call) {
      checkFence(database, call.fence);
      checkHead(key, expectedHead);
      // A conditional truncation of a thread that never held an event changes nothing.
      if (payloads.length === 0 && threadOf(key) === undefined) return 0;
      const thread = tenantThreads(database.sessionLogs, key.tenantId).getOrCreate(
        key.threadId,
        (): EventThread => ({ headOrdinal: 0, events: [] }),
      );
      if (truncateAfter !== undefined) {
        thread.events = thread.events.filter((event) => event.seq <= truncateAfter);
      }
      const appendedAtMs = now();
      for (const payload of payloads) {
        thread.headOrdinal += 1;
        thread.events.push({ seq: thread.headOrdinal, payload, appendedAtMs });
      }
      return thread.headOrdinal;
    },

    async loadSince(key, page) {
      const after = (threadOf(key)?.events ?? []).filter((event) => event.seq > page.cursor);
      return toRows(key, page.limit === undefined ? after : after.slice(0, page.limit));
    },

    async loadLatest(key, limit) {
      const events = threadOf(key)?.events ?? [];
      return toRows(key, events.slice(Math.max(0, events.length - limit)));
    },

    async head(key) {
      return threadOf(key)?.headOrdinal ?? 0;
    },

    async archiveBefore(key, watermark, call) {
      checkFence(database, call.fence);
      const thread = threadOf(key);
      if (thread === undefined) return 0;
      const effective = Math.min(watermark, thread.headOrdinal + 1);
      const before = thread.events.length;
      thread.events = thread.events.filter((event) => event.seq >= effective);
      return before - thread.events.length;
    },

    async truncateAfter(key, seq, expectedHead, call) {
      checkFence(database, call.fence);
      checkHead(key, expectedHead);
      const thread = threadOf(key);
      if (thread === undefined) return 0;
      const before = thread.events.length;
      thread.events = thread.events.filter((event) => event.seq <= seq);
      return before - thread.events.length;
    },

    async deleteThread(key, call) {
      checkFence(database, call.fence);
      const thread = threadOf(key);
      if (thread === undefined) return 0;
      const count = thread.events.length;
      thread.events = [];
      // One past, so an append conditional on the head read before this is refused.
      thread.headOrdinal += 1;
      return count;
    },

    async listThreads(tenantId, page) {
      return database.sessionLogs.get(tenantId)?.page(page.limit, page.after) ?? [];
    },
  };
}
