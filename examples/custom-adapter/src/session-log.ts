import type { ThreadKey } from '@entelix/core';
import {
  expectedHeadConflict,
  type SessionEventRow,
  type SessionLogDriver,
} from '@entelix/core/adapter';
import {
  atOrdinal,
  BACKEND,
  checkCounter,
  checkFence,
  deleteKeys,
  readListedRecord,
  readTenantRecord,
  type StorageClient,
  storageKeys,
  walkKeys,
  writeRecord,
} from './storage.js';

/**
 * The last ordinal handed out. Archives and truncations keep it; deleting the thread
 * and purging its tenant move it one past, so that an append conditional on a head
 * read before the deletion is refused instead of writing as if nothing happened.
 */
interface SessionHead {
  tenantId: string;
  headOrdinal: number;
}

/** Move the head of a thread that ever held an event one past the last ordinal handed out. */
export function moveHeadPast(client: StorageClient, key: ThreadKey): void {
  const headKey = storageKeys.sessionHead(key);
  const head = readTenantRecord<SessionHead>(client, headKey, key.tenantId);
  if (head === undefined) return;
  const headOrdinal = checkCounter(head.headOrdinal, 'session head') + 1;
  writeRecord(client, headKey, { tenantId: key.tenantId, headOrdinal } satisfies SessionHead);
}

/** An event as stored: the row the kit checks and decodes. */
interface StoredEvent {
  tenantId: string;
  seq: number;
  /** The event's envelope text. */
  payload: string;
  appendedAt: number;
}

/** Events keyed by ordinal, so every read and removal is one range of one thread. */
export function createKeyValueSessionLog(client: StorageClient): SessionLogDriver {
  const headOf = (key: ThreadKey) => {
    const head = readTenantRecord<SessionHead>(client, storageKeys.sessionHead(key), key.tenantId);
    return head === undefined ? 0 : checkCounter(head.headOrdinal, 'session head');
  };

  const readEventRows = (keys: Iterable<string>) =>
    [...keys].map((eventKey) => readListedRecord<SessionEventRow>(client, eventKey));

  const expectHead = (key: ThreadKey, expectedHead: number | undefined): number => {
    const head = headOf(key);
    if (expectedHead !== undefined && head !== expectedHead) {
      throw expectedHeadConflict(expectedHead, BACKEND);
    }
    return head;
  };

  return {
    async append(key, payloads, { expectedHead, truncateAfter }, call) {
      checkFence(client, call.fence);
      const head = expectHead(key, expectedHead);
      const events = storageKeys.sessionEventsOf(key);
      if (truncateAfter !== undefined) {
        deleteKeys(client, events, { after: atOrdinal(events, truncateAfter) });
      }
      // A head is written only for a thread that holds or held an event.
      if (payloads.length === 0) return head;
      const appendedAt = Date.now();
      payloads.forEach((payload, i) => {
        const seq = head + 1 + i;
        writeRecord(client, atOrdinal(events, seq), {
          tenantId: key.tenantId,
          seq,
          payload,
          appendedAt,
        } satisfies StoredEvent);
      });
      const headOrdinal = head + payloads.length;
      writeRecord(client, storageKeys.sessionHead(key), {
        tenantId: key.tenantId,
        headOrdinal,
      } satisfies SessionHead);
      return headOrdinal;
    },

    async loadSince(key, page) {
      const events = storageKeys.sessionEventsOf(key);
      return readEventRows(
        walkKeys(client, events, { after: atOrdinal(events, page.cursor), limit: page.limit }),
      );
    },

    async loadLatest(key, limit) {
      const newestFirst = client.keys(storageKeys.sessionEventsOf(key), { reverse: true, limit });
      return readEventRows(newestFirst.reverse());
    },

    async head(key) {
      return headOf(key);
    },

    async archiveBefore(key, watermark, call) {
      checkFence(client, call.fence);
      // Clamped to head + 1: archiving can never reach ordinals not yet handed out.
      const end = Math.min(watermark, headOf(key) + 1);
      const events = storageKeys.sessionEventsOf(key);
      return deleteKeys(client, events, { before: atOrdinal(events, end) });
    },

    async truncateAfter(key, seq, expectedHead, call) {
      checkFence(client, call.fence);
      if (expectedHead !== undefined) expectHead(key, expectedHead);
      const events = storageKeys.sessionEventsOf(key);
      return deleteKeys(client, events, { after: atOrdinal(events, seq) });
    },

    async deleteThread(key, call) {
      checkFence(client, call.fence);
      const deleted = deleteKeys(client, storageKeys.sessionEventsOf(key));
      moveHeadPast(client, key);
      return deleted;
    },

    async listThreads(tenantId, page) {
      // A head outlives its events, so a thread is listed once it has held one.
      const prefix = storageKeys.ofTenant('session-head', tenantId);
      const after = page.after === undefined ? undefined : prefix + page.after;
      return client
        .keys(prefix, { after, limit: page.limit })
        .map((headKey) => headKey.slice(prefix.length));
    },
  };
}
