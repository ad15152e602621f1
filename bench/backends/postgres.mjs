// Postgres through pg: the bundle runs as a non-superuser application role, so forced
// row-level security is in force, and the raw statements use the same pool.

import { createHash } from 'node:crypto';
import { ThreadKey } from '@entelix/core';
import { createPostgresPersistence } from '@entelix/postgres';
import pg from 'pg';
import { fixturesSql, rawSchemaSql, sqlCases, sqlScaling } from './sql.mjs';

/**
 * The benchmark's application role (BENCH_APP_ROLE, by default entelix_app_bench), which
 * row-level security binds, created by `owner` if missing, and the URL connecting as it.
 */
export async function benchApplicationRole(owner, url) {
  const appRole = process.env.BENCH_APP_ROLE ?? 'entelix_app_bench';
  await owner.query(`DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${appRole}') THEN
      CREATE ROLE ${appRole} LOGIN NOSUPERUSER NOBYPASSRLS;
    END IF; END $$`);
  const appUrl = new URL(url);
  appUrl.username = appRole;
  appUrl.password = '';
  return { appRole, appUrl: appUrl.toString() };
}

// With `preparedStatements`, the bundle runs named statements, and so does the raw
// side, so the ratio still compares like with like.
export async function openPostgres({ state, url, iterations, preparedStatements = false }) {
  const schema = `entelix_bench_${Date.now().toString(36)}`;
  const owner = new pg.Pool({ connectionString: url, max: 2 });
  const { appRole, appUrl } = await benchApplicationRole(owner, url);
  await (await createPostgresPersistence({ pool: owner, schema })).close();
  const { raw, sql } = rawSchemaSql(schema);
  // The growth rows are about indexes, not the protocol: the default lane runs them.
  const growth = !preparedStatements;
  await owner.query(`${sql}
    ${fixturesSql({ schema, raw, state, growth })}
    GRANT USAGE ON SCHEMA ${schema}, ${raw} TO ${appRole};
    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${schema}, ${raw} TO ${appRole};
    GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA ${schema} TO ${appRole};`);
  const pool = new pg.Pool({ connectionString: appUrl, max: 16 });
  const persistence = await createPostgresPersistence({
    pool,
    schema,
    migrate: 'verify',
    preparedStatements,
  });
  const query = preparedStatements
    ? (text, values) => pool.query({ name: rawStatementName(text), text, values })
    : (text, params) => pool.query(text, params);
  const checkpointer = persistence.checkpointer();
  const payload = JSON.stringify({ schema_version: 1, state });

  // getLatest must not slow down as a thread's history grows.
  const historyCase = async (count) => {
    const key = ThreadKey.of('bench-tenant', `history-${count}`);
    const client = await owner.connect();
    try {
      await client.query('BEGIN');
      await client.query(`SELECT set_config('entelix.tenant_id', 'bench-tenant', true)`);
      await client.query(
        `INSERT INTO ${schema}.checkpoints (tenant_id, thread_id, id, step, state, created_at)
         SELECT 'bench-tenant', $1, gen_random_uuid(), n, $2, now() FROM generate_series(1, $3::int) AS n`,
        [key.threadId, payload, count],
      );
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    await owner.query(`ANALYZE ${schema}.checkpoints`);
    return () => checkpointer.getLatest(key);
  };
  const scaling = [];
  if (growth) {
    const small = await historyCase(10);
    const large = await historyCase(100_000);
    scaling.push({ name: 'getLatest, 100,000 vs 10 checkpoints', small, large, iterations });
    scaling.push(...sqlScaling({ persistence, query, raw, iterations }));
  }

  return {
    name: preparedStatements ? 'postgres, prepared' : 'postgres',
    cases: await sqlCases({ persistence, query, raw, state }),
    // Compared with each other, not with a raw statement: the ratio is growth.
    scaling,
    async close() {
      await persistence.close();
      await pool.end();
      await owner.query(`DROP SCHEMA ${schema} CASCADE; DROP SCHEMA ${raw} CASCADE;`);
      await owner.end();
    },
  };
}

function rawStatementName(text) {
  return `raw_${createHash('sha1').update(text).digest('hex').slice(0, 32)}`;
}
