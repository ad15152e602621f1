import {
  assertRowTenant,
  type CallOptions,
  Checkpoint,
  type Checkpointer,
  CheckpointId,
  type PayloadFormat,
  readListHistoryOptions,
  readOptions,
  ThreadKey,
  throwIfAborted,
  type WriteOptions,
} from '@entelix/core';
import { fenceParameters, type PostgresContext } from './context.js';
import { BACKEND, runQuery, toDate, toSafeInteger, toText } from './queryable.js';

/** A checkpointer over `<schema>.checkpoints`; one SQL function call per operation. */
export function createPostgresCheckpointer<S>(
  context: PostgresContext,
  format: PayloadFormat<S>,
): Checkpointer<S> {
  const { db, schema: s } = context;
  const sql = {
    put: `SELECT ${s}.put_checkpoint($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::bigint)`,
    latest: `SELECT * FROM ${s}.latest_checkpoint($1, $2)`,
    byId: `SELECT * FROM ${s}.checkpoint_by_id($1, $2, $3)`,
    history: `SELECT * FROM ${s}.checkpoint_history($1, $2, $3, $4)`,
    fork: `SELECT ${s}.fork_checkpoint($1, $2, $3, $4, $5, $6, $7, $8::bigint)`,
    deleteThread: `SELECT ${s}.delete_checkpoints($1, $2, $3, $4::bigint) AS deleted`,
  };

  const toCheckpoint = (row: Record<string, unknown>, key: ThreadKey): Checkpoint<S> => {
    assertRowTenant(row.tenant_id, key, BACKEND);
    return {
      id: CheckpointId.parse(row.id),
      key,
      parentId: row.parent_id == null ? null : CheckpointId.parse(row.parent_id),
      step: toSafeInteger(row.step, 'checkpoint step'),
      state: format.decode(toText(row.state, 'checkpoint state')),
      nextNode: row.next_node == null ? null : toText(row.next_node, 'checkpoint next node'),
      createdAt: toDate(row.created_at, 'checkpoint created_at'),
    };
  };

  return {
    async put(checkpoint, options) {
      const cp = Checkpoint.validate<S>(checkpoint);
      const opts = readOptions<WriteOptions>(options);
      const [lockKey, fence] = fenceParameters(opts.fence, cp.key.tenantId);
      const state = format.encode(cp.state);
      throwIfAborted(opts.signal, BACKEND);
      await runQuery(
        db,
        'checkpoint put',
        sql.put,
        [
          cp.key.tenantId,
          cp.key.threadId,
          cp.id,
          cp.parentId,
          cp.step,
          state,
          cp.nextNode,
          cp.createdAt,
          lockKey,
          fence,
        ],
        opts.signal,
      );
    },

    async getLatest(key, options) {
      const threadKey = ThreadKey.from(key);
      const { signal } = readOptions<CallOptions>(options);
      throwIfAborted(signal, BACKEND);
      const { rows } = await runQuery(
        db,
        'checkpoint getLatest',
        sql.latest,
        [threadKey.tenantId, threadKey.threadId],
        signal,
      );
      return rows.length === 0 ? undefined : toCheckpoint(rows[0], threadKey);
    },

    async getById(key, id, options) {
      const threadKey = ThreadKey.from(key);
      const checkpointId = CheckpointId.parse(id);
      const { signal } = readOptions<CallOptions>(options);
      throwIfAborted(signal, BACKEND);
      const { rows } = await runQuery(
        db,
        'checkpoint getById',
        sql.byId,
        [threadKey.tenantId, threadKey.threadId, checkpointId],
        signal,
      );
      return rows.length === 0 ? undefined : toCheckpoint(rows[0], threadKey);
    },

    async listHistory(key, options) {
      const threadKey = ThreadKey.from(key);
      const { limit, before, signal } = readListHistoryOptions(options);
      throwIfAborted(signal, BACKEND);
      // int4 parameter: a larger limit reads everything anyway.
      const boundedLimit = Math.min(limit, 2_147_483_647);
      const { rows } = await runQuery(
        db,
        'checkpoint listHistory',
        sql.history,
        [threadKey.tenantId, threadKey.threadId, boundedLimit, before ?? null],
        signal,
      );
      return rows.map((row) => toCheckpoint(row, threadKey));
    },

    async updateState(key, parentId, state, options) {
      const threadKey = ThreadKey.from(key);
      const parent = CheckpointId.parse(parentId);
      const opts = readOptions<WriteOptions>(options);
      const [lockKey, fence] = fenceParameters(opts.fence, threadKey.tenantId);
      const encoded = format.encode(state);
      throwIfAborted(opts.signal, BACKEND);
      const id = CheckpointId.create();
      await runQuery(
        db,
        'checkpoint updateState',
        sql.fork,
        [threadKey.tenantId, threadKey.threadId, parent, id, encoded, new Date(), lockKey, fence],
        opts.signal,
      );
      return id;
    },

    async deleteThread(key, options) {
      const threadKey = ThreadKey.from(key);
      const opts = readOptions<WriteOptions>(options);
      const [lockKey, fence] = fenceParameters(opts.fence, threadKey.tenantId);
      throwIfAborted(opts.signal, BACKEND);
      const { rows } = await runQuery(
        db,
        'checkpoint deleteThread',
        sql.deleteThread,
        [threadKey.tenantId, threadKey.threadId, lockKey, fence],
        opts.signal,
      );
      return toSafeInteger(rows[0]?.deleted, 'deleted count');
    },
  };
}
