import {
  ConflictError,
  CorruptRecordError,
  type JsonObject,
  NotFoundError,
  type ThreadKey,
} from '@entelix/core';
import {
  type CheckpointerDriver,
  type CheckpointRow,
  matchesMetadataFilter,
  type ParentWriteRecord,
  type PendingWriteRow,
} from '@entelix/core/adapter';
import {
  atOrdinal,
  BACKEND,
  checkCounter,
  checkFence,
  deleteKeys,
  hasKeys,
  ordinalOfKey,
  readListedRecord,
  readOrdinal,
  readTenantRecord,
  type StorageClient,
  storageKeys,
  walkKeys,
  writeRecord,
} from './storage.js';

/** A checkpoint as stored: the row the kit checks and decodes, less its pending writes. */
interface StoredCheckpoint {
  tenantId: string;
  threadId: string;
  ns: string;
  id: string;
  parentId: string | null;
  step: number;
  nextNode: string | null;
  metadata: JsonObject;
  /** The state's envelope text. */
  payload: string;
  createdAt: number;
}

/** The thread's write-order counter; it exists exactly while the thread holds a checkpoint. */
interface CheckpointThread {
  tenantId: string;
  lastWriteSeq: number;
}

/**
 * Checkpoints keyed by the thread's write sequence, so history is a scan in key order;
 * an index per namespace in the same order, an index from (id, ns) to the sequence,
 * and each pending write in a record of its own under its checkpoint's sequence.
 */
export function createKeyValueCheckpointer(client: StorageClient): CheckpointerDriver {
  const seqOf = (key: ThreadKey, ns: string, id: string): number | undefined => {
    const text = client.get(storageKeys.checkpointId(key, id, ns));
    return text === undefined ? undefined : readOrdinal(text);
  };

  const readStored = (key: ThreadKey, seq: number) =>
    readListedRecord<StoredCheckpoint>(client, atOrdinal(storageKeys.checkpointsOf(key), seq));

  const withWrites = (key: ThreadKey, seq: number, stored: StoredCheckpoint): CheckpointRow => ({
    ...stored,
    writes: [...walkKeys(client, storageKeys.pendingWritesOf(key, seq))].map((writeKey) =>
      readListedRecord<PendingWriteRow>(client, writeKey),
    ),
  });

  const append = (key: ThreadKey, checkpoint: Omit<StoredCheckpoint, 'tenantId' | 'threadId'>) => {
    const thread = readTenantRecord<CheckpointThread>(
      client,
      storageKeys.checkpointThread(key),
      key.tenantId,
    );
    const seq =
      (thread === undefined ? 0 : checkCounter(thread.lastWriteSeq, 'write sequence')) + 1;
    writeRecord(client, atOrdinal(storageKeys.checkpointsOf(key), seq), {
      tenantId: key.tenantId,
      threadId: key.threadId,
      ...checkpoint,
    } satisfies StoredCheckpoint);
    client.set(storageKeys.checkpointId(key, checkpoint.id, checkpoint.ns), String(seq));
    client.set(
      atOrdinal(storageKeys.checkpointsInNamespace(key, checkpoint.ns), seq),
      checkpoint.id,
    );
    writeRecord(client, storageKeys.checkpointThread(key), {
      tenantId: key.tenantId,
      lastWriteSeq: seq,
    } satisfies CheckpointThread);
  };

  const remove = (key: ThreadKey, seq: number, ns: string, id: string) => {
    client.delete(atOrdinal(storageKeys.checkpointsOf(key), seq));
    client.delete(atOrdinal(storageKeys.checkpointsInNamespace(key, ns), seq));
    client.delete(storageKeys.checkpointId(key, id, ns));
    deleteKeys(client, storageKeys.pendingWritesOf(key, seq));
  };

  // Once a thread holds nothing its counter goes too, which is what takes it off
  // `listThreads`; a sequence restarting at 1 then has nothing to be confused with.
  const forgetIfEmpty = (key: ThreadKey) => {
    if (!hasKeys(client, storageKeys.checkpointsOf(key))) {
      client.delete(storageKeys.checkpointThread(key));
    }
  };

  /** The write position of checkpoint `id`, or `NotFoundError`. */
  const existingSeq = (key: ThreadKey, ns: string, id: string): number => {
    const seq = seqOf(key, ns, id);
    if (seq === undefined) {
      throw new NotFoundError(`checkpoint ${id} does not exist on this thread`, {
        backend: BACKEND,
      });
    }
    return seq;
  };

  /** First wins for idx >= 0, last for idx < 0. */
  const attachWrites = (key: ThreadKey, seq: number, writes: readonly ParentWriteRecord[]) => {
    for (const write of writes) {
      const writeKey = storageKeys.pendingWrite(key, seq, write.taskId, write.idx);
      if (write.idx >= 0 && client.get(writeKey) !== undefined) continue;
      writeRecord(client, writeKey, {
        taskId: write.taskId,
        taskPath: write.taskPath,
        idx: write.idx,
        channel: write.channel,
        payload: write.payload,
      });
    }
  };

  return {
    async put(record, call) {
      checkFence(client, call.fence);
      // Every check before the first write: the parent's writes and the checkpoint land
      // together or not at all.
      const parentSeq =
        record.parentWrites.length === 0 || record.parentId === null
          ? undefined
          : existingSeq(record.key, record.ns, record.parentId);
      if (seqOf(record.key, record.ns, record.id) !== undefined) {
        throw new ConflictError(`checkpoint ${record.id} already exists on this thread`, {
          backend: BACKEND,
        });
      }
      append(record.key, {
        ns: record.ns,
        id: record.id,
        parentId: record.parentId,
        step: record.step,
        nextNode: record.nextNode,
        metadata: record.metadata,
        payload: record.payload,
        createdAt: record.createdAt.getTime(),
      });
      if (parentSeq !== undefined) attachWrites(record.key, parentSeq, record.parentWrites);
    },

    async getLatest(key, ns) {
      const prefix = storageKeys.checkpointsInNamespace(key, ns);
      const [latest] = client.keys(prefix, { reverse: true, limit: 1 });
      if (latest === undefined) return undefined;
      const seq = ordinalOfKey(prefix, latest);
      return withWrites(key, seq, readStored(key, seq));
    },

    async getById(key, ns, id) {
      const seq = seqOf(key, ns, id);
      return seq === undefined ? undefined : withWrites(key, seq, readStored(key, seq));
    },

    async listHistory(key, query) {
      let beforeSeq: number | undefined;
      if (query.before !== undefined) {
        // The anchor may be in any namespace; an id in several is first written first.
        const prefix = storageKeys.checkpointIdInEveryNamespace(key, query.before);
        for (const indexKey of walkKeys(client, prefix)) {
          const seq = readOrdinal(client.get(indexKey) as string);
          beforeSeq = Math.min(seq, beforeSeq ?? seq);
        }
        if (beforeSeq === undefined) {
          throw new NotFoundError(`checkpoint ${query.before} is not on this thread`, {
            backend: BACKEND,
          });
        }
      }
      const prefix =
        query.ns === undefined
          ? storageKeys.checkpointsOf(key)
          : storageKeys.checkpointsInNamespace(key, query.ns);
      const newestFirst = walkKeys(client, prefix, {
        reverse: true,
        before: beforeSeq === undefined ? undefined : atOrdinal(prefix, beforeSeq),
        // A filter may pass over any number of checkpoints before the page is full.
        limit: query.filter === undefined ? query.limit : undefined,
      });
      const page: CheckpointRow[] = [];
      for (const storageKey of newestFirst) {
        const seq = ordinalOfKey(prefix, storageKey);
        const stored = readStored(key, seq);
        if (
          query.filter !== undefined &&
          !matchesMetadataFilter(metadataOf(stored), query.filter)
        ) {
          continue;
        }
        page.push(withWrites(key, seq, stored));
        if (page.length === query.limit) break;
      }
      return page;
    },

    async fork(fork, call) {
      checkFence(client, call.fence);
      const parentSeq = seqOf(fork.key, fork.ns, fork.parentId);
      if (parentSeq === undefined) {
        throw new NotFoundError(`parent checkpoint ${fork.parentId} is not on this thread`, {
          backend: BACKEND,
        });
      }
      const parent = readStored(fork.key, parentSeq);
      append(fork.key, {
        ns: fork.ns,
        id: fork.id,
        parentId: fork.parentId,
        step: checkCounter(parent.step, 'checkpoint step') + 1,
        nextNode: parent.nextNode,
        metadata: fork.metadata,
        payload: fork.payload,
        createdAt: fork.createdAt.getTime(),
      });
    },

    async deleteThread(key, call) {
      checkFence(client, call.fence);
      const checkpoints = deleteKeys(client, storageKeys.checkpointsOf(key));
      deleteKeys(client, storageKeys.ofThread('checkpoint-ns', key));
      deleteKeys(client, storageKeys.ofThread('checkpoint-id', key));
      deleteKeys(client, storageKeys.ofThread('checkpoint-write', key));
      client.delete(storageKeys.checkpointThread(key));
      return checkpoints;
    },

    async putWrites(key, target, writes, call) {
      checkFence(client, call.fence);
      const seq = existingSeq(key, target.ns, target.checkpointId);
      const { taskId, taskPath } = target;
      attachWrites(
        key,
        seq,
        writes.map((write) => ({ ...write, taskId, taskPath })),
      );
    },

    async prune(key, keep, call) {
      checkFence(client, call.fence);
      let pruned = 0;
      if (keep.ns !== undefined) {
        // One namespace: its index names each checkpoint's id, so no checkpoint is read.
        const prefix = storageKeys.checkpointsInNamespace(key, keep.ns);
        let kept = 0;
        for (const indexKey of walkKeys(client, prefix, { reverse: true })) {
          if (kept < keep.keepLatest) {
            kept++;
            continue;
          }
          remove(key, ordinalOfKey(prefix, indexKey), keep.ns, client.get(indexKey) as string);
          pruned++;
        }
      } else {
        const prefix = storageKeys.checkpointsOf(key);
        const keptPerNamespace = new Map<string, number>();
        for (const storageKey of walkKeys(client, prefix, { reverse: true })) {
          const seq = ordinalOfKey(prefix, storageKey);
          const { ns, id } = readStored(key, seq);
          const kept = keptPerNamespace.get(ns) ?? 0;
          if (kept < keep.keepLatest) {
            keptPerNamespace.set(ns, kept + 1);
            continue;
          }
          remove(key, seq, ns, id);
          pruned++;
        }
      }
      forgetIfEmpty(key);
      return pruned;
    },

    async listThreads(tenantId, page) {
      const prefix = storageKeys.ofTenant('checkpoint-thread', tenantId);
      const after = page.after === undefined ? undefined : prefix + page.after;
      return client
        .keys(prefix, { after, limit: page.limit })
        .map((threadKey) => threadKey.slice(prefix.length));
    },
  };
}

function metadataOf(stored: StoredCheckpoint): JsonObject {
  const { metadata } = stored;
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
    throw new CorruptRecordError('stored checkpoint metadata is not an object', {
      backend: BACKEND,
    });
  }
  return metadata;
}
