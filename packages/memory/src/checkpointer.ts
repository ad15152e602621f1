import {
  type CallOptions,
  type Checkpoint,
  type Checkpointer,
  Checkpoint as CheckpointHelpers,
  type CheckpointId,
  CheckpointId as CheckpointIds,
  ConflictError,
  type ListHistoryOptions,
  NotFoundError,
  type PayloadFormat,
  readListHistoryOptions,
  readOptions,
  ThreadKey,
  throwIfAborted,
  type WriteOptions,
} from '@entelix/core';
import {
  BACKEND,
  type CheckpointThread,
  checkFence,
  type MemoryDatabase,
  type StoredCheckpoint,
} from './database.js';

/** The memory checkpointer: one `CheckpointThread` per thread, in write order. */
export function createMemoryCheckpointer<S>(
  database: MemoryDatabase,
  format: PayloadFormat<S>,
  now: () => number,
): Checkpointer<S> {
  const threadOf = (key: ThreadKey) => database.checkpoints.get(ThreadKey.render(key));

  const append = (key: ThreadKey, stored: Omit<StoredCheckpoint, 'seq'>) => {
    const rendered = ThreadKey.render(key);
    let thread: CheckpointThread | undefined = database.checkpoints.get(rendered);
    if (thread === undefined) {
      thread = { nextSeq: 1, byId: new Map(), inWriteOrder: [] };
      database.checkpoints.set(rendered, thread);
    }
    const row = { ...stored, seq: thread.nextSeq++ };
    thread.byId.set(row.id, row);
    thread.inWriteOrder.push(row);
  };

  const toCheckpoint = (key: ThreadKey, row: StoredCheckpoint): Checkpoint<S> => ({
    id: row.id as CheckpointId,
    key: ThreadKey.of(key.tenantId, key.threadId),
    parentId: row.parentId as CheckpointId | null,
    step: row.step,
    state: format.decode(row.payload),
    nextNode: row.nextNode,
    createdAt: new Date(row.createdAtMs),
  });

  return {
    async put(checkpoint, options) {
      const cp = CheckpointHelpers.validate<S>(checkpoint);
      const opts = readOptions<WriteOptions>(options);
      const payload = format.encode(cp.state);
      throwIfAborted(opts.signal, BACKEND);
      checkFence(database, opts.fence, cp.key.tenantId);
      if (threadOf(cp.key)?.byId.has(cp.id)) {
        throw new ConflictError(`checkpoint ${cp.id} already exists on this thread`, {
          backend: BACKEND,
        });
      }
      append(cp.key, {
        id: cp.id,
        parentId: cp.parentId,
        step: cp.step,
        payload,
        nextNode: cp.nextNode,
        createdAtMs: cp.createdAt.getTime(),
      });
    },

    async getLatest(key, options) {
      const threadKey = ThreadKey.from(key);
      throwIfAborted(readOptions<CallOptions>(options).signal, BACKEND);
      const rows = threadOf(threadKey)?.inWriteOrder;
      const latest = rows?.[rows.length - 1];
      return latest === undefined ? undefined : toCheckpoint(threadKey, latest);
    },

    async getById(key, id, options) {
      const threadKey = ThreadKey.from(key);
      const checkpointId = CheckpointIds.parse(id);
      throwIfAborted(readOptions<CallOptions>(options).signal, BACKEND);
      const row = threadOf(threadKey)?.byId.get(checkpointId);
      return row === undefined ? undefined : toCheckpoint(threadKey, row);
    },

    async listHistory(key, options: ListHistoryOptions) {
      const threadKey = ThreadKey.from(key);
      const { limit, before, signal } = readListHistoryOptions(options);
      throwIfAborted(signal, BACKEND);
      const thread = threadOf(threadKey);
      if (thread === undefined) return [];
      let end = thread.inWriteOrder.length;
      if (before !== undefined) {
        const anchor = thread.byId.get(before);
        if (anchor === undefined) return [];
        end = thread.inWriteOrder.indexOf(anchor);
      }
      const page = thread.inWriteOrder.slice(Math.max(0, end - limit), end).reverse();
      return page.map((row) => toCheckpoint(threadKey, row));
    },

    async updateState(key, parentId, state, options) {
      const threadKey = ThreadKey.from(key);
      const parent = CheckpointIds.parse(parentId);
      const opts = readOptions<WriteOptions>(options);
      const payload = format.encode(state);
      throwIfAborted(opts.signal, BACKEND);
      checkFence(database, opts.fence, threadKey.tenantId);
      const parentRow = threadOf(threadKey)?.byId.get(parent);
      if (parentRow === undefined) {
        throw new NotFoundError(`parent checkpoint ${parent} does not exist on this thread`, {
          backend: BACKEND,
        });
      }
      const id = CheckpointIds.create();
      append(threadKey, {
        id,
        parentId: parent,
        step: parentRow.step + 1,
        payload,
        nextNode: parentRow.nextNode,
        createdAtMs: now(),
      });
      return id;
    },

    async deleteThread(key, options) {
      const threadKey = ThreadKey.from(key);
      const opts = readOptions<WriteOptions>(options);
      throwIfAborted(opts.signal, BACKEND);
      checkFence(database, opts.fence, threadKey.tenantId);
      const rendered = ThreadKey.render(threadKey);
      const count = database.checkpoints.get(rendered)?.inWriteOrder.length ?? 0;
      database.checkpoints.delete(rendered);
      return count;
    },
  };
}
