import {
  type CallOptions,
  type Checkpoint,
  type Checkpointer,
  Checkpoint as CheckpointHelpers,
  CheckpointId,
  ConflictError,
  NotFoundError,
  type PayloadFormat,
  readFence,
  readListHistoryOptions,
  readOptions,
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

/** One checkpoint as stored; `payload` is envelope text, decoded afresh on every read. */
interface StoredCheckpoint {
  tenantId: string;
  id: string;
  parentId: string | null;
  step: number;
  nextNode: string | null;
  createdAtMs: number;
  /** Position in the thread's write order, assigned here, never by the caller. */
  writeSeq: number;
  payload: string;
}

/** Per-thread bookkeeping, so `getLatest` is one lookup rather than a scan. */
interface CheckpointThread {
  tenantId: string;
  lastWriteSeq: number;
  latestId: string;
}

/** Checkpoints as one record per checkpoint plus one record per thread. */
export function createKeyValueCheckpointer<S>(
  client: StorageClient,
  format: PayloadFormat<S>,
): Checkpointer<S> {
  const readCheckpoint = (key: ThreadKey, id: string) =>
    readTenantRecord<StoredCheckpoint>(client, storageKeys.checkpoint(key, id), key.tenantId);

  const readThread = (key: ThreadKey) =>
    readTenantRecord<CheckpointThread>(client, storageKeys.checkpointThread(key), key.tenantId);

  const readAllInWriteOrder = (key: ThreadKey): StoredCheckpoint[] =>
    client
      .keys(storageKeys.checkpointsOf(key))
      .flatMap((storageKey) => {
        const row = readTenantRecord<StoredCheckpoint>(client, storageKey, key.tenantId);
        return row === undefined ? [] : [row];
      })
      .sort((x, y) => x.writeSeq - y.writeSeq);

  const appendCheckpoint = (
    key: ThreadKey,
    row: Omit<StoredCheckpoint, 'writeSeq' | 'tenantId'>,
  ) => {
    const writeSeq = (readThread(key)?.lastWriteSeq ?? 0) + 1;
    writeRecord(client, storageKeys.checkpoint(key, row.id), {
      ...row,
      tenantId: key.tenantId,
      writeSeq,
    } satisfies StoredCheckpoint);
    writeRecord(client, storageKeys.checkpointThread(key), {
      tenantId: key.tenantId,
      lastWriteSeq: writeSeq,
      latestId: row.id,
    } satisfies CheckpointThread);
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
      const fence = readFence(opts.fence, cp.key.tenantId, BACKEND);
      const payload = format.encode(cp.state);
      throwIfAborted(opts.signal, BACKEND);
      // From here to the end nothing awaits, so check and write are one atomic step.
      assertNewestFence(client, fence);
      if (readCheckpoint(cp.key, cp.id) !== undefined) {
        throw new ConflictError(`checkpoint ${cp.id} already exists on this thread`, {
          backend: BACKEND,
        });
      }
      appendCheckpoint(cp.key, {
        id: cp.id,
        parentId: cp.parentId,
        step: cp.step,
        nextNode: cp.nextNode,
        createdAtMs: cp.createdAt.getTime(),
        payload,
      });
    },

    async getLatest(key, options) {
      const threadKey = ThreadKey.from(key);
      throwIfAborted(readOptions<CallOptions>(options).signal, BACKEND);
      const thread = readThread(threadKey);
      if (thread === undefined) return undefined;
      const latest = readCheckpoint(threadKey, thread.latestId);
      return latest === undefined ? undefined : toCheckpoint(threadKey, latest);
    },

    async getById(key, id, options) {
      const threadKey = ThreadKey.from(key);
      const checkpointId = CheckpointId.parse(id);
      throwIfAborted(readOptions<CallOptions>(options).signal, BACKEND);
      const row = readCheckpoint(threadKey, checkpointId);
      return row === undefined ? undefined : toCheckpoint(threadKey, row);
    },

    async listHistory(key, options) {
      const threadKey = ThreadKey.from(key);
      const { limit, before, signal } = readListHistoryOptions(options);
      throwIfAborted(signal, BACKEND);
      let writtenBefore = Number.POSITIVE_INFINITY;
      if (before !== undefined) {
        const anchor = readCheckpoint(threadKey, before);
        // An unknown anchor has nothing written before it on this thread.
        if (anchor === undefined) return [];
        writtenBefore = anchor.writeSeq;
      }
      return readAllInWriteOrder(threadKey)
        .filter((row) => row.writeSeq < writtenBefore)
        .slice(-limit)
        .reverse()
        .map((row) => toCheckpoint(threadKey, row));
    },

    async updateState(key, parentId, state, options) {
      const threadKey = ThreadKey.from(key);
      const parent = CheckpointId.parse(parentId);
      const opts = readOptions<WriteOptions>(options);
      const fence = readFence(opts.fence, threadKey.tenantId, BACKEND);
      const payload = format.encode(state);
      throwIfAborted(opts.signal, BACKEND);
      assertNewestFence(client, fence);
      const parentRow = readCheckpoint(threadKey, parent);
      if (parentRow === undefined) {
        throw new NotFoundError(`parent checkpoint ${parent} does not exist on this thread`, {
          backend: BACKEND,
        });
      }
      const id = CheckpointId.create();
      appendCheckpoint(threadKey, {
        id,
        parentId: parent,
        step: parentRow.step + 1,
        nextNode: parentRow.nextNode,
        createdAtMs: Date.now(),
        payload,
      });
      return id;
    },

    async deleteThread(key, options) {
      const threadKey = ThreadKey.from(key);
      const opts = readOptions<WriteOptions>(options);
      const fence = readFence(opts.fence, threadKey.tenantId, BACKEND);
      throwIfAborted(opts.signal, BACKEND);
      assertNewestFence(client, fence);
      let deleted = 0;
      for (const storageKey of client.keys(storageKeys.checkpointsOf(threadKey))) {
        if (client.delete(storageKey)) deleted++;
      }
      client.delete(storageKeys.checkpointThread(threadKey));
      return deleted;
    },
  };
}
