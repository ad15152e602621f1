import {
  assertRowTenant,
  type CallOptions,
  CorruptRecordError,
  createPayloadFormat,
  type PayloadOptions,
  readEvents,
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
  BACKEND,
  clockArgument,
  command,
  expectInteger,
  parseRecordJson,
  type RedisContext,
  readWriteFence,
  run,
  throwIfFenced,
} from './context.js';
import { LOG_APPEND, LOG_ARCHIVE_BEFORE, LOG_DELETE_THREAD } from './scripts/session-log.js';

/**
 * Events of one thread in a sorted set scored by ordinal, next to a head counter
 * that is never deleted, so ordinals are never reused.
 */
export function createRedisSessionLog<E>(
  context: RedisContext,
  options: PayloadOptions<E> | undefined,
): SessionLog<E> {
  const format = createPayloadFormat(options, BACKEND);

  return {
    async append(key, events, options) {
      const threadKey = ThreadKey.from(key);
      const batch = readEvents<E>(events);
      const opts = readOptions<WriteOptions>(options, 'append options');
      const keys = context.keys.thread(threadKey);
      const fence = readWriteFence(context, opts.fence, threadKey.tenantId, keys.logEvents);
      throwIfAborted(opts.signal, BACKEND);
      const records = batch.map((event) =>
        JSON.stringify({ tenantId: threadKey.tenantId, payload: format.encode(event) }),
      );
      const result = await run(
        context,
        LOG_APPEND,
        [keys.logHead, keys.logEvents, ...fence.keys],
        [clockArgument(context), fence.fence, ...records],
        'append',
      );
      throwIfFenced(result);
      return expectInteger(result, 'append');
    },

    async loadSince(key, cursor, options) {
      const threadKey = ThreadKey.from(key);
      const args = readLoadSinceArguments(cursor, options);
      throwIfAborted(args.signal, BACKEND);
      const keys = context.keys.thread(threadKey);
      const members = await command('loadSince', () =>
        args.limit === undefined
          ? context.client.zrangebyscore(keys.logEvents, `(${args.cursor}`, '+inf')
          : context.client.zrangebyscore(
              keys.logEvents,
              `(${args.cursor}`,
              '+inf',
              'LIMIT',
              0,
              args.limit,
            ),
      );
      return members.map((member) => decodeEvent(member, threadKey, format.decode));
    },

    async head(key, options) {
      const threadKey = ThreadKey.from(key);
      throwIfAborted(readOptions<CallOptions>(options).signal, BACKEND);
      const head = await command('head', () =>
        context.client.get(context.keys.thread(threadKey).logHead),
      );
      if (head === null) return 0;
      const ordinal = Number(head);
      if (!Number.isSafeInteger(ordinal) || ordinal < 0) {
        throw new CorruptRecordError('stored session log head is not an ordinal', {
          backend: BACKEND,
        });
      }
      return ordinal;
    },

    async archiveBefore(key, watermark, options) {
      const threadKey = ThreadKey.from(key);
      const validWatermark = readWatermark(watermark);
      const opts = readOptions<WriteOptions>(options, 'archiveBefore options');
      const keys = context.keys.thread(threadKey);
      const fence = readWriteFence(context, opts.fence, threadKey.tenantId, keys.logEvents);
      throwIfAborted(opts.signal, BACKEND);
      const result = await run(
        context,
        LOG_ARCHIVE_BEFORE,
        [keys.logHead, keys.logEvents, ...fence.keys],
        ['', fence.fence, validWatermark],
        'archiveBefore',
      );
      throwIfFenced(result);
      return expectInteger(result, 'archiveBefore');
    },

    async deleteThread(key, options) {
      const threadKey = ThreadKey.from(key);
      const opts = readOptions<WriteOptions>(options, 'deleteThread options');
      const keys = context.keys.thread(threadKey);
      const fence = readWriteFence(context, opts.fence, threadKey.tenantId, keys.logEvents);
      throwIfAborted(opts.signal, BACKEND);
      const result = await run(
        context,
        LOG_DELETE_THREAD,
        [keys.logEvents, ...fence.keys],
        ['', fence.fence],
        'deleteThread',
      );
      throwIfFenced(result);
      return expectInteger(result, 'deleteThread');
    },
  };
}

// A member is `seq:ts:record`, seq and ts in decimal milliseconds.
const MEMBER_PATTERN = /^(\d+):(\d+):/;

function decodeEvent<E>(
  member: string,
  key: ThreadKey,
  decode: (text: string) => E,
): SessionEvent<E> {
  const match = MEMBER_PATTERN.exec(member);
  if (match === null) {
    throw new CorruptRecordError('stored session event is malformed', { backend: BACKEND });
  }
  const record = parseRecordJson(member.slice(match[0].length), 'session event');
  assertRowTenant(record.tenantId, key, BACKEND);
  if (typeof record.payload !== 'string') {
    throw new CorruptRecordError('stored session event lacks its payload', { backend: BACKEND });
  }
  return {
    seq: Number(match[1]),
    event: decode(record.payload),
    ts: new Date(Number(match[2])),
  };
}
