import {
  assertRowTenant,
  type CallOptions,
  Checkpoint,
  type Checkpointer,
  CheckpointId,
  ConflictError,
  CorruptRecordError,
  createPayloadFormat,
  NotFoundError,
  type PayloadFormat,
  type PayloadOptions,
  readListHistoryOptions,
  readOptions,
  ThreadKey,
  throwIfAborted,
  type WriteOptions,
} from '@entelix/core';
import {
  BACKEND,
  command,
  expectInteger,
  type FenceArguments,
  isNilReply,
  parseRecordJson,
  type RedisContext,
  readWriteFence,
  run,
  throwIfFenced,
} from './context.js';
import {
  CHECKPOINT_DELETE_THREAD,
  CHECKPOINT_HISTORY,
  CHECKPOINT_LATEST,
  CHECKPOINT_PUT,
  CHECKPOINT_UPDATE_STATE,
} from './scripts/checkpointer.js';
import { ScriptStatus } from './scripts/lua.js';

/** The JSON stored per checkpoint in the thread's `data` hash. */
interface CheckpointRecord {
  tenantId: string;
  threadId: string;
  id: string;
  parentId: string | null;
  step: number;
  nextNode: string | null;
  createdAtMs: number;
  /** Envelope text from the payload format. */
  payload: string;
}

/** Checkpoints of one thread: a hash of records plus a sorted set of ids by write sequence. */
export function createRedisCheckpointer<S>(
  context: RedisContext,
  options: PayloadOptions<S> | undefined,
): Checkpointer<S> {
  const format = createPayloadFormat(options, BACKEND);

  async function write(
    checkpoint: Checkpoint<S>,
    payload: string,
    fence: FenceArguments,
  ): Promise<void> {
    const keys = context.keys.thread(checkpoint.key);
    const record: CheckpointRecord = {
      tenantId: checkpoint.key.tenantId,
      threadId: checkpoint.key.threadId,
      id: checkpoint.id,
      parentId: checkpoint.parentId,
      step: checkpoint.step,
      nextNode: checkpoint.nextNode,
      createdAtMs: checkpoint.createdAt.getTime(),
      payload,
    };
    const result = await run(
      context,
      CHECKPOINT_PUT,
      [keys.checkpointData, keys.checkpointOrder, keys.checkpointSeq, ...fence.keys],
      ['', fence.fence, checkpoint.id, JSON.stringify(record)],
      'put',
    );
    throwIfFenced(result);
    if (result === ScriptStatus.CONFLICT) {
      throw new ConflictError(`checkpoint ${checkpoint.id} already exists on this thread`, {
        backend: BACKEND,
      });
    }
  }

  return {
    async put(checkpoint, options) {
      const valid = Checkpoint.validate<S>(checkpoint);
      const opts = readOptions<WriteOptions>(options, 'put options');
      const dataKey = context.keys.thread(valid.key).checkpointData;
      const fence = readWriteFence(context, opts.fence, valid.key.tenantId, dataKey);
      throwIfAborted(opts.signal, BACKEND);
      await write(valid, format.encode(valid.state), fence);
    },

    async getLatest(key, options) {
      const threadKey = ThreadKey.from(key);
      throwIfAborted(readOptions<CallOptions>(options).signal, BACKEND);
      const keys = context.keys.thread(threadKey);
      const record = await run(
        context,
        CHECKPOINT_LATEST,
        [keys.checkpointOrder, keys.checkpointData],
        [],
        'getLatest',
      );
      return isNilReply(record) ? undefined : decode(record, threadKey, format);
    },

    async getById(key, id, options) {
      const threadKey = ThreadKey.from(key);
      const checkpointId = CheckpointId.parse(id);
      throwIfAborted(readOptions<CallOptions>(options).signal, BACKEND);
      const keys = context.keys.thread(threadKey);
      const record = await command('getById', () =>
        context.client.hget(keys.checkpointData, checkpointId),
      );
      return record == null ? undefined : decode(record, threadKey, format);
    },

    async listHistory(key, options) {
      const threadKey = ThreadKey.from(key);
      const { limit, before, signal } = readListHistoryOptions(options);
      throwIfAborted(signal, BACKEND);
      const keys = context.keys.thread(threadKey);
      const records = await run(
        context,
        CHECKPOINT_HISTORY,
        [keys.checkpointOrder, keys.checkpointData],
        [limit, before ?? ''],
        'listHistory',
      );
      if (typeof records !== 'string') {
        throw new CorruptRecordError('unexpected listHistory reply', { backend: BACKEND });
      }
      if (records === '') return [];
      return records.split('\n').map((record) => decode(record, threadKey, format));
    },

    async updateState(key, parentId, state, options) {
      const threadKey = ThreadKey.from(key);
      const parent = CheckpointId.parse(parentId);
      const opts = readOptions<WriteOptions>(options, 'updateState options');
      const keys = context.keys.thread(threadKey);
      const fence = readWriteFence(context, opts.fence, threadKey.tenantId, keys.checkpointData);
      throwIfAborted(opts.signal, BACKEND);
      const payload = format.encode(state);
      const childId = CheckpointId.create();
      // JSON.stringify order: the script splices step and nextNode in between.
      const head = JSON.stringify({
        tenantId: threadKey.tenantId,
        threadId: threadKey.threadId,
        id: childId,
        parentId: parent,
      }).slice(0, -1);
      const tail = `,${JSON.stringify({ createdAtMs: Date.now(), payload }).slice(1)}`;
      const result = await run(
        context,
        CHECKPOINT_UPDATE_STATE,
        [keys.checkpointData, keys.checkpointOrder, keys.checkpointSeq, ...fence.keys],
        ['', fence.fence, parent, childId, head, tail],
        'updateState',
      );
      throwIfFenced(result);
      if (result === ScriptStatus.NOT_FOUND) {
        throw new NotFoundError(`parent checkpoint ${parent} does not exist`, { backend: BACKEND });
      }
      if (result === ScriptStatus.CONFLICT) {
        throw new ConflictError(`checkpoint ${childId} already exists on this thread`, {
          backend: BACKEND,
        });
      }
      if (result === ScriptStatus.CORRUPT) {
        throw new CorruptRecordError('stored parent checkpoint is malformed', { backend: BACKEND });
      }
      expectInteger(result, 'updateState');
      return childId;
    },

    async deleteThread(key, options) {
      const threadKey = ThreadKey.from(key);
      const opts = readOptions<WriteOptions>(options, 'deleteThread options');
      const keys = context.keys.thread(threadKey);
      const fence = readWriteFence(context, opts.fence, threadKey.tenantId, keys.checkpointData);
      throwIfAborted(opts.signal, BACKEND);
      const result = await run(
        context,
        CHECKPOINT_DELETE_THREAD,
        [keys.checkpointData, keys.checkpointOrder, keys.checkpointSeq, ...fence.keys],
        ['', fence.fence],
        'deleteThread',
      );
      throwIfFenced(result);
      return expectCount(result);
    },
  };
}

function expectCount(result: unknown): number {
  if (typeof result !== 'number' || !Number.isSafeInteger(result) || result < 0) {
    throw new CorruptRecordError('unexpected deleteThread reply', { backend: BACKEND });
  }
  return result;
}

function decode<S>(text: unknown, key: ThreadKey, format: PayloadFormat<S>): Checkpoint<S> {
  if (typeof text !== 'string') {
    throw new CorruptRecordError('stored checkpoint is not a string', { backend: BACKEND });
  }
  const record = parseRecordJson(text, 'checkpoint');
  assertRowTenant(record.tenantId, key, BACKEND);
  if (record.threadId !== key.threadId) {
    throw new CorruptRecordError('stored checkpoint belongs to another thread', {
      backend: BACKEND,
    });
  }
  const { id, parentId, step, nextNode, createdAtMs, payload } = record;
  if (
    typeof payload !== 'string' ||
    typeof createdAtMs !== 'number' ||
    !Number.isSafeInteger(step) ||
    (nextNode !== null && typeof nextNode !== 'string')
  ) {
    throw new CorruptRecordError('stored checkpoint has malformed fields', { backend: BACKEND });
  }
  let checkpointId: CheckpointId;
  let parent: CheckpointId | null;
  try {
    checkpointId = CheckpointId.parse(id);
    parent = parentId == null ? null : CheckpointId.parse(parentId);
  } catch (error) {
    throw new CorruptRecordError('stored checkpoint has a malformed id', {
      cause: error,
      backend: BACKEND,
    });
  }
  return {
    id: checkpointId,
    key,
    parentId: parent,
    step: step as number,
    state: format.decode(payload),
    nextNode: nextNode as string | null,
    createdAt: new Date(createdAtMs),
  };
}
