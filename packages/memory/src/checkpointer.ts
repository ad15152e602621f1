import { ConflictError, NotFoundError, type ThreadKey } from '@entelix/core';
import {
  type CheckpointerDriver,
  type CheckpointRow,
  matchesMetadataFilter,
} from '@entelix/core/adapter';
import {
  BACKEND,
  type CheckpointThread,
  checkFence,
  checkpointKey,
  type MemoryDatabase,
  type StoredCheckpoint,
  type StoredWrite,
  tenantThreads,
  writeKey,
} from './database.js';

/** Checkpoints per thread in write order, each with its pending writes. */
export function createMemoryCheckpointer(database: MemoryDatabase): CheckpointerDriver {
  const threadOf = (key: ThreadKey) => database.checkpoints.get(key.tenantId)?.get(key.threadId);

  const append = (key: ThreadKey, stored: StoredCheckpoint) => {
    const thread = tenantThreads(database.checkpoints, key.tenantId).getOrCreate(
      key.threadId,
      (): CheckpointThread => ({ nextSeq: 1, byKey: new Map(), inWriteOrder: [] }),
    );
    stored.seq = thread.nextSeq++;
    thread.byKey.set(checkpointKey(stored.ns, stored.id), stored);
    thread.inWriteOrder.push(stored);
  };

  const toRow = (key: ThreadKey, stored: StoredCheckpoint): CheckpointRow => ({
    tenantId: key.tenantId,
    threadId: key.threadId,
    ns: stored.ns,
    id: stored.id,
    parentId: stored.parentId,
    step: stored.step,
    nextNode: stored.nextNode,
    metadata: stored.metadataJson,
    payload: stored.payload,
    createdAt: stored.createdAtMs,
    writes: stored.writes === undefined ? [] : [...stored.writes.values()],
  });

  const remove = (key: ThreadKey, thread: CheckpointThread, doomed: Set<StoredCheckpoint>) => {
    for (const stored of doomed) thread.byKey.delete(checkpointKey(stored.ns, stored.id));
    thread.inWriteOrder = thread.inWriteOrder.filter((stored) => !doomed.has(stored));
    if (thread.inWriteOrder.length === 0)
      database.checkpoints.get(key.tenantId)?.delete(key.threadId);
  };

  /** The checkpoint `id` of (key, ns), or `NotFoundError`. */
  const existing = (key: ThreadKey, ns: string, id: string): StoredCheckpoint => {
    const stored = threadOf(key)?.byKey.get(checkpointKey(ns, id));
    if (stored === undefined) {
      throw new NotFoundError(`checkpoint ${id} does not exist on this thread`, {
        backend: BACKEND,
      });
    }
    return stored;
  };

  /** First wins for idx >= 0, last for idx < 0. */
  const attachWrites = (stored: StoredCheckpoint, writes: readonly StoredWrite[]) => {
    stored.writes ??= new Map();
    for (const write of writes) {
      const slot = writeKey(write.taskId, write.idx);
      if (write.idx >= 0 && stored.writes.has(slot)) continue;
      stored.writes.set(slot, write);
    }
  };

  return {
    async put(record, call) {
      checkFence(database, call.fence);
      const parent =
        record.parentWrites.length === 0 || record.parentId === null
          ? undefined
          : existing(record.key, record.ns, record.parentId);
      if (threadOf(record.key)?.byKey.has(checkpointKey(record.ns, record.id))) {
        throw new ConflictError(`checkpoint ${record.id} already exists on this thread`, {
          backend: BACKEND,
        });
      }
      append(record.key, {
        ns: record.ns,
        id: record.id,
        parentId: record.parentId,
        step: record.step,
        payload: record.payload,
        nextNode: record.nextNode,
        metadataJson: record.metadataJson,
        createdAtMs: record.createdAt.getTime(),
        seq: 0,
        writes: undefined,
      });
      // Copies, as putWrites stores them: what is stored outlives the call.
      if (parent !== undefined)
        attachWrites(
          parent,
          record.parentWrites.map(({ taskId, taskPath, idx, channel, payload }) => ({
            taskId,
            taskPath,
            idx,
            channel,
            payload,
          })),
        );
    },

    async getLatest(key, ns) {
      const rows = threadOf(key)?.inWriteOrder ?? [];
      for (let i = rows.length - 1; i >= 0; i--) {
        const stored = rows[i] as StoredCheckpoint;
        if (stored.ns === ns) return toRow(key, stored);
      }
      return undefined;
    },

    async getById(key, ns, id) {
      const stored = threadOf(key)?.byKey.get(checkpointKey(ns, id));
      return stored === undefined ? undefined : toRow(key, stored);
    },

    async listHistory(key, query) {
      const thread = threadOf(key);
      let end = thread?.inWriteOrder.length ?? 0;
      if (query.before !== undefined) {
        const anchor = thread?.inWriteOrder.find((stored) => stored.id === query.before);
        if (thread === undefined || anchor === undefined) {
          throw new NotFoundError(`checkpoint ${query.before} is not on this thread`, {
            backend: BACKEND,
          });
        }
        end = thread.inWriteOrder.indexOf(anchor);
      }
      const page: CheckpointRow[] = [];
      for (let i = end - 1; i >= 0 && page.length < query.limit; i--) {
        const stored = (thread as CheckpointThread).inWriteOrder[i] as StoredCheckpoint;
        if (query.ns !== undefined && stored.ns !== query.ns) continue;
        if (
          query.filter !== undefined &&
          !matchesMetadataFilter(JSON.parse(stored.metadataJson), query.filter)
        ) {
          continue;
        }
        page.push(toRow(key, stored));
      }
      return page;
    },

    async fork(fork, call) {
      checkFence(database, call.fence);
      const parent = threadOf(fork.key)?.byKey.get(checkpointKey(fork.ns, fork.parentId));
      if (parent === undefined) {
        throw new NotFoundError(
          `parent checkpoint ${fork.parentId} does not exist on this thread`,
          {
            backend: BACKEND,
          },
        );
      }
      append(fork.key, {
        ns: fork.ns,
        id: fork.id,
        parentId: fork.parentId,
        step: parent.step + 1,
        payload: fork.payload,
        nextNode: parent.nextNode,
        metadataJson: fork.metadataJson,
        createdAtMs: fork.createdAt.getTime(),
        seq: 0,
        writes: undefined,
      });
    },

    async deleteThread(key, call) {
      checkFence(database, call.fence);
      const count = threadOf(key)?.inWriteOrder.length ?? 0;
      database.checkpoints.get(key.tenantId)?.delete(key.threadId);
      return count;
    },

    async putWrites(key, target, writes, call) {
      checkFence(database, call.fence);
      const stored = existing(key, target.ns, target.checkpointId);
      attachWrites(
        stored,
        writes.map(({ idx, channel, payload }) => ({
          taskId: target.taskId,
          taskPath: target.taskPath,
          idx,
          channel,
          payload,
        })),
      );
    },

    async prune(key, keep, call) {
      checkFence(database, call.fence);
      const thread = threadOf(key);
      if (thread === undefined) return 0;
      const keptPerNs = new Map<string, number>();
      const doomed = new Set<StoredCheckpoint>();
      for (let i = thread.inWriteOrder.length - 1; i >= 0; i--) {
        const stored = thread.inWriteOrder[i] as StoredCheckpoint;
        if (keep.ns !== undefined && stored.ns !== keep.ns) continue;
        const kept = keptPerNs.get(stored.ns) ?? 0;
        if (kept < keep.keepLatest) keptPerNs.set(stored.ns, kept + 1);
        else doomed.add(stored);
      }
      remove(key, thread, doomed);
      return doomed.size;
    },

    async listThreads(tenantId, page) {
      return database.checkpoints.get(tenantId)?.page(page.limit, page.after) ?? [];
    },
  };
}
