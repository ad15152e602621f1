import { CorruptRecordError } from '@entelix/core';
import type { CheckpointerDriver, CheckpointRow, PendingWriteRow } from '@entelix/core/adapter';
import {
  fenceParameters,
  int4Limit,
  type PostgresContext,
  runRemoval,
  selectList,
} from './context.js';
import { gatherReads, rowsByOrdinal } from './gather.js';
import { BACKEND, runQuery, toSafeInteger } from './queryable.js';

/** The statements of the checkpointer in the quoted schema `s`. */
export function checkpointStatements(s: string) {
  const checkpoint = selectList(
    [
      'cp_tenant_id',
      'cp_thread_id',
      'cp_ns',
      'cp_id',
      'cp_parent_id',
      'cp_step',
      'cp_state',
      'cp_next_node',
      'cp_metadata',
      'cp_writes',
    ],
    ['cp_created_at'],
  );
  return {
    put: `SELECT ${s}.checkpoint_put($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::bigint)`,
    putWithWrites: `SELECT ${s}.checkpoint_put_with_writes($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::text[], $12::text[], $13::bigint[], $14::text[], $15::text[], $16, $17::bigint)`,
    latest: `SELECT ${checkpoint} FROM ${s}.checkpoint_latest($1, $2, $3)`,
    // Gathered reads (see gatherReads): the function once per read, `ord` naming the read.
    latestOfEach: `SELECT wanted.ord, ${checkpoint}
      FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS wanted(thread_id, ns, ord)
      CROSS JOIN LATERAL ${s}.checkpoint_latest($1, wanted.thread_id, wanted.ns)`,
    get: `SELECT ${checkpoint} FROM ${s}.checkpoint_get($1, $2, $3, $4)`,
    getEach: `SELECT wanted.ord, ${checkpoint}
      FROM unnest($2::text[], $3::text[], $4::uuid[]) WITH ORDINALITY AS wanted(thread_id, ns, id, ord)
      CROSS JOIN LATERAL ${s}.checkpoint_get($1, wanted.thread_id, wanted.ns, wanted.id)`,
    history: `SELECT ${checkpoint} FROM ${s}.checkpoint_history($1, $2, $3, $4, $5, $6)`,
    fork: `SELECT ${s}.checkpoint_update_state($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::bigint)`,
    deleteThread: `SELECT ${s}.checkpoint_delete_thread($1, $2, $3, $4::bigint) AS deleted`,
    putWrites: `SELECT ${s}.checkpoint_put_writes($1, $2, $3, $4, $5, $6, $7::bigint[], $8::text[], $9::text[], $10, $11::bigint)`,
    prune: `SELECT ${s}.checkpoint_prune($1, $2, $3, $4, $5, $6::bigint) AS deleted`,
    threads: `SELECT * FROM ${s}.checkpoint_threads($1, $2, $3)`,
  };
}

/**
 * Checkpoints in `<schema>.checkpoints`, their pending writes in
 * `<schema>.checkpoint_writes`; one SQL function call per operation, every read
 * returning its checkpoints' writes in the same row. Reads of one checkpoint issued
 * together share statements (see `gatherReads`): the same functions, called once per
 * read by a lateral join.
 */
export function createPostgresCheckpointer(context: PostgresContext): CheckpointerDriver {
  const { db, schema, upkeep } = context;
  const sql = checkpointStatements(schema);

  const latest = gatherReads<{ threadId: string; ns: string }, Record<string, unknown>>({
    async one(tenantId, { threadId, ns }, call) {
      const params = [tenantId, threadId, ns];
      const { rows } = await runQuery(db, 'checkpoint getLatest', sql.latest, params, call);
      return rows[0];
    },
    async many(tenantId, reads) {
      const params = [tenantId, reads.map((read) => read.threadId), reads.map((read) => read.ns)];
      const { rows } = await runQuery(db, 'checkpoint getLatest', sql.latestOfEach, params);
      return rowsByOrdinal(rows, reads.length);
    },
  });
  const byId = gatherReads<{ threadId: string; ns: string; id: string }, Record<string, unknown>>({
    async one(tenantId, { threadId, ns, id }, call) {
      const params = [tenantId, threadId, ns, id];
      const { rows } = await runQuery(db, 'checkpoint getById', sql.get, params, call);
      return rows[0];
    },
    async many(tenantId, reads) {
      const params = [
        tenantId,
        reads.map((read) => read.threadId),
        reads.map((read) => read.ns),
        reads.map((read) => read.id),
      ];
      const { rows } = await runQuery(db, 'checkpoint getById', sql.getEach, params);
      return rowsByOrdinal(rows, reads.length);
    },
  });

  return {
    async put(record, call) {
      const checkpointColumns = [
        record.key.tenantId,
        record.key.threadId,
        record.ns,
        record.id,
        record.parentId,
        record.step,
        record.payload,
        record.nextNode,
        record.metadataJson,
        record.createdAt,
      ];
      const writes = record.parentWrites;
      if (writes.length === 0 || record.parentId === null) {
        await runQuery(
          db,
          'checkpoint put',
          sql.put,
          [...checkpointColumns, ...fenceParameters(call)],
          call,
        );
      } else {
        await runQuery(
          db,
          'checkpoint put',
          sql.putWithWrites,
          [
            ...checkpointColumns,
            writes.map((write) => write.taskId),
            writes.map((write) => write.taskPath),
            writes.map((write) => write.idx),
            writes.map((write) => write.channel),
            writes.map((write) => write.payload),
            ...fenceParameters(call),
          ],
          call,
        );
      }
      await upkeep?.checkpointWritten();
    },

    async getLatest(key, ns, call) {
      const row = await latest(key.tenantId, { threadId: key.threadId, ns }, call);
      return row === undefined ? undefined : toCheckpointRow(row);
    },

    async getById(key, ns, id, call) {
      const row = await byId(key.tenantId, { threadId: key.threadId, ns, id }, call);
      return row === undefined ? undefined : toCheckpointRow(row);
    },

    async listHistory(key, query, call) {
      const filter = query.filter === undefined ? null : JSON.stringify(query.filter);
      const { rows } = await runQuery(
        db,
        'checkpoint listHistory',
        sql.history,
        [
          key.tenantId,
          key.threadId,
          query.ns ?? null,
          query.before ?? null,
          filter,
          int4Limit(query.limit),
        ],
        call,
      );
      return rows.map(toCheckpointRow);
    },

    async fork(fork, call) {
      await runQuery(
        db,
        'checkpoint updateState',
        sql.fork,
        [
          fork.key.tenantId,
          fork.key.threadId,
          fork.ns,
          fork.parentId,
          fork.id,
          fork.payload,
          fork.metadataJson,
          fork.createdAt,
          ...fenceParameters(call),
        ],
        call,
      );
      await upkeep?.checkpointWritten();
    },

    async deleteThread(key, call) {
      return runRemoval(
        context,
        'checkpoint deleteThread',
        sql.deleteThread,
        [key.tenantId, key.threadId, ...fenceParameters(call)],
        call,
        'deleted count',
      );
    },

    async putWrites(key, target, writes, call) {
      await runQuery(
        db,
        'checkpoint putWrites',
        sql.putWrites,
        [
          key.tenantId,
          key.threadId,
          target.ns,
          target.checkpointId,
          target.taskId,
          target.taskPath,
          writes.map((write) => write.idx),
          writes.map((write) => write.channel),
          writes.map((write) => write.payload),
          ...fenceParameters(call),
        ],
        call,
      );
    },

    async prune(key, keep, call) {
      return runRemoval(
        context,
        'checkpoint prune',
        sql.prune,
        [key.tenantId, key.threadId, keep.ns ?? null, keep.keepLatest, ...fenceParameters(call)],
        call,
        'pruned count',
      );
    },

    async listThreads(tenantId, page, call) {
      const { rows } = await runQuery(
        db,
        'checkpoint listThreads',
        sql.threads,
        [tenantId, page.after ?? '', int4Limit(page.limit)],
        call,
      );
      return rows.map((row) => row.listed_thread_id);
    },
  };
}

/** A row of the checkpoint read functions, as the kit checks and decodes it. */
function toCheckpointRow(row: Record<string, unknown>): CheckpointRow {
  return {
    tenantId: row.cp_tenant_id,
    threadId: row.cp_thread_id,
    ns: row.cp_ns,
    id: row.cp_id,
    parentId: row.cp_parent_id,
    // int8: a string from pg, a number from PGlite.
    step: toSafeInteger(row.cp_step, 'checkpoint step'),
    nextNode: row.cp_next_node,
    metadata: row.cp_metadata,
    payload: row.cp_state,
    createdAt: row.cp_created_at,
    writes: toWriteRows(row.cp_writes),
  };
}

/** The json array of [task_id, task_path, idx, channel, value] a read returns. */
function toWriteRows(writes: unknown): PendingWriteRow[] {
  if (writes === null || writes === undefined) return [];
  if (!Array.isArray(writes)) {
    throw new CorruptRecordError('stored pending writes are not a list', { backend: BACKEND });
  }
  return writes.map((write): PendingWriteRow => {
    const [taskId, taskPath, idx, channel, payload] = Array.isArray(write) ? write : [];
    return { taskId, taskPath, idx, channel, payload };
  });
}
