import {
  assertRowTenant,
  type CallOptions,
  type PayloadFormat,
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
import { fenceParameters, type PostgresContext } from './context.js';
import { BACKEND, runQuery, toDate, toSafeInteger, toText } from './queryable.js';

const MAX_INT4 = 2_147_483_647;

/**
 * A session log over `<schema>.session_events`, with ordinals handed out by the
 * per-thread row in `<schema>.session_heads`.
 */
export function createPostgresSessionLog<E>(
  context: PostgresContext,
  format: PayloadFormat<E>,
): SessionLog<E> {
  const { db, schema: s } = context;
  const sql = {
    append: `SELECT ${s}.append_events($1, $2, $3::text[], $4, $5::bigint) AS head`,
    since: `SELECT * FROM ${s}.events_since($1, $2, $3, $4)`,
    head: `SELECT ${s}.log_head($1, $2) AS head`,
    archive: `SELECT ${s}.archive_events($1, $2, $3, $4, $5::bigint) AS deleted`,
    deleteThread: `SELECT ${s}.delete_events($1, $2, $3, $4::bigint) AS deleted`,
  };

  return {
    async append(key, events, options) {
      const threadKey = ThreadKey.from(key);
      const batch = readEvents<E>(events);
      const opts = readOptions<WriteOptions>(options);
      const [lockKey, fence] = fenceParameters(opts.fence, threadKey.tenantId);
      // Encode the whole batch first: one bad event writes nothing.
      const encoded = batch.map((event) => format.encode(event));
      throwIfAborted(opts.signal, BACKEND);
      const { rows } = await runQuery(
        db,
        'sessionLog append',
        sql.append,
        [threadKey.tenantId, threadKey.threadId, encoded, lockKey, fence],
        opts.signal,
      );
      return toSafeInteger(rows[0]?.head, 'session head');
    },

    async loadSince(key, cursor, options) {
      const threadKey = ThreadKey.from(key);
      const args = readLoadSinceArguments(cursor, options);
      throwIfAborted(args.signal, BACKEND);
      const { rows } = await runQuery(
        db,
        'sessionLog loadSince',
        sql.since,
        [
          threadKey.tenantId,
          threadKey.threadId,
          args.cursor,
          args.limit === undefined ? null : Math.min(args.limit, MAX_INT4),
        ],
        args.signal,
      );
      return rows.map((row): SessionEvent<E> => {
        assertRowTenant(row.ev_tenant_id, threadKey, BACKEND);
        return {
          seq: toSafeInteger(row.ev_seq, 'event seq'),
          event: format.decode(toText(row.ev_event, 'event')),
          ts: toDate(row.ev_ts, 'event ts'),
        };
      });
    },

    async head(key, options) {
      const threadKey = ThreadKey.from(key);
      const { signal } = readOptions<CallOptions>(options);
      throwIfAborted(signal, BACKEND);
      const { rows } = await runQuery(
        db,
        'sessionLog head',
        sql.head,
        [threadKey.tenantId, threadKey.threadId],
        signal,
      );
      return toSafeInteger(rows[0]?.head, 'session head');
    },

    async archiveBefore(key, watermark, options) {
      const threadKey = ThreadKey.from(key);
      const validWatermark = readWatermark(watermark);
      const opts = readOptions<WriteOptions>(options);
      const [lockKey, fence] = fenceParameters(opts.fence, threadKey.tenantId);
      throwIfAborted(opts.signal, BACKEND);
      const { rows } = await runQuery(
        db,
        'sessionLog archiveBefore',
        sql.archive,
        [threadKey.tenantId, threadKey.threadId, validWatermark, lockKey, fence],
        opts.signal,
      );
      return toSafeInteger(rows[0]?.deleted, 'archived count');
    },

    async deleteThread(key, options) {
      const threadKey = ThreadKey.from(key);
      const opts = readOptions<WriteOptions>(options);
      const [lockKey, fence] = fenceParameters(opts.fence, threadKey.tenantId);
      throwIfAborted(opts.signal, BACKEND);
      const { rows } = await runQuery(
        db,
        'sessionLog deleteThread',
        sql.deleteThread,
        [threadKey.tenantId, threadKey.threadId, lockKey, fence],
        opts.signal,
      );
      return toSafeInteger(rows[0]?.deleted, 'deleted count');
    },
  };
}
