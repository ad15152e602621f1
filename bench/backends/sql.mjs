// Cases shared by the Postgres-family backends (pg and PGlite): every Entelix operation
// beside the single raw statement it corresponds to, on the same connection, against
// an RLS-free copy of the same tables. Like any application, the raw side
// JSON.stringify-s the state it writes and JSON.parse-s what it reads.

import { Checkpoint, Namespace, ThreadKey } from '@entelix/core';

// Operations spread over this many threads and namespaces, one per concurrent caller.
const SPREAD = 16;

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
      CREATE TABLE ${raw}.session_events (LIKE ${schema}.session_events INCLUDING ALL);
      CREATE TABLE ${raw}.store_items (
        tenant_id text NOT NULL, scope text[] COLLATE "C" NOT NULL, key text COLLATE "C" NOT NULL,
        value text NOT NULL, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL,
        expires_at timestamptz, PRIMARY KEY (tenant_id, scope, key));
      CREATE INDEX ON ${raw}.store_items (tenant_id, expires_at) WHERE expires_at IS NOT NULL;
      CREATE TABLE ${raw}.session_heads (LIKE ${schema}.session_heads INCLUDING ALL);`,
  };
}

/**
 * @param persistence the bundle under test
 * @param query `(text, params) => Promise` on the connection the bundle uses
 * @param raw the raw schema name
 * @param state the payload written by every write
 */
export function sqlCases({ persistence, query, raw, state }) {
  const checkpointer = persistence.checkpointer();
  const log = persistence.sessionLog();
  const store = persistence.store();
  const envelope = () => JSON.stringify({ schema_version: 1, state });
  const parseRows = ({ rows }, column) => rows.map((row) => JSON.parse(row[column]));
  const tenant = 'bench-tenant';
  const keyOf = (i) => ThreadKey.of(tenant, `thread-${i % SPREAD}`);
  let rawSeq = 0;
  return [
    {
      name: 'checkpoint put',
      entelix: (i) => checkpointer.put(Checkpoint.create({ key: keyOf(i), step: 1, state })),
      raw: (i) =>
        query(
          `INSERT INTO ${raw}.checkpoints (tenant_id, thread_id, id, parent_id, step, state, next_node, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
          [
            tenant,
            `thread-${i % SPREAD}`,
            crypto.randomUUID(),
            null,
            1,
            envelope(),
            null,
            new Date(),
          ],
        ),
    },
    {
      name: 'checkpoint getLatest',
      entelix: (i) => checkpointer.getLatest(keyOf(i)),
      raw: async (i) =>
        parseRows(
          await query(
            `SELECT * FROM ${raw}.checkpoints WHERE tenant_id = $1 AND thread_id = $2 ORDER BY seq DESC LIMIT 1`,
            [tenant, `thread-${i % SPREAD}`],
          ),
          'state',
        ),
    },
    {
      name: 'session append',
      entelix: (i) => log.append(keyOf(i), [state]),
      raw: (i) =>
        query(
          `INSERT INTO ${raw}.session_events (tenant_id, thread_id, seq, event) VALUES ($1, $2, $3, $4)`,
          [tenant, `thread-${i % SPREAD}`, ++rawSeq, envelope()],
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
          [tenant, `thread-${i % SPREAD}`, envelope()],
        ),
    },
    {
      name: 'session loadSince(10)',
      entelix: (i) => log.loadSince(keyOf(i), 5, { limit: 10 }),
      raw: async (i) =>
        parseRows(
          await query(
            `SELECT seq, event, ts FROM ${raw}.session_events
              WHERE tenant_id = $1 AND thread_id = $2 AND seq > $3 ORDER BY seq LIMIT $4`,
            [tenant, `thread-${i % SPREAD}`, 5, 10],
          ),
          'event',
        ),
    },
    {
      name: 'store put',
      entelix: (i) =>
        store.put(Namespace.of(tenant, 'bench', `w${i % SPREAD}`), `k${i % 100}`, state),
      raw: (i) =>
        query(
          `INSERT INTO ${raw}.store_items AS s (tenant_id, scope, key, value, created_at, updated_at, expires_at)
           VALUES ($1, $2, $3, $4, now(), now(), NULL)
           ON CONFLICT (tenant_id, scope, key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
          [tenant, ['bench', `w${i % SPREAD}`], `k${i % 100}`, envelope()],
        ),
    },
    {
      name: 'store get',
      entelix: (i) => store.get(Namespace.of(tenant, 'bench', `w${i % SPREAD}`), `k${i % 100}`),
      raw: async (i) =>
        parseRows(
          await query(
            `SELECT * FROM ${raw}.store_items WHERE tenant_id = $1 AND scope = $2 AND key = $3
               AND (expires_at IS NULL OR expires_at > now())`,
            [tenant, ['bench', `w${i % SPREAD}`], `k${i % 100}`],
          ),
          'value',
        ),
    },
  ];
}
