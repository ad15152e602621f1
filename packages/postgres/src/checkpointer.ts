import { CorruptRecordError } from '@entelix/core';
import type { CheckpointerDriver, CheckpointRow, PendingWriteRow } from '@entelix/core/adapter';
import { fenceParameters, type PostgresContext } from './context.js';
import { BACKEND, runQuery, toSafeInteger } from './queryable.js';

// int4 parameters: a larger limit reads everything anyway.
const MAX_INT4 = 2_147_483_647;

/** Checkpoints and their pending writes; one SQL function call per operation. */
export function createPostgresCheckpointer(context: PostgresContext): CheckpointerDriver {
  const { db, schema: s } = context;
  const sql = {
    put: `SELECT ${s}.checkpoint_put($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::bigint)`,
    latest: `SELECT * FROM ${s}.checkpoint_latest($1, $2, $3)`,
    get: `SELECT * FROM ${s}.checkpoint_get($1, $2, $3, $4)`,
    list: `SELECT * FROM ${s}.checkpoint_list($1, $2, $3, $4, $5, $6)`,
    fork: `SELECT ${s}.checkpoint_fork($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::bigint)`,
    deleteThread: `SELECT ${s}.checkpoint_delete_thread($1, $2, $3, $4::bigint) AS deleted`,
    putWrites: `SELECT ${s}.checkpoint_put_writes($1, $2, $3, $4, $5, $6, $7::bigint[], $8::text[], $9::text[], $10, $11::bigint)`,
    prune: `SELECT ${s}.checkpoint_prune($1, $2, $3, $4, $5, $6::bigint) AS deleted`,
    threads: `SELECT thread FROM ${s}.checkpoint_threads($1, $2, $3) AS thread`,
  };

  return {
    async put(record, call) {
      const [lockKey, fence] = fenceParameters(call.fence);
      const { key } = record;
      await runQuery(
        db,
        'checkpoint put',
        sql.put,
        [
          key.tenantId,
          key.threadId,
          record.ns,
          record.id,
          record.parentId,
          record.step,
          record.payload,
          record.nextNode,
          record.metadataJson,
          record.createdAt,
          lockKey,
          fence,
        ],
        call.signal,
      );
    },

    async getLatest(key, ns, call) {
      const params = [key.tenantId, key.threadId, ns];
      const { rows } = await runQuery(db, 'checkpoint getLatest', sql.latest, params, call.signal);
      return rows.length === 0 ? undefined : toRow(rows[0]);
    },

    async getById(key, ns, id, call) {
      const params = [key.tenantId, key.threadId, ns, id];
      const { rows } = await runQuery(db, 'checkpoint getById', sql.get, params, call.signal);
      return rows.length === 0 ? undefined : toRow(rows[0]);
    },

    async listHistory(key, query, call) {
      const { rows } = await runQuery(
        db,
        'checkpoint listHistory',
        sql.list,
        [
          key.tenantId,
          key.threadId,
          query.ns ?? null,
          query.before ?? null,
          query.filter === undefined ? null : JSON.stringify(query.filter),
          Math.min(query.limit, MAX_INT4),
        ],
        call.signal,
      );
      return rows.map(toRow);
    },

    async fork(fork, call) {
      const [lockKey, fence] = fenceParameters(call.fence);
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
          lockKey,
          fence,
        ],
        call.signal,
      );
    },

    async deleteThread(key, call) {
      const [lockKey, fence] = fenceParameters(call.fence);
      const params = [key.tenantId, key.threadId, lockKey, fence];
      const { rows } = await runQuery(
        db,
        'checkpoint deleteThread',
        sql.deleteThread,
        params,
        call.signal,
      );
      return toSafeInteger(rows[0]?.deleted, 'deleted count');
    },

    async putWrites(key, target, writes, call) {
      const [lockKey, fence] = fenceParameters(call.fence);
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
          writes.map((write) => String(write.idx)),
          writes.map((write) => write.channel),
          writes.map((write) => write.payload),
          lockKey,
          fence,
        ],
        call.signal,
      );
    },

    async prune(key, keep, call) {
      const [lockKey, fence] = fenceParameters(call.fence);
      const params = [
        key.tenantId,
        key.threadId,
        keep.ns ?? null,
        Math.min(keep.keepLatest, MAX_INT4),
        lockKey,
        fence,
      ];
      const { rows } = await runQuery(db, 'checkpoint prune', sql.prune, params, call.signal);
      return toSafeInteger(rows[0]?.deleted, 'pruned count');
    },

    async listThreads(tenantId, page, call) {
      // Thread ids are never empty, so '' is below every one of them.
      const params = [tenantId, page.after ?? '', Math.min(page.limit, MAX_INT4)];
      const { rows } = await runQuery(
        db,
        'checkpoint listThreads',
        sql.threads,
        params,
        call.signal,
      );
      return rows.map((row) => row.thread as string);
    },
  };
}

/** A row of the checkpoint functions, as the kit reads it. */
function toRow(row: Record<string, unknown>): CheckpointRow {
  return {
    tenantId: row.cp_tenant_id,
    threadId: row.cp_thread_id,
    ns: row.cp_ns,
    id: row.cp_id,
    parentId: row.cp_parent_id,
    step: toSafeInteger(row.cp_step, 'checkpoint step'),
    nextNode: row.cp_next_node,
    metadata: row.cp_metadata,
    payload: row.cp_state,
    createdAt: row.cp_created_at,
    writes: toWrites(row.cp_writes),
  };
}

/** The JSON array of [taskId, taskPath, idx, channel, value] the functions aggregate. */
function toWrites(writes: unknown): PendingWriteRow[] {
  const parsed = typeof writes === 'string' ? JSON.parse(writes) : writes;
  if (!Array.isArray(parsed)) {
    throw new CorruptRecordError('stored pending writes are not an array', { backend: BACKEND });
  }
  return parsed.map((write: unknown[]) => ({
    taskId: write[0],
    taskPath: write[1],
    idx: write[2],
    channel: write[3],
    payload: write[4],
  }));
}
