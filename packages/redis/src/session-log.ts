import { CorruptRecordError, type ThreadKey } from '@entelix/core';
import {
  expectedHeadConflict,
  type SessionEventRow,
  type SessionLogDriver,
} from '@entelix/core/adapter';
import {
  BACKEND,
  clockArgument,
  command,
  expectInteger,
  fenceArguments,
  type RedisContext,
  readTenantMark,
  runWrite,
  tenantMark,
  throwIfFenced,
} from './context.js';
import { decodeThreadMember, encodeThreadMember } from './keys.js';
import { ScriptStatus } from './scripts/lua.js';
import {
  LOG_APPEND,
  LOG_ARCHIVE_BEFORE,
  LOG_DELETE_THREAD,
  LOG_TRUNCATE_AFTER,
} from './scripts/session-log.js';

/**
 * Events of one thread in a sorted set scored by ordinal, next to a head counter
 * that is never deleted, so ordinals are never reused. A thread is listed in its
 * tenant's log index before its head is first written, and stays there with its head.
 */
export function createRedisSessionLog(context: RedisContext): SessionLogDriver {
  const toRows = (key: ThreadKey, members: readonly string[]): SessionEventRow[] => {
    const mark = tenantMark(key.tenantId);
    return members.map((member) => decodeEvent(member, key, mark));
  };
  const checkStatus = (result: unknown, expectedHead: number | undefined): void => {
    throwIfFenced(result);
    if (result === ScriptStatus.CONFLICT) {
      throw expectedHeadConflict(expectedHead ?? 0, BACKEND);
    }
  };

  return {
    async append(key, payloads, { expectedHead, truncateAfter }, call) {
      const keys = context.keys.log(key);
      const fence = fenceArguments(context, call.fence, keys.events);
      const mark = `${tenantMark(key.tenantId)}\t`;
      // Records are JSON text, free of raw newlines (see scripts/session-log.ts).
      let records = '';
      for (const payload of payloads) {
        records += records === '' ? mark : `\n${mark}`;
        records += payload;
      }
      const write = (registered: boolean) =>
        runWrite(
          context,
          LOG_APPEND,
          [keys.head, keys.events],
          fence,
          clockArgument(context),
          [records, expectedHead ?? '', truncateAfter ?? '', registered ? 'registered' : ''],
          'append',
        );
      let result = await write(false);
      if (result === ScriptStatus.NEEDS_REGISTRATION) {
        const index = context.keys.tenantThreads(key.tenantId).logThreads;
        const member = encodeThreadMember(key.threadId);
        await command(context, 'append', () => context.client.zadd(index, 0, member));
        result = await write(true);
      }
      checkStatus(result, expectedHead);
      return expectInteger(result, 'append');
    },

    async loadSince(key, page) {
      const events = context.keys.log(key).events;
      const members = await command(context, 'loadSince', () =>
        page.limit === undefined
          ? context.client.zrangebyscore(events, `(${page.cursor}`, '+inf')
          : context.client.zrangebyscore(events, `(${page.cursor}`, '+inf', 'LIMIT', 0, page.limit),
      );
      return toRows(key, members);
    },

    async loadLatest(key, limit) {
      const events = context.keys.log(key).events;
      const newestFirst = await command(context, 'loadLatest', () =>
        context.client.zrevrange(events, 0, limit - 1),
      );
      return toRows(key, newestFirst.reverse());
    },

    async head(key) {
      const head = await command(context, 'head', () =>
        context.client.get(context.keys.log(key).head),
      );
      if (head === null) return 0;
      const ordinal = Number(head);
      if (!/^\d+$/.test(head) || !Number.isSafeInteger(ordinal)) {
        throw new CorruptRecordError('stored session log head is not an ordinal', {
          backend: BACKEND,
        });
      }
      return ordinal;
    },

    async archiveBefore(key, watermark, call) {
      const keys = context.keys.log(key);
      const fence = fenceArguments(context, call.fence, keys.events);
      const result = await runWrite(
        context,
        LOG_ARCHIVE_BEFORE,
        [keys.head, keys.events],
        fence,
        '',
        [watermark],
        'archiveBefore',
      );
      throwIfFenced(result);
      return expectInteger(result, 'archiveBefore');
    },

    async truncateAfter(key, seq, expectedHead, call) {
      const keys = context.keys.log(key);
      const fence = fenceArguments(context, call.fence, keys.events);
      const result = await runWrite(
        context,
        LOG_TRUNCATE_AFTER,
        [keys.head, keys.events],
        fence,
        '',
        [seq, expectedHead ?? ''],
        'truncateAfter',
      );
      checkStatus(result, expectedHead);
      return expectInteger(result, 'truncateAfter');
    },

    async deleteThread(key, call) {
      const keys = context.keys.log(key);
      const fence = fenceArguments(context, call.fence, keys.events);
      const result = await runWrite(
        context,
        LOG_DELETE_THREAD,
        [keys.head, keys.events],
        fence,
        '',
        [],
        'deleteThread',
      );
      throwIfFenced(result);
      return expectInteger(result, 'deleteThread');
    },

    listThreads(tenantId, page) {
      return listThreadIndex(
        context,
        context.keys.tenantThreads(tenantId).logThreads,
        page,
        'listThreads',
      );
    },
  };
}

/**
 * One page of a tenant's thread index (hex members, so lex order is code-point order):
 * O(log n + page) on the server.
 */
export async function listThreadIndex(
  context: RedisContext,
  index: string,
  page: { limit: number; after: string | undefined },
  action: string,
): Promise<string[]> {
  const min = page.after === undefined ? '-' : `(${encodeThreadMember(page.after)}`;
  const members = await command(context, action, () =>
    context.client.zrangebylex(index, min, '+', 'LIMIT', 0, page.limit),
  );
  return members.map(decodeThreadMember);
}

// A member is `seq:ts:tenant TAB payload`: seq and ts in decimal milliseconds, the
// tenant as JSON text (see tenantMark), the payload's envelope text.
const MEMBER_PATTERN = /^(\d+):(\d+):/;

function decodeEvent(member: string, key: ThreadKey, mark: string): SessionEventRow {
  const match = MEMBER_PATTERN.exec(member);
  const start = match === null ? -1 : match[0].length;
  const tab = match === null ? -1 : member.indexOf('\t', start);
  if (match === null || tab === -1) {
    throw new CorruptRecordError('stored session event is malformed', { backend: BACKEND });
  }
  return {
    tenantId: readTenantMark(member, start, tab, mark, key.tenantId),
    seq: Number(match[1]),
    payload: member.slice(tab + 1),
    appendedAt: Number(match[2]),
  };
}
