import { afterAll, beforeAll, expect, it } from 'vitest';
import { checkpointStatements } from '../src/checkpointer.js';
import { sessionLogStatements } from '../src/session-log.js';
import { keyRange } from '../src/store.js';
import type { RowReader } from './snapshot.js';

/** Where the index-read tests run: a migrated schema, its application role and its owner. */
export interface IndexReadLane {
  /** The schema's name, unquoted. */
  readonly schema: string;
  /** Run `work` in one transaction as the application role, which row-level security binds. */
  asApplication<T>(work: (query: RowReader) => Promise<T>): Promise<T>;
  /** Run statements as a role row-level security does not bind (setup, ANALYZE). */
  asOwner(sql: string): Promise<void>;
  close(): Promise<void>;
}

const TENANT = 'lookup-tenant';
const SCOPE = ['crowd', 'n7'];
const THREAD = 'thread-7';
/** How many times each call runs: PL/pgSQL plans a statement anew for its first five calls, then may keep one generic plan. */
const CALLS = 8;

/** Index entries and heap rows the transaction has read so far from the tables $1 and their indexes. */
export const READS_SQL = `
  SELECT coalesce(sum(pg_stat_get_xact_tuples_returned(c.oid)), 0)::int AS n FROM pg_class c
   WHERE c.oid = ANY ($1::regclass[])
      OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = ANY ($1::regclass[]))`;

/**
 * Prove that every function searches its indexes under row-level security, as the
 * application role, with planner statistics and cached plans: each call reads about
 * what it returns (its page, thread or namespace), never the tenant's thousands of
 * rows. Reads are index entries plus heap rows returned from the tables named, a
 * difference of the transaction's own counters taken around the call.
 */
export function indexReadTests(open: () => Promise<IndexReadLane>): void {
  let lane: IndexReadLane;
  let s: string;
  let tenthCheckpoint: string;

  beforeAll(async () => {
    lane = await open();
    s = `"${lane.schema}"`;
    // One tenant: 200 namespaces of 20 items; 200 threads of 20 checkpoints (alternately
    // in '' and 'child', every fifth with source "input") with 3 writes each, and of 20
    // events; 4,000 log heads. Enough pages that reading them all costs more than a search.
    await lane.asOwner(`
      INSERT INTO ${s}.store_items (tenant_id, scope, key, value, created_at, updated_at)
      SELECT '${TENANT}', ARRAY['crowd', 'n' || (n % 200)], 'k' || (n / 200),
             '{"schema_version":1,"state":{"n":' || (n / 200) || ',"kind":"k' || (n / 200 % 4) || '"}}',
             now(), now()
        FROM generate_series(0, 3999) AS n;
      INSERT INTO ${s}.checkpoints (tenant_id, thread_id, ns, id, step, state, metadata, created_at)
      SELECT '${TENANT}', 'thread-' || (n % 200), CASE WHEN n / 200 % 2 = 0 THEN '' ELSE 'child' END,
             gen_random_uuid(), n / 200, '{"schema_version":1,"state":1}',
             CASE WHEN n / 200 % 5 = 0 THEN '{"source":"input"}' ELSE '{"source":"loop"}' END, now()
        FROM generate_series(0, 3999) AS n;
      INSERT INTO ${s}.checkpoint_writes
        (tenant_id, thread_id, ns, checkpoint_id, task_id, idx, task_path, channel, value)
      SELECT c.tenant_id, c.thread_id, c.ns, c.id, 'task', w.idx, '', 'channel',
             '{"schema_version":1,"state":1}'
        FROM ${s}.checkpoints c CROSS JOIN generate_series(0, 2) AS w(idx);
      INSERT INTO ${s}.session_events (tenant_id, thread_id, seq, event)
      SELECT '${TENANT}', 'thread-' || (n % 200), n / 200 + 1, '{"schema_version":1,"state":1}'
        FROM generate_series(0, 3999) AS n;
      INSERT INTO ${s}.session_heads (tenant_id, thread_id, head)
      SELECT '${TENANT}', 'thread-' || n, 20 FROM generate_series(0, 3999) AS n;
      ANALYZE ${s}.store_items, ${s}.checkpoints, ${s}.checkpoint_writes,
              ${s}.session_events, ${s}.session_heads;`);
    tenthCheckpoint = await lane.asApplication(async (query) => {
      await query(`SELECT set_config('entelix.tenant_id', $1, true)`, [TENANT]);
      const { rows } = await query(
        `SELECT id FROM ${s}.checkpoints WHERE tenant_id = $1 AND thread_id = $2
          ORDER BY seq OFFSET 9 LIMIT 1`,
        [TENANT, THREAD],
      );
      return rows[0].id as string;
    });
  });

  afterAll(async () => {
    await lane?.close();
  });

  /** Reads of `tables` by one call, as the application role. */
  const readsOf = (tables: readonly string[], sql: string, params: unknown[]) =>
    lane.asApplication(async (query) => {
      const names = tables.map((table) => `${s}.${table}`);
      const before = (await query(READS_SQL, [names])).rows[0].n as number;
      await query(sql.replaceAll('$s', s), params);
      return ((await query(READS_SQL, [names])).rows[0].n as number) - before;
    });

  /** Each call `CALLS` times, each time within its bound. */
  const expectBounded = async (calls: [readonly string[], string, unknown[], number][]) => {
    for (let call = 0; call < CALLS; call++) {
      for (const [tables, sql, params, most] of calls) {
        expect(await readsOf(tables, sql, params), `${sql} (call ${call + 1})`).toBeLessThanOrEqual(
          most,
        );
      }
    }
  };

  const items = ['store_items'];
  const checkpoints = ['checkpoints', 'checkpoint_writes'];

  it('a text[] condition would read an entry of every namespace of the tenant', async () => {
    const reads = await readsOf(
      items,
      `SELECT set_config('entelix.tenant_id', $1, true),
              (SELECT count(*) FROM $s.store_items
                WHERE tenant_id = $1 AND scope = $2 AND key = 'k3')`,
      [TENANT, SCOPE],
    );
    expect(reads).toBeGreaterThanOrEqual(200);
  });

  it('store get, getMany and delete read an entry per item; list and listNamespaces what matches', async () => {
    const refs = JSON.stringify([
      [SCOPE, 'k3'],
      [['crowd', 'n150'], 'k19'],
      [SCOPE, 'missing'],
    ]);
    await expectBounded([
      [items, 'SELECT * FROM $s.store_get($1, $2, $3)', [TENANT, SCOPE, 'k3'], 2],
      [items, 'SELECT * FROM $s.store_get_many($1, $2)', [TENANT, refs], 5],
      [items, 'SELECT * FROM $s.store_list($1, $2, $3, $4, NULL)', [TENANT, SCOPE, '', 'zz'], 25],
      [items, 'SELECT * FROM $s.store_namespaces($1, $2, NULL, NULL, NULL)', [TENANT, SCOPE], 2],
      // A skip scan: about one entry per namespace listed, however many items each has.
      [items, 'SELECT * FROM $s.store_namespaces($1, $2, NULL, NULL, 3)', [TENANT, ['crowd']], 6],
      [items, 'SELECT * FROM $s.store_namespaces($1, $2, 1, NULL, NULL)', [TENANT, ['crowd']], 3],
      [items, 'SELECT * FROM $s.store_namespaces($1, $2, NULL, NULL, NULL)', [TENANT, []], 400],
      [items, 'SELECT $s.store_delete($1, $2, $3, NULL, NULL)', [TENANT, SCOPE, 'gone'], 2],
    ]);
  });

  it('store list searches by prefix and cursor', async () => {
    const list = 'SELECT * FROM $s.store_list($1, $2, $3, $4, NULL)';
    const range = (r: { from: string; until: string }) => [TENANT, SCOPE, r.from, r.until];
    await expectBounded([
      [items, list, range(keyRange('k19', undefined)), 2],
      [items, list, range(keyRange(undefined, 'k8')), 2],
    ]);
  });

  it('store search reads its page without a filter, its namespace range with one', async () => {
    const search = 'SELECT * FROM $s.store_search($1, $2, $3, $4, $5, 5)';
    const none = JSON.stringify([{ field: 'kind', op: '$eq', value: 'nothing' }]);
    const every = JSON.stringify([{ field: 'n', op: '$gte', value: 0 }]);
    await expectBounded([
      [items, search, [TENANT, SCOPE, null, null, null], 6],
      [items, search, [TENANT, [], null, null, null], 6],
      [items, search, [TENANT, ['crowd'], ['crowd', 'n50'], 'k3', null], 6],
      [items, search, [TENANT, SCOPE, SCOPE, 'k3', null], 6],
      // The filter is applied before the limit: a page of matches, or the whole range.
      [items, search, [TENANT, SCOPE, null, null, every], 6],
      [items, search, [TENANT, SCOPE, null, null, none], 21],
      [items, search, [TENANT, SCOPE, SCOPE, 'k3', none], 21],
    ]);
  });

  it('checkpoint reads touch their thread and their own writes only', async () => {
    const history = 'SELECT * FROM $s.checkpoint_history($1, $2, $3, $4, $5, 5)';
    const input = JSON.stringify({ source: 'input' });
    // A structured value is compared by equality, not containment: another statement.
    const nested = JSON.stringify({ source: 'input', parents: { '': 'none' } });
    const gathered = checkpointStatements('$s');
    const eight = <T>(value: T) => Array<T>(8).fill(value);
    const eightThreads = Array.from({ length: 8 }, (_, i) => `thread-${i * 11}`);
    await expectBounded([
      [checkpoints, 'SELECT * FROM $s.checkpoint_latest($1, $2, $3)', [TENANT, THREAD, ''], 6],
      [checkpoints, 'SELECT * FROM $s.checkpoint_latest($1, $2, $3)', [TENANT, THREAD, 'child'], 6],
      [
        checkpoints,
        'SELECT * FROM $s.checkpoint_get($1, $2, $3, $4)',
        [TENANT, THREAD, 'child', tenthCheckpoint],
        6,
      ],
      // Eight reads issued together: eight times one.
      [checkpoints, gathered.latestOfEach, [TENANT, eightThreads, eight('')], 48],
      [
        checkpoints,
        gathered.getEach,
        [TENANT, eight(THREAD), eight('child'), eight(tenthCheckpoint)],
        48,
      ],
      // 5 checkpoints and their 15 writes.
      [checkpoints, history, [TENANT, THREAD, null, null, null], 25],
      [checkpoints, history, [TENANT, THREAD, 'child', null, null], 25],
      [checkpoints, history, [TENANT, THREAD, null, tenthCheckpoint, null], 28],
      [checkpoints, history, [TENANT, THREAD, '', tenthCheckpoint, null], 28],
      // A filter matching 4 of the thread's 20: at most the thread, and the matches' writes.
      [checkpoints, history, [TENANT, THREAD, null, null, input], 40],
      [checkpoints, history, [TENANT, THREAD, '', tenthCheckpoint, input], 40],
      [checkpoints, history, [TENANT, THREAD, null, null, nested], 40],
      [checkpoints, history, [TENANT, THREAD, 'child', null, nested], 40],
    ]);
  });

  /** Tasks of the write tests: each call writes slots of a task of its own. */
  let task = 0;

  /**
   * Each batch size, `CALLS` times: `call` is the statement writing `idx` for a fresh
   * task, which may read at most the batch's slots and `extra` more entries.
   */
  const expectBatchReads = async (
    what: string,
    extra: number,
    call: (idx: number[], taskId: string) => [sql: string, params: unknown[]],
  ) => {
    for (let round = 0; round < CALLS; round++) {
      for (const size of [1, 20]) {
        const idx = Array.from({ length: size }, (_, i) => i);
        const reads = await readsOf(checkpoints, ...call(idx, `task-${task++}`));
        expect(reads, `${what} of ${size}`).toBeLessThanOrEqual(size + extra);
      }
    }
  };
  const values = (idx: number[]) => idx.map(() => '{"schema_version":1,"state":1}');

  it('putWrites reads its checkpoint and the slots it writes', async () => {
    await expectBatchReads('putWrites', 2, (idx, taskId) => [
      `SELECT $s.checkpoint_put_writes($1, $2, 'child', $3, $4, '', $5::bigint[], $6::text[], $7::text[], NULL, NULL)`,
      [TENANT, THREAD, tenthCheckpoint, taskId, idx, idx.map(() => 'channel'), values(idx)],
    ]);
  });

  it('a put with writes reads its parent, the slots it writes and the id it inserts', async () => {
    await expectBatchReads('put with writes', 3, (idx, taskId) => [
      `SELECT $s.checkpoint_put_with_writes($1, $2, 'child', gen_random_uuid(), $3, 1, '{"schema_version":1,"state":1}', NULL, '{}', now(), $4::text[], $5::text[], $6::bigint[], $7::text[], $8::text[], NULL, NULL)`,
      [
        TENANT,
        THREAD,
        tenthCheckpoint,
        idx.map(() => taskId),
        idx.map(() => ''),
        idx,
        idx.map(() => 'channel'),
        values(idx),
      ],
    ]);
  });

  it('listThreads reads about one entry per thread listed, for checkpoints and logs', async () => {
    await expectBounded([
      [['checkpoints'], 'SELECT * FROM $s.checkpoint_threads($1, $2, 5)', [TENANT, ''], 10],
      [['checkpoints'], 'SELECT * FROM $s.checkpoint_threads($1, $2, 5)', [TENANT, 'thread-5'], 10],
      [['session_heads'], 'SELECT * FROM $s.log_threads($1, $2, 5)', [TENANT, ''], 6],
      [['session_heads'], 'SELECT * FROM $s.log_threads($1, $2, 5)', [TENANT, 'thread-5'], 6],
    ]);
  });

  it('session-log reads and conditional truncations touch only their thread', async () => {
    const events = ['session_events', 'session_heads'];
    const gathered = sessionLogStatements('$s');
    const eight = <T>(value: T) => Array<T>(8).fill(value);
    const eightThreads = Array.from({ length: 8 }, (_, i) => `thread-${i * 11}`);
    await expectBounded([
      [events, 'SELECT * FROM $s.log_load_since($1, $2, 10, 5)', [TENANT, THREAD], 10],
      [events, 'SELECT * FROM $s.log_load_latest($1, $2, 5)', [TENANT, THREAD], 6],
      // Eight reads issued together: eight times one.
      [events, gathered.sinceOfEach, [TENANT, eightThreads, eight(10), eight(5)], 80],
      [events, gathered.latestOfEach, [TENANT, eightThreads, eight(5)], 48],
      [events, 'SELECT $s.log_head($1, $2)', [TENANT, THREAD], 2],
      // Nothing after the head to delete: the head row and an empty range.
      [events, 'SELECT $s.log_truncate_after($1, $2, 20, 20, NULL, NULL)', [TENANT, THREAD], 3],
      [events, 'SELECT $s.log_truncate_after($1, $2, 25, NULL, NULL, NULL)', [TENANT, THREAD], 2],
    ]);
  });
}
