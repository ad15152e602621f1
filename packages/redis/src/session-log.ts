import {
  type CallOptions,
  CorruptRecordError,
  createPayloadFormat,
  type PayloadFormat,
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
  checkTenantMark,
  clockArgument,
  command,
  expectInteger,
  type RedisContext,
  readWriteFence,
  runWrite,
  tenantMark,
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
      const keys = context.keys.log(threadKey);
      const fence = readWriteFence(context, opts.fence, threadKey.tenantId, keys.events);
      throwIfAborted(opts.signal, BACKEND);
      const mark = `${tenantMark(threadKey.tenantId)}\t`;
      // Records are JSON text, free of raw newlines (see scripts/session-log.ts).
      let records = '';
      for (const event of batch) {
        records += records === '' ? mark : `\n${mark}`;
        records += format.encode(event);
      }
      const result = await runWrite(
        context,
        LOG_APPEND,
        [keys.head, keys.events],
        fence,
        clockArgument(context),
        [records],
        'append',
      );
      throwIfFenced(result);
      return expectInteger(result, 'append');
    },

    async loadSince(key, cursor, options) {
      const threadKey = ThreadKey.from(key);
      const args = readLoadSinceArguments(cursor, options);
      throwIfAborted(args.signal, BACKEND);
      const events = context.keys.log(threadKey).events;
      const members = await command('loadSince', () =>
        args.limit === undefined
          ? context.client.zrangebyscore(events, `(${args.cursor}`, '+inf')
          : context.client.zrangebyscore(events, `(${args.cursor}`, '+inf', 'LIMIT', 0, args.limit),
      );
      const mark = tenantMark(threadKey.tenantId);
      const page: SessionEvent<E>[] = [];
      for (const member of members) page.push(decodeEvent(member, threadKey, mark, format));
      return page;
    },

    async head(key, options) {
      const threadKey = ThreadKey.from(key);
      throwIfAborted(readOptions<CallOptions>(options).signal, BACKEND);
      const head = await command('head', () =>
        context.client.get(context.keys.log(threadKey).head),
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
      const keys = context.keys.log(threadKey);
      const fence = readWriteFence(context, opts.fence, threadKey.tenantId, keys.events);
      throwIfAborted(opts.signal, BACKEND);
      const result = await runWrite(
        context,
        LOG_ARCHIVE_BEFORE,
        [keys.head, keys.events],
        fence,
        '',
        [validWatermark],
        'archiveBefore',
      );
      throwIfFenced(result);
      return expectInteger(result, 'archiveBefore');
    },

    async deleteThread(key, options) {
      const threadKey = ThreadKey.from(key);
      const opts = readOptions<WriteOptions>(options, 'deleteThread options');
      const events = context.keys.log(threadKey).events;
      const fence = readWriteFence(context, opts.fence, threadKey.tenantId, events);
      throwIfAborted(opts.signal, BACKEND);
      const result = await runWrite(
        context,
        LOG_DELETE_THREAD,
        [events],
        fence,
        '',
        [],
        'deleteThread',
      );
      throwIfFenced(result);
      return expectInteger(result, 'deleteThread');
    },
  };
}

// A member is `seq:ts:tenant TAB payload`: seq and ts in decimal milliseconds, the
// tenant as JSON text (see tenantMark), the payload's envelope text.
const MEMBER_PATTERN = /^(\d+):(\d+):/;

function decodeEvent<E>(
  member: string,
  key: ThreadKey,
  mark: string,
  format: PayloadFormat<E>,
): SessionEvent<E> {
  const match = MEMBER_PATTERN.exec(member);
  const start = match === null ? -1 : match[0].length;
  const tab = match === null ? -1 : member.indexOf('\t', start);
  if (match === null || tab === -1) {
    throw new CorruptRecordError('stored session event is malformed', { backend: BACKEND });
  }
  checkTenantMark(member, start, tab, mark, key);
  return {
    seq: Number(match[1]),
    event: format.decode(member.slice(tab + 1)),
    ts: new Date(Number(match[2])),
  };
}
