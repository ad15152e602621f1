// Cases shared by the Postgres-family backends (pg and PGlite): every Entelix operation
// beside the single raw statement it corresponds to, on the same connection, against
// an RLS-free copy of the same tables. Like any application, the raw side
// JSON.stringify-s the state it writes and JSON.parse-s what it reads.

import { Checkpoint, Namespace, ThreadKey } from '@entelix/core';

// Operations spread over this many threads and namespaces, one per concurrent caller.
const SPREAD = 16;
const TENANT = 'bench-tenant';
// The growth rows' small tenant: the same thread and namespace, next to almost nothing.
const SMALL_TENANT = 'bench-small';
const SEARCHED = ['bench', 'search'];
// Runs of the purge growth rows: each purges a tenant of its own, filled beforehand.
const PURGE_RUNS = 5;
// Threads the head-dependent appends go round: many more than calls in flight.
const THREADS_ROUND = 1024;

/** `i` as one of SPREAD slots; the harness's warm-up calls pass negative indices. */
const slot = (i) => ((i % SPREAD) + SPREAD) % SPREAD;

/**
 * Create `<schema>_raw` with the same tables and indexes, without RLS or functions. The
 * store table is keyed by its `text[]` scope, as it would be without row-level security
 * (the real one adds a text scope key because array comparison is not leakproof).
 */
export function rawSchemaSql(schema) {
  const raw = `${schema}_raw`;
  return {
    raw,
    sql: `
      CREATE SCHEMA ${raw};
      CREATE TABLE ${raw}.checkpoints (LIKE ${schema}.checkpoints INCLUDING ALL);
      CREATE TABLE ${raw}.checkpoint_writes (LIKE ${schema}.checkpoint_writes INCLUDING ALL);
      CREATE TABLE ${raw}.session_events (LIKE ${schema}.session_events INCLUDING ALL);
      CREATE TABLE ${raw}.store_items (
        tenant_id text NOT NULL, scope text[] COLLATE "C" NOT NULL, key text COLLATE "C" NOT NULL,
        value text NOT NULL, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL,
        expires_at timestamptz, PRIMARY KEY (tenant_id, scope, key));
      CREATE INDEX ON ${raw}.store_items (tenant_id, expires_at) WHERE expires_at IS NOT NULL;
      CREATE TABLE ${raw}.session_heads (LIKE ${schema}.session_heads INCLUDING ALL);
      CREATE TABLE ${raw}.locks (LIKE ${schema}.locks INCLUDING ALL);`,
  };
}

/**
 * What the cases read, written once into both schemas (run it as a role row-level
 * security does not bind): in the cases' tenant, a namespace of 200 items among 100,000
 * others, a thread of 10,000 checkpoints (every 50th with source "input") among 100,000
 * others, 16 threads whose checkpoint holds 20 pending writes, 16 to write pending writes
 * to, 16 logs of 100 events, 200 more threads; the growth rows' small tenant with the
 * same namespace and thread and 10 of each besides; tenants for the purge rows.
 */
export function fixturesSql({ schema, raw, state, growth }) {
  const payload = JSON.stringify({ schema_version: 1, state }).replaceAll("'", "''");
  // Entelix's puts record whether a value holds a \u escape (none of these does); the
  // raw table has no such column.
  const fill = (s, { markColumn = '', mark = '' } = {}) => `
    INSERT INTO ${s}.store_items (tenant_id, scope, key, value, created_at, updated_at${markColumn})
    SELECT t.tenant, ARRAY['bench', 'search'], 's' || lpad(n::text, 3, '0'),
           '{"schema_version":1,"state":{"kind":"' || CASE WHEN n % 2 = 0 THEN 'note' ELSE 'task' END
             || '","n":' || n || ',"text":"' || repeat('x', 200) || '"}}', now(), now()${mark}
      FROM (VALUES ('${TENANT}'), ('${SMALL_TENANT}')) AS t(tenant), generate_series(0, 199) AS n;
    INSERT INTO ${s}.store_items (tenant_id, scope, key, value, created_at, updated_at${markColumn})
    SELECT t.tenant, ARRAY['bench', 'bulk', 'b' || (n % 1000)], 'k' || n, '${payload}', now(), now()${mark}
      FROM (VALUES ('${TENANT}', 100000), ('${SMALL_TENANT}', 10)) AS t(tenant, size),
           generate_series(1, t.size) AS n;
    INSERT INTO ${s}.checkpoints (tenant_id, thread_id, ns, id, step, state, metadata, created_at)
    SELECT t.tenant, 'history', '', gen_random_uuid(), n, '${payload}',
           CASE WHEN n % 50 = 0 THEN '{"source":"input","step":' || n || '}'
                ELSE '{"source":"loop","step":' || n || '}' END, now()
      FROM (VALUES ('${TENANT}'), ('${SMALL_TENANT}')) AS t(tenant), generate_series(1, 10000) AS n;
    INSERT INTO ${s}.checkpoints (tenant_id, thread_id, ns, id, step, state, created_at)
    SELECT t.tenant, 'bulk-' || (n % 1000), '', gen_random_uuid(), n, '${payload}', now()
      FROM (VALUES ('${TENANT}', 100000), ('${SMALL_TENANT}', 10)) AS t(tenant, size),
           generate_series(1, t.size) AS n;
    INSERT INTO ${s}.checkpoints (tenant_id, thread_id, ns, id, step, state, created_at)
    SELECT '${TENANT}', kind || '-' || n, '', gen_random_uuid(), 0, '${payload}', now()
      FROM (VALUES ('writes'), ('pw')) AS k(kind), generate_series(0, ${SPREAD - 1}) AS n
    UNION ALL
    SELECT '${TENANT}', 'list-' || lpad(n::text, 3, '0'), '', gen_random_uuid(), 0, '${payload}', now()
      FROM generate_series(0, 199) AS n;
    INSERT INTO ${s}.checkpoint_writes
      (tenant_id, thread_id, ns, checkpoint_id, task_id, idx, task_path, channel, value)
    SELECT c.tenant_id, c.thread_id, c.ns, c.id, 'task', w.idx, '', 'messages', '${payload}'
      FROM ${s}.checkpoints c CROSS JOIN generate_series(0, 19) AS w(idx)
     WHERE c.tenant_id = '${TENANT}' AND c.thread_id LIKE 'writes-%';
    INSERT INTO ${s}.session_events (tenant_id, thread_id, seq, event)
    SELECT '${TENANT}', 'latest-' || t, n, '${payload}'
      FROM generate_series(0, ${SPREAD - 1}) AS t, generate_series(1, 100) AS n;
    INSERT INTO ${s}.session_heads (tenant_id, thread_id, head)
    SELECT '${TENANT}', 'latest-' || t, 100 FROM generate_series(0, ${SPREAD - 1}) AS t
    UNION ALL
    SELECT '${TENANT}', 'list-' || lpad(n::text, 3, '0'), 1 FROM generate_series(0, 199) AS n;
    ${growth ? purgeTenantsSql(s, payload) : ''}
    ANALYZE ${s}.store_items, ${s}.checkpoints, ${s}.checkpoint_writes, ${s}.session_events,
            ${s}.session_heads;`;
  return `${fill(schema, { markColumn: ', value_has_escape', mark: ', false' })}${fill(raw)}`;
}

// 10,000 rows (4,000 items, 2,000 checkpoints with 2,000 writes, 2,000 events) per
// tenant of the large purge runs, 10 per tenant of the small ones.
function purgeTenantsSql(s, payload) {
  const tenants = `(SELECT 'purge-' || size || '-' || run AS tenant, size
                      FROM (VALUES (10000), (10)) AS sizes(size),
                           generate_series(-${PURGE_RUNS}, ${PURGE_RUNS - 1}) AS run) p`;
  return `
    INSERT INTO ${s}.store_items (tenant_id, scope, key, value, created_at, updated_at)
    SELECT p.tenant, ARRAY['purge'], 'k' || n, '${payload}', now(), now()
      FROM ${tenants}, generate_series(1, p.size * 4 / 10) AS n;
    INSERT INTO ${s}.checkpoints (tenant_id, thread_id, ns, id, step, state, created_at)
    SELECT p.tenant, 'thread-' || (n % 10), '', gen_random_uuid(), n, '${payload}', now()
      FROM ${tenants}, generate_series(1, p.size * 2 / 10) AS n;
    INSERT INTO ${s}.checkpoint_writes
      (tenant_id, thread_id, ns, checkpoint_id, task_id, idx, task_path, channel, value)
    SELECT c.tenant_id, c.thread_id, c.ns, c.id, 'task', 0, '', 'messages', '${payload}'
      FROM ${s}.checkpoints c WHERE c.tenant_id LIKE 'purge-%';
    INSERT INTO ${s}.session_events (tenant_id, thread_id, seq, event)
    SELECT p.tenant, 'thread', n, '${payload}'
      FROM ${tenants}, generate_series(1, p.size * 2 / 10) AS n;`;
}

/**
 * @param persistence the bundle under test
 * @param query `(text, params) => Promise` on the connection the bundle uses
 * @param raw the raw schema name
 * @param state the payload written by every write
 */
export async function sqlCases({ persistence, query, raw, state }) {
  const checkpointer = persistence.checkpointer();
  const log = persistence.sessionLog();
  const store = persistence.store();
  const envelope = () => JSON.stringify({ schema_version: 1, state });
  const parseRows = ({ rows }, column) => rows.map((row) => JSON.parse(row[column]));
  // Checkpoint reads return the state, the metadata and the pending writes: the raw
  // side reads and parses the same, the writes aggregated in the same SELECT.
  const checkpointsWithWrites = (where, limit) => `
    SELECT c.*, (SELECT json_agg(json_build_array(w.task_id, w.task_path, w.idx, w.channel, w.value))
                   FROM ${raw}.checkpoint_writes w
                  WHERE w.tenant_id = c.tenant_id AND w.thread_id = c.thread_id
                    AND w.ns = c.ns AND w.checkpoint_id = c.id) AS writes
      FROM ${raw}.checkpoints c WHERE ${where}
     ORDER BY c.seq DESC LIMIT ${limit}`;
  const parseCheckpoints = ({ rows }) =>
    rows.map((row) => ({
      state: JSON.parse(row.state),
      metadata: JSON.parse(row.metadata),
      writes: (row.writes ?? []).map((write) => JSON.parse(write[4])),
    }));
  const tenant = TENANT;
  const keyOf = (i) => ThreadKey.of(tenant, `thread-${slot(i)}`);
  const keyIn = (kind, i) => ThreadKey.of(tenant, `${kind}-${slot(i)}`);
  let rawSeq = 0;

  // The checkpoints that pending writes go to, by thread, in each schema.
  const writeTargets = async (schema) => {
    const { rows } = await query(
      `SELECT thread_id, id FROM ${schema}.checkpoints WHERE tenant_id = $1 AND thread_id LIKE 'pw-%'`,
      [tenant],
    );
    return new Map(rows.map((row) => [row.thread_id, row.id]));
  };
  const rawTargets = await writeTargets(raw);
  const entelixTargets = await (async () => {
    const targets = new Map();
    for (let i = 0; i < SPREAD; i++) {
      const latest = await checkpointer.getLatest(keyIn('pw', i));
      targets.set(`pw-${i}`, latest.id);
    }
    return targets;
  })();
  // Every batch goes to a task of its own, so each write is inserted, not skipped.
  let task = 0;
  const writesOf = (count) =>
    Array.from({ length: count }, (_, idx) => ({ idx, channel: 'messages', value: state }));
  const putWrites = (count) => ({
    name: `checkpoint putWrites(${count})`,
    entelix: (i) =>
      checkpointer.putWrites(
        keyIn('pw', i),
        { checkpointId: entelixTargets.get(`pw-${slot(i)}`), taskId: `task-${task++}` },
        writesOf(count),
      ),
    raw: (i) => {
      const values = writesOf(count).map(() => envelope());
      return query(
        `INSERT INTO ${raw}.checkpoint_writes AS pw
           (tenant_id, thread_id, ns, checkpoint_id, task_id, idx, task_path, channel, value)
         SELECT $1, $2, '', $3, $4, w.idx, '', w.channel, w.value
           FROM unnest($5::bigint[], $6::text[], $7::text[]) AS w(idx, channel, value)
         ON CONFLICT (tenant_id, thread_id, ns, checkpoint_id, task_id, idx) DO UPDATE
           SET value = EXCLUDED.value WHERE EXCLUDED.idx < 0`,
        [
          tenant,
          `pw-${slot(i)}`,
          rawTargets.get(`pw-${slot(i)}`),
          `task-${task++}`,
          values.map((_, idx) => idx),
          values.map(() => 'messages'),
          values,
        ],
      );
    },
  });

  // A step's end as a runtime writes it: the next checkpoint with its parent's write. The
  // raw side is the two inserts in one statement, as one commit.
  const putWithParentWrite = {
    name: 'checkpoint put with 1 write of its parent',
    entelix: (i) =>
      checkpointer.put(
        Checkpoint.create({
          key: keyIn('pw', i),
          step: 1,
          state,
          parentId: entelixTargets.get(`pw-${slot(i)}`),
        }),
        { parentWrites: [{ taskId: `task-${task++}`, writes: writesOf(1) }] },
      ),
    raw: (i) =>
      query(
        `WITH written AS (
           INSERT INTO ${raw}.checkpoint_writes AS pw
             (tenant_id, thread_id, ns, checkpoint_id, task_id, idx, task_path, channel, value)
           VALUES ($1, $2, '', $3, $4, 0, '', 'messages', $5)
           ON CONFLICT (tenant_id, thread_id, ns, checkpoint_id, task_id, idx) DO UPDATE
             SET value = EXCLUDED.value WHERE EXCLUDED.idx < 0)
         INSERT INTO ${raw}.checkpoints (tenant_id, thread_id, id, parent_id, step, state, next_node, created_at)
         VALUES ($1, $2, $6, $3, 1, $7, NULL, $8)`,
        [
          tenant,
          `pw-${slot(i)}`,
          rawTargets.get(`pw-${slot(i)}`),
          `task-${task++}`,
          envelope(),
          crypto.randomUUID(),
          envelope(),
          new Date(),
        ],
      ),
  };

  // Heads as each side last saw them, and each side's count of calls, for the appends
  // that depend on the head.
  const heads = { entelix: new Map(), raw: new Map() };
  const conditional = { entelix: 0, raw: 0 };
  const tails = { entelix: 0, raw: 0 };
  const searchFilter = { kind: 'note' };
  const noMatchFilter = { kind: 'event' };
  // A search of the namespace with a filter on its items' kind, beside the raw statement.
  const filteredSearch = (name, filter) => ({
    name,
    entelix: () => store.search(tenant, { namespacePrefix: SEARCHED, filter, limit: 100 }),
    raw: async () =>
      parseRows(
        await query(
          `SELECT * FROM ${raw}.store_items WHERE tenant_id = $1 AND scope = $2
             AND (expires_at IS NULL OR expires_at > now())
             AND (value::jsonb -> 'state' -> 'kind') = $3::jsonb
           ORDER BY scope, key LIMIT 100`,
          [tenant, SEARCHED, JSON.stringify(filter.kind)],
        ),
        'value',
      ),
  });

  return [
    {
      name: 'checkpoint put',
      entelix: (i) => checkpointer.put(Checkpoint.create({ key: keyOf(i), step: 1, state })),
      raw: (i) =>
        query(
          `INSERT INTO ${raw}.checkpoints (tenant_id, thread_id, id, parent_id, step, state, next_node, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
          [tenant, `thread-${slot(i)}`, crypto.randomUUID(), null, 1, envelope(), null, new Date()],
        ),
    },
    {
      name: 'checkpoint getLatest',
      entelix: (i) => checkpointer.getLatest(keyOf(i)),
      raw: async (i) =>
        parseCheckpoints(
          await query(
            checkpointsWithWrites(`c.tenant_id = $1 AND c.thread_id = $2 AND c.ns = ''`, 1),
            [tenant, `thread-${slot(i)}`],
          ),
        ),
    },
    putWrites(1),
    putWrites(20),
    putWithParentWrite,
    {
      // The raw side reads the checkpoint and aggregates its writes in one SELECT.
      name: 'checkpoint getLatest, 20 pending writes',
      entelix: (i) => checkpointer.getLatest(keyIn('writes', i)),
      raw: async (i) =>
        parseCheckpoints(
          await query(
            checkpointsWithWrites(`c.tenant_id = $1 AND c.thread_id = $2 AND c.ns = ''`, 1),
            [tenant, `writes-${slot(i)}`],
          ),
        ),
    },
    {
      name: 'checkpoint listHistory(10), filtered, 10,000-checkpoint thread',
      entelix: () =>
        checkpointer.listHistory(ThreadKey.of(tenant, 'history'), {
          limit: 10,
          filter: { source: 'input' },
        }),
      raw: async () =>
        parseCheckpoints(
          await query(
            checkpointsWithWrites(
              `c.tenant_id = $1 AND c.thread_id = 'history' AND (c.metadata::jsonb -> 'source') = $2::jsonb`,
              10,
            ),
            [tenant, JSON.stringify('input')],
          ),
        ),
    },
    {
      name: 'checkpoint listThreads(100)',
      entelix: () => checkpointer.listThreads(tenant, { limit: 100, after: 'list' }),
      // The same skip scan, one index probe per thread.
      raw: async () =>
        (
          await query(
            `WITH RECURSIVE listed(thread_id) AS (
                 (SELECT thread_id FROM ${raw}.checkpoints WHERE tenant_id = $1 AND thread_id > $2
                   ORDER BY thread_id LIMIT 1)
               UNION ALL
                 SELECT (SELECT c.thread_id FROM ${raw}.checkpoints c
                          WHERE c.tenant_id = $1 AND c.thread_id > listed.thread_id
                          ORDER BY c.thread_id LIMIT 1)
                   FROM listed WHERE listed.thread_id IS NOT NULL)
             SELECT thread_id FROM listed WHERE thread_id IS NOT NULL LIMIT 100`,
            [tenant, 'list'],
          )
        ).rows.map((row) => row.thread_id),
    },
    {
      name: 'session append',
      entelix: (i) => log.append(keyOf(i), [state]),
      raw: (i) =>
        query(
          `INSERT INTO ${raw}.session_events (tenant_id, thread_id, seq, event) VALUES ($1, $2, $3, $4)`,
          [tenant, `thread-${slot(i)}`, ++rawSeq, envelope()],
        ),
    },
    {
      // The same append against the two row writes it is made of: gap-free ordinals
      // that survive archiving need the per-thread head row as well as the event.
      name: 'session append, raw = head row + event',
      entelix: (i) => log.append(keyOf(i), [state]),
      raw: (i) =>
        query(
          `WITH head AS (
             INSERT INTO ${raw}.session_heads AS h (tenant_id, thread_id, head) VALUES ($1, $2, 1)
             ON CONFLICT (tenant_id, thread_id) DO UPDATE SET head = h.head + 1 RETURNING h.head)
           INSERT INTO ${raw}.session_events (tenant_id, thread_id, seq, event)
           SELECT $1, $2, head.head + 1000000000, $3 FROM head`,
          [tenant, `thread-${slot(i)}`, envelope()],
        ),
    },
    {
      // Read-modify-write without a lock, from the head each side last saw. Calls go
      // round 1,024 threads, so two in flight never share one and nothing conflicts; a
      // CONFLICT would read the head again, as an application would, on either side.
      name: 'session append(expectedHead)',
      entelix: async () => {
        const key = ThreadKey.of(tenant, `cond-${conditional.entelix++ % THREADS_ROUND}`);
        const expectedHead = heads.entelix.get(key.threadId) ?? 0;
        try {
          heads.entelix.set(key.threadId, await log.append(key, [state], { expectedHead }));
        } catch (error) {
          if (error?.code !== 'CONFLICT') throw error;
          heads.entelix.set(key.threadId, await log.head(key));
        }
      },
      raw: async () => {
        const thread = `cond-${conditional.raw++ % THREADS_ROUND}`;
        const expected = heads.raw.get(thread) ?? 0;
        const { rows } = await query(
          `WITH head AS (
             INSERT INTO ${raw}.session_heads AS h (tenant_id, thread_id, head) VALUES ($1, $2, 1)
             ON CONFLICT (tenant_id, thread_id) DO UPDATE SET head = h.head + 1 WHERE h.head = $4
             RETURNING h.head)
           INSERT INTO ${raw}.session_events (tenant_id, thread_id, seq, event)
           SELECT $1, $2, head.head, $3 FROM head WHERE head.head = $4 + 1
           RETURNING seq`,
          [tenant, thread, envelope(), expected],
        );
        if (rows.length > 0) {
          heads.raw.set(thread, Number(rows[0].seq));
          return;
        }
        const current = await query(
          `SELECT head FROM ${raw}.session_heads WHERE tenant_id = $1 AND thread_id = $2`,
          [tenant, thread],
        );
        heads.raw.set(thread, Number(current.rows[0]?.head ?? 0));
      },
    },
    {
      // A regenerated answer: the last event replaced, in one step.
      name: 'session append(truncateAfter: head - 1)',
      entelix: async () => {
        const key = ThreadKey.of(tenant, `tail-${tails.entelix++ % THREADS_ROUND}`);
        const head = heads.entelix.get(key.threadId) ?? 0;
        const truncateAfter = Math.max(0, head - 1);
        heads.entelix.set(key.threadId, await log.append(key, [state], { truncateAfter }));
      },
      raw: async () => {
        const thread = `tail-${tails.raw++ % THREADS_ROUND}`;
        const head = heads.raw.get(thread) ?? 0;
        const { rows } = await query(
          `WITH head AS (
             INSERT INTO ${raw}.session_heads AS h (tenant_id, thread_id, head) VALUES ($1, $2, 1)
             ON CONFLICT (tenant_id, thread_id) DO UPDATE SET head = h.head + 1 RETURNING h.head),
           tail AS (
             DELETE FROM ${raw}.session_events WHERE tenant_id = $1 AND thread_id = $2 AND seq > $4)
           INSERT INTO ${raw}.session_events (tenant_id, thread_id, seq, event)
           SELECT $1, $2, head.head, $3 FROM head RETURNING seq`,
          [tenant, thread, envelope(), Math.max(0, head - 1)],
        );
        heads.raw.set(thread, Number(rows[0].seq));
      },
    },
    {
      name: 'session loadSince(10)',
      entelix: (i) => log.loadSince(keyOf(i), 5, { limit: 10 }),
      raw: async (i) =>
        parseRows(
          await query(
            `SELECT seq, event, ts FROM ${raw}.session_events
              WHERE tenant_id = $1 AND thread_id = $2 AND seq > $3 ORDER BY seq LIMIT $4`,
            [tenant, `thread-${slot(i)}`, 5, 10],
          ),
          'event',
        ),
    },
    {
      name: 'session loadLatest(10)',
      entelix: (i) => log.loadLatest(keyIn('latest', i), { limit: 10 }),
      raw: async (i) =>
        parseRows(
          await query(
            `SELECT seq, event, ts FROM ${raw}.session_events
              WHERE tenant_id = $1 AND thread_id = $2 ORDER BY seq DESC LIMIT 10`,
            [tenant, `latest-${slot(i)}`],
          ),
          'event',
        ).reverse(),
    },
    {
      name: 'session listThreads(100)',
      entelix: () => log.listThreads(tenant, { limit: 100, after: 'latest-9' }),
      raw: async () =>
        (
          await query(
            `SELECT thread_id FROM ${raw}.session_heads
              WHERE tenant_id = $1 AND thread_id > $2 ORDER BY thread_id LIMIT 100`,
            [tenant, 'latest-9'],
          )
        ).rows.map((row) => row.thread_id),
    },
    {
      name: 'store put',
      entelix: (i) => store.put(Namespace.of(tenant, 'bench', `w${slot(i)}`), `k${i % 100}`, state),
      raw: (i) =>
        query(
          `INSERT INTO ${raw}.store_items AS s (tenant_id, scope, key, value, created_at, updated_at, expires_at)
           VALUES ($1, $2, $3, $4, now(), now(), NULL)
           ON CONFLICT (tenant_id, scope, key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
          [tenant, ['bench', `w${slot(i)}`], `k${i % 100}`, envelope()],
        ),
    },
    {
      name: 'store get',
      entelix: (i) => store.get(Namespace.of(tenant, 'bench', `w${slot(i)}`), `k${i % 100}`),
      raw: async (i) =>
        parseRows(
          await query(
            `SELECT * FROM ${raw}.store_items WHERE tenant_id = $1 AND scope = $2 AND key = $3
               AND (expires_at IS NULL OR expires_at > now())`,
            [tenant, ['bench', `w${slot(i)}`], `k${i % 100}`],
          ),
          'value',
        ),
    },
    {
      name: 'store getMany(10)',
      entelix: (i) =>
        store.getMany(
          Array.from({ length: 10 }, (_, n) => ({
            namespace: Namespace.of(tenant, ...SEARCHED),
            key: `s${String((slot(i) * 10 + n) % 200).padStart(3, '0')}`,
          })),
        ),
      raw: async (i) => {
        const keys = Array.from(
          { length: 10 },
          (_, n) => `s${String((slot(i) * 10 + n) % 200).padStart(3, '0')}`,
        );
        // The whole row, as the other store reads take it: the items' times are read too.
        const { rows } = await query(
          `SELECT * FROM ${raw}.store_items
            WHERE tenant_id = $1 AND scope = $2 AND key = ANY ($3::text[])
              AND (expires_at IS NULL OR expires_at > now())`,
          [tenant, SEARCHED, keys],
        );
        const byKey = new Map(rows.map((row) => [row.key, JSON.parse(row.value)]));
        return keys.map((key) => byKey.get(key));
      },
    },
    {
      name: 'store search(100) of 200 among 100,000 items',
      entelix: () => store.search(tenant, { namespacePrefix: SEARCHED, limit: 100 }),
      raw: async () =>
        parseRows(
          await query(
            `SELECT * FROM ${raw}.store_items WHERE tenant_id = $1 AND scope = $2
               AND (expires_at IS NULL OR expires_at > now())
             ORDER BY scope, key LIMIT 100`,
            [tenant, SEARCHED],
          ),
          'value',
        ),
    },
    filteredSearch('store search(100), filtered, of 200 among 100,000 items', searchFilter),
    // Every item of the namespace read, none returned: the cost of the items a filter skips.
    filteredSearch('store search(100), filtered, none of 200 among 100,000 items', noMatchFilter),
  ];
}

/**
 * Growth rows, each side the same Entelix call (or the same raw statement): the small
 * tenant's thread and namespace are the cases' own, beside 10 rather than 100,000 other
 * items and checkpoints; a purge of 10 rows against one of 10,000.
 */
export function sqlScaling({ persistence, query, raw, iterations }) {
  const checkpointer = persistence.checkpointer();
  const store = persistence.store();
  const history = (tenant) => () =>
    checkpointer.listHistory(ThreadKey.of(tenant, 'history'), {
      limit: 10,
      filter: { source: 'input' },
    });
  const search = (tenant) => () =>
    store.search(tenant, { namespacePrefix: SEARCHED, filter: { kind: 'note' }, limit: 100 });
  const rawPurge = (tenant) =>
    query(
      `WITH cp AS (DELETE FROM ${raw}.checkpoints WHERE tenant_id = $1 RETURNING 1),
            writes AS (DELETE FROM ${raw}.checkpoint_writes WHERE tenant_id = $1 RETURNING 1),
            items AS (DELETE FROM ${raw}.store_items WHERE tenant_id = $1 RETURNING 1),
            events AS (DELETE FROM ${raw}.session_events WHERE tenant_id = $1 RETURNING 1),
            leases AS (UPDATE ${raw}.locks SET fence = fence + 1, expires_at = NULL WHERE tenant_id = $1)
       SELECT (SELECT count(*) FROM cp) AS checkpoints, (SELECT count(*) FROM writes) AS writes,
              (SELECT count(*) FROM items) AS items, (SELECT count(*) FROM events) AS events`,
      [tenant],
    );
  // The harness's warm-up calls pass -1..-PURGE_RUNS, the timed ones 0..PURGE_RUNS-1.
  const purgeTenant = (size, i) => `purge-${size}-${i}`;
  return [
    {
      name: 'store search(100), filtered, 100,000 vs 10 other items in the tenant',
      small: search(SMALL_TENANT),
      large: search(TENANT),
      iterations,
    },
    {
      name: 'listHistory(10), filtered, 100,000 vs 10 other checkpoints in the tenant',
      small: history(SMALL_TENANT),
      large: history(TENANT),
      iterations,
    },
    {
      name: 'purgeTenant, 10,000 vs 10 rows',
      small: (i) => persistence.purgeTenant(purgeTenant(10, i)),
      large: (i) => persistence.purgeTenant(purgeTenant(10000, i)),
      iterations: PURGE_RUNS,
    },
    {
      name: 'raw purge statement, 10,000 vs 10 rows',
      small: (i) => rawPurge(purgeTenant(10, i)),
      large: (i) => rawPurge(purgeTenant(10000, i)),
      iterations: PURGE_RUNS,
    },
  ];
}
