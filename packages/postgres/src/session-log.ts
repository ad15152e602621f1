import type { SessionEventRow, SessionLogDriver } from '@entelix/core/adapter';
import {
  fenceParameters,
  int4Limit,
  type PostgresContext,
  runRemoval,
  selectList,
} from './context.js';
import { gatherReads, rowGroupsByOrdinal } from './gather.js';
import { runQuery, toSafeInteger } from './queryable.js';

/** The statements of the session log in the quoted schema `s`. */
export function sessionLogStatements(s: string) {
  const event = selectList(['ev_tenant_id', 'ev_seq', 'ev_event'], ['ev_ts']);
  return {
    append: `SELECT ${s}.log_append($1, $2, $3::text[], $4, $5, $6, $7::bigint) AS head`,
    since: `SELECT ${event} FROM ${s}.log_load_since($1, $2, $3, $4)`,
    latest: `SELECT ${event} FROM ${s}.log_load_latest($1, $2, $3)`,
    // Gathered reads (see gatherReads): the function once per read, `ord` naming the read,
    // each read's events in order.
    sinceOfEach: `SELECT wanted.ord, ${event}
      FROM unnest($2::text[], $3::bigint[], $4::integer[]) WITH ORDINALITY AS wanted(thread_id, after_seq, lim, ord)
      CROSS JOIN LATERAL ${s}.log_load_since($1, wanted.thread_id, wanted.after_seq, wanted.lim)
      ORDER BY wanted.ord, ev_seq`,
    latestOfEach: `SELECT wanted.ord, ${event}
      FROM unnest($2::text[], $3::integer[]) WITH ORDINALITY AS wanted(thread_id, lim, ord)
      CROSS JOIN LATERAL ${s}.log_load_latest($1, wanted.thread_id, wanted.lim)
      ORDER BY wanted.ord, ev_seq`,
    head: `SELECT ${s}.log_head($1, $2) AS head`,
    archive: `SELECT ${s}.log_archive_before($1, $2, $3, $4, $5::bigint) AS deleted`,
    truncate: `SELECT ${s}.log_truncate_after($1, $2, $3, $4, $5, $6::bigint) AS deleted`,
    deleteThread: `SELECT ${s}.log_delete_thread($1, $2, $3, $4::bigint) AS deleted`,
    threads: `SELECT * FROM ${s}.log_threads($1, $2, $3)`,
  };
}

/**
 * A session log over `<schema>.session_events`, with ordinals handed out by the
 * per-thread row in `<schema>.session_heads`; one SQL function call per operation.
 * Event reads of one tenant issued together share statements (see `gatherReads`).
 */
export function createPostgresSessionLog(context: PostgresContext): SessionLogDriver {
  const { db, schema } = context;
  const sql = sessionLogStatements(schema);

  const since = gatherReads<
    { threadId: string; cursor: number; limit: number | null },
    Record<string, unknown>[]
  >({
    async one(tenantId, { threadId, cursor, limit }, call) {
      const params = [tenantId, threadId, cursor, limit];
      return (await runQuery(db, 'sessionLog loadSince', sql.since, params, call)).rows;
    },
    async many(tenantId, reads) {
      const params = [
        tenantId,
        reads.map((read) => read.threadId),
        reads.map((read) => read.cursor),
        reads.map((read) => read.limit),
      ];
      const { rows } = await runQuery(db, 'sessionLog loadSince', sql.sinceOfEach, params);
      return rowGroupsByOrdinal(rows, reads.length);
    },
  });
  const latest = gatherReads<{ threadId: string; limit: number }, Record<string, unknown>[]>({
    async one(tenantId, { threadId, limit }, call) {
      const params = [tenantId, threadId, limit];
      return (await runQuery(db, 'sessionLog loadLatest', sql.latest, params, call)).rows;
    },
    async many(tenantId, reads) {
      const params = [
        tenantId,
        reads.map((read) => read.threadId),
        reads.map((read) => read.limit),
      ];
      const { rows } = await runQuery(db, 'sessionLog loadLatest', sql.latestOfEach, params);
      return rowGroupsByOrdinal(rows, reads.length);
    },
  });

  return {
    async append(key, payloads, { expectedHead, truncateAfter }, call) {
      const { rows } = await runQuery(
        db,
        'sessionLog append',
        sql.append,
        [
          key.tenantId,
          key.threadId,
          payloads,
          expectedHead ?? null,
          truncateAfter ?? null,
          ...fenceParameters(call),
        ],
        { signal: call.signal, expectedHead },
      );
      return toSafeInteger(rows[0]?.head, 'session head');
    },

    async loadSince(key, page, call) {
      const limit = page.limit === undefined ? null : int4Limit(page.limit);
      const read = { threadId: key.threadId, cursor: page.cursor, limit };
      return ((await since(key.tenantId, read, call)) ?? []).map(toEventRow);
    },

    async loadLatest(key, limit, call) {
      const read = { threadId: key.threadId, limit: int4Limit(limit) };
      return ((await latest(key.tenantId, read, call)) ?? []).map(toEventRow);
    },

    async head(key, call) {
      const { rows } = await runQuery(
        db,
        'sessionLog head',
        sql.head,
        [key.tenantId, key.threadId],
        call,
      );
      return toSafeInteger(rows[0]?.head, 'session head');
    },

    async archiveBefore(key, watermark, call) {
      return runRemoval(
        context,
        'sessionLog archiveBefore',
        sql.archive,
        [key.tenantId, key.threadId, watermark, ...fenceParameters(call)],
        call,
        'archived count',
      );
    },

    async truncateAfter(key, seq, expectedHead, call) {
      return runRemoval(
        context,
        'sessionLog truncateAfter',
        sql.truncate,
        [key.tenantId, key.threadId, seq, expectedHead ?? null, ...fenceParameters(call)],
        { signal: call.signal, expectedHead },
        'truncated count',
      );
    },

    async deleteThread(key, call) {
      return runRemoval(
        context,
        'sessionLog deleteThread',
        sql.deleteThread,
        [key.tenantId, key.threadId, ...fenceParameters(call)],
        call,
        'deleted count',
      );
    },

    async listThreads(tenantId, page, call) {
      const { rows } = await runQuery(
        db,
        'sessionLog listThreads',
        sql.threads,
        [tenantId, page.after ?? '', int4Limit(page.limit)],
        call,
      );
      return rows.map((row) => row.listed_thread_id);
    },
  };
}

/** A row of the event read functions, as the kit checks and decodes it. */
function toEventRow(row: Record<string, unknown>): SessionEventRow {
  return {
    tenantId: row.ev_tenant_id,
    seq: toSafeInteger(row.ev_seq, 'event seq'),
    payload: row.ev_event,
    appendedAt: row.ev_ts,
  };
}
