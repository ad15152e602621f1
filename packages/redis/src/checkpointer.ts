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
  isNilReply,
  parseJson,
  type RedisContext,
  readWriteFence,
  run,
  runWrite,
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

/** Checkpoints of one thread: a hash of records plus a sorted set of ids by write order. */
export function createRedisCheckpointer<S>(
  context: RedisContext,
  options: PayloadOptions<S> | undefined,
): Checkpointer<S> {
  const format = createPayloadFormat(options, BACKEND);

  return {
    async put(checkpoint, options) {
      const valid = Checkpoint.validate<S>(checkpoint);
      const opts = readOptions<WriteOptions>(options, 'put options');
      const { key } = valid;
      const keys = context.keys.checkpoint(key);
      const fence = readWriteFence(context, opts.fence, key.tenantId, keys.data);
      throwIfAborted(opts.signal, BACKEND);
      const record =
        `${valid.createdAt.getTime()}\t${valid.step}\t${JSON.stringify(valid.nextNode)}\t` +
        `${ownerMark(key)}\t${valid.id}\t${valid.parentId ?? ''}\t${format.encode(valid.state)}`;
      const result = await runWrite(
        context,
        CHECKPOINT_PUT,
        [keys.data, keys.order],
        fence,
        '',
        [valid.id, record],
        'put',
      );
      throwIfFenced(result);
      if (result === ScriptStatus.CONFLICT) {
        throw new ConflictError(`checkpoint ${valid.id} already exists on this thread`, {
          backend: BACKEND,
        });
      }
    },

    async getLatest(key, options) {
      const threadKey = ThreadKey.from(key);
      throwIfAborted(readOptions<CallOptions>(options).signal, BACKEND);
      const keys = context.keys.checkpoint(threadKey);
      const record = await run(context, CHECKPOINT_LATEST, 2, [keys.order, keys.data], 'getLatest');
      return isNilReply(record) ? undefined : decodeOne(record, threadKey, format);
    },

    async getById(key, id, options) {
      const threadKey = ThreadKey.from(key);
      const checkpointId = CheckpointId.parse(id);
      throwIfAborted(readOptions<CallOptions>(options).signal, BACKEND);
      const dataKey = context.keys.checkpoint(threadKey).data;
      const record = await command('getById', () => context.client.hget(dataKey, checkpointId));
      return record == null ? undefined : decodeOne(record, threadKey, format);
    },

    async listHistory(key, options) {
      const threadKey = ThreadKey.from(key);
      const { limit, before, signal } = readListHistoryOptions(options);
      throwIfAborted(signal, BACKEND);
      const keys = context.keys.checkpoint(threadKey);
      const records = await run(
        context,
        CHECKPOINT_HISTORY,
        2,
        [keys.order, keys.data, limit, before ?? ''],
        'listHistory',
      );
      if (typeof records !== 'string') {
        throw new CorruptRecordError('unexpected listHistory reply', { backend: BACKEND });
      }
      const page: Checkpoint<S>[] = [];
      if (records === '') return page;
      const mark = ownerMark(threadKey);
      let start = 0;
      for (;;) {
        const end = records.indexOf('\n', start);
        if (end === -1) {
          page.push(decode(records, start, records.length, threadKey, mark, format));
          return page;
        }
        page.push(decode(records, start, end, threadKey, mark, format));
        start = end + 1;
      }
    },

    async updateState(key, parentId, state, options) {
      const threadKey = ThreadKey.from(key);
      const parent = CheckpointId.parse(parentId);
      const opts = readOptions<WriteOptions>(options, 'updateState options');
      const keys = context.keys.checkpoint(threadKey);
      const fence = readWriteFence(context, opts.fence, threadKey.tenantId, keys.data);
      throwIfAborted(opts.signal, BACKEND);
      const payload = format.encode(state);
      const childId = CheckpointId.create();
      // The script puts the parent's step + 1 and nextNode between head and tail.
      const result = await runWrite(
        context,
        CHECKPOINT_UPDATE_STATE,
        [keys.data, keys.order],
        fence,
        '',
        [
          parent,
          childId,
          `${Date.now()}\t`,
          `\t${ownerMark(threadKey)}\t${childId}\t${parent}\t${payload}`,
        ],
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
      const keys = context.keys.checkpoint(threadKey);
      const fence = readWriteFence(context, opts.fence, threadKey.tenantId, keys.data);
      throwIfAborted(opts.signal, BACKEND);
      const result = await runWrite(
        context,
        CHECKPOINT_DELETE_THREAD,
        [keys.data, keys.order],
        fence,
        '',
        [],
        'deleteThread',
      );
      throwIfFenced(result);
      return expectCount(result);
    },
  };
}

/** The owner part of a checkpoint record: `JSON.stringify([tenantId, threadId])`. */
function ownerMark(key: ThreadKey): string {
  return JSON.stringify([key.tenantId, key.threadId]);
}

function expectCount(result: unknown): number {
  if (typeof result !== 'number' || !Number.isSafeInteger(result) || result < 0) {
    throw new CorruptRecordError('unexpected deleteThread reply', { backend: BACKEND });
  }
  return result;
}

function corrupt(what: string, cause?: unknown): CorruptRecordError {
  return new CorruptRecordError(`stored checkpoint ${what}`, { cause, backend: BACKEND });
}

function decodeOne<S>(text: unknown, key: ThreadKey, format: PayloadFormat<S>): Checkpoint<S> {
  if (typeof text !== 'string') throw corrupt('is not a string');
  return decode(text, 0, text.length, key, ownerMark(key), format);
}

/**
 * Decode the record at `text[start, end)` (see scripts/checkpointer.ts for the layout).
 * `mark` is {@link ownerMark} of `key`.
 */
function decode<S>(
  text: string,
  start: number,
  end: number,
  key: ThreadKey,
  mark: string,
  format: PayloadFormat<S>,
): Checkpoint<S> {
  const t1 = text.indexOf('\t', start);
  const t2 = t1 === -1 ? -1 : text.indexOf('\t', t1 + 1);
  const t3 = t2 === -1 ? -1 : text.indexOf('\t', t2 + 1);
  const t4 = t3 === -1 ? -1 : text.indexOf('\t', t3 + 1);
  const t5 = t4 === -1 ? -1 : text.indexOf('\t', t4 + 1);
  const t6 = t5 === -1 ? -1 : text.indexOf('\t', t5 + 1);
  if (t6 === -1 || t6 >= end) throw corrupt('is malformed');
  if (t4 - t3 - 1 !== mark.length || !text.startsWith(mark, t3 + 1)) {
    const owner = parseJson(text.slice(t3 + 1, t4));
    assertRowTenant(Array.isArray(owner) ? owner[0] : undefined, key, BACKEND);
    if ((owner as unknown[])[1] !== key.threadId) throw corrupt('belongs to another thread');
  }
  // createdAt may precede 1970.
  const createdAtMs =
    text.charCodeAt(start) === 45
      ? -(digits(text, start + 1, t1) ?? Number.NaN)
      : digits(text, start, t1);
  const step = digits(text, t1 + 1, t2);
  const nextNodeText = text.slice(t2 + 1, t3);
  const nextNode = nextNodeText === 'null' ? null : parseJson(nextNodeText);
  if (
    createdAtMs === undefined ||
    Number.isNaN(createdAtMs) ||
    step === undefined ||
    (nextNode !== null && typeof nextNode !== 'string')
  ) {
    throw corrupt('has malformed fields');
  }
  let id: CheckpointId;
  let parentId: CheckpointId | null;
  try {
    id = CheckpointId.parse(text.slice(t4 + 1, t5));
    parentId = t6 === t5 + 1 ? null : CheckpointId.parse(text.slice(t5 + 1, t6));
  } catch (error) {
    throw corrupt('has a malformed id', error);
  }
  return {
    id,
    key,
    parentId,
    step,
    state: format.decode(text.slice(t6 + 1, end)),
    nextNode,
    createdAt: new Date(createdAtMs),
  };
}

/** The non-negative decimal integer at `text[start, end)`, or undefined. */
function digits(text: string, start: number, end: number): number | undefined {
  if (end <= start || end - start > 16) return undefined;
  let value = 0;
  for (let i = start; i < end; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return undefined;
    value = value * 10 + d;
  }
  return Number.isSafeInteger(value) ? value : undefined;
}
