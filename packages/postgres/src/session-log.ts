import type { SessionEventRow, SessionLogDriver } from '@entelix/core/adapter';
import { fenceParameters, type PostgresContext } from './context.js';
import { runQuery, toSafeInteger } from './queryable.js';

const MAX_INT4 = 2_147_483_647;

/**
 * Events in `<schema>.session_events`, with ordinals handed out by the per-thread row
 * in `<schema>.session_heads`, which outlives every removal.
 */
export function createPostgresSessionLog(context: PostgresContext): SessionLogDriver {
  const { db, schema: s } = context;
  const sql = {
    append: `SELECT ${s}.log_append($1, $2, $3::text[], $4, $5, $6, $7::bigint) AS head`,
    since: `SELECT * FROM ${s}.events_since($1, $2, $3, $4)`,
    latest: `SELECT * FROM ${s}.log_load_latest($1, $2, $3)`,
    head: `SELECT ${s}.log_head($1, $2) AS head`,
    archive: `SELECT ${s}.archive_events($1, $2, $3, $4, $5::bigint) AS deleted`,
    truncate: `SELECT ${s}.log_truncate_after($1, $2, $3, $4, $5, $6::bigint) AS deleted`,
    deleteThread: `SELECT ${s}.delete_events($1, $2, $3, $4::bigint) AS deleted`,
    threads: `SELECT thread FROM ${s}.log_threads($1, $2, $3) AS thread`,
  };
  const toRows = (rows: Record<string, unknown>[]): SessionEventRow[] =>
    rows.map((row) => ({
      tenantId: row.ev_tenant_id,
      seq: toSafeInteger(row.ev_seq, 'event seq'),
      payload: row.ev_event,
      appendedAt: row.ev_ts,
    }));

  return {
    async append(key, payloads, condition, call) {
      const [lockKey, fence] = fenceParameters(call.fence);
      const { rows } = await runQuery(
        db,
        'sessionLog append',
        sql.append,
        [
          key.tenantId,
          key.threadId,
          payloads,
          condition.expectedHead ?? null,
          condition.truncateAfter ?? null,
          lockKey,
          fence,
        ],
        call.signal,
      );
      return toSafeInteger(rows[0]?.head, 'session head');
    },

    async loadSince(key, page, call) {
      const limit = page.limit === undefined ? null : Math.min(page.limit, MAX_INT4);
      const params = [key.tenantId, key.threadId, page.cursor, limit];
      const { rows } = await runQuery(db, 'sessionLog loadSince', sql.since, params, call.signal);
      return toRows(rows);
    },

    async loadLatest(key, limit, call) {
      const params = [key.tenantId, key.threadId, Math.min(limit, MAX_INT4)];
      const { rows } = await runQuery(db, 'sessionLog loadLatest', sql.latest, params, call.signal);
      return toRows(rows);
    },

    async head(key, call) {
      const params = [key.tenantId, key.threadId];
      const { rows } = await runQuery(db, 'sessionLog head', sql.head, params, call.signal);
      return toSafeInteger(rows[0]?.head, 'session head');
    },

    async archiveBefore(key, watermark, call) {
      const [lockKey, fence] = fenceParameters(call.fence);
      const params = [key.tenantId, key.threadId, watermark, lockKey, fence];
      const { rows } = await runQuery(
        db,
        'sessionLog archiveBefore',
        sql.archive,
        params,
        call.signal,
      );
      return toSafeInteger(rows[0]?.deleted, 'archived count');
    },

    async truncateAfter(key, seq, expectedHead, call) {
      const [lockKey, fence] = fenceParameters(call.fence);
      const params = [key.tenantId, key.threadId, seq, expectedHead ?? null, lockKey, fence];
      const { rows } = await runQuery(
        db,
        'sessionLog truncateAfter',
        sql.truncate,
        params,
        call.signal,
      );
      return toSafeInteger(rows[0]?.deleted, 'truncated count');
    },

    async deleteThread(key, call) {
      const [lockKey, fence] = fenceParameters(call.fence);
      const params = [key.tenantId, key.threadId, lockKey, fence];
      const { rows } = await runQuery(
        db,
        'sessionLog deleteThread',
        sql.deleteThread,
        params,
        call.signal,
      );
      return toSafeInteger(rows[0]?.deleted, 'deleted count');
    },

    async listThreads(tenantId, page, call) {
      // Thread ids are never empty, so '' is below every one of them.
      const params = [tenantId, page.after ?? '', Math.min(page.limit, MAX_INT4)];
      const { rows } = await runQuery(
        db,
        'sessionLog listThreads',
        sql.threads,
        params,
        call.signal,
      );
      return rows.map((row) => row.thread as string);
    },
  };
}
