// Benchmark: @entelix/postgres operations next to the raw single statement they
// correspond to, on the same pool, as a non-superuser application role (RLS in force).
//   DATABASE_URL=postgres://owner@host/db npm run bench -w @entelix/postgres
// DATABASE_URL must be a role that can create a schema and a role (setup only); the
// measured work runs as BENCH_APP_ROLE (default entelix_app_bench).
import { Checkpoint, Namespace, ThreadKey } from '@entelix/core';
import pg from 'pg';
import { createPostgresPersistence } from '../dist/index.js';

const url = process.env.DATABASE_URL;
if (!url) {
  console.error('set DATABASE_URL (an owner role that may create schemas and roles)');
  process.exit(2);
}
const appRole = process.env.BENCH_APP_ROLE ?? 'entelix_app_bench';
const schema = `entelix_bench_${Date.now().toString(36)}`;
const raw = `${schema}_raw`;
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 2000);
const state = { messages: [{ role: 'user', content: 'hello '.repeat(20) }], step: 1 };

const owner = new pg.Pool({ connectionString: url, max: 2 });
await owner.query(`DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${appRole}') THEN
    CREATE ROLE ${appRole} LOGIN NOSUPERUSER NOBYPASSRLS;
  END IF; END $$`);
await (await createPostgresPersistence({ pool: owner, schema })).close();
// The raw baseline: the same table shapes and indexes, no RLS, no functions.
await owner.query(`
  CREATE SCHEMA ${raw};
  CREATE TABLE ${raw}.checkpoints (LIKE ${schema}.checkpoints INCLUDING ALL);
  CREATE TABLE ${raw}.session_events (LIKE ${schema}.session_events INCLUDING ALL);
  CREATE TABLE ${raw}.store_items (LIKE ${schema}.store_items INCLUDING ALL);
  GRANT USAGE ON SCHEMA ${schema}, ${raw} TO ${appRole};
  GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${schema}, ${raw} TO ${appRole};
  GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA ${schema} TO ${appRole};`);

const appUrl = new URL(url);
appUrl.username = appRole;
appUrl.password = '';
const pool = new pg.Pool({ connectionString: appUrl.toString(), max: 16 });
const persistence = await createPostgresPersistence({ pool, schema, migrate: 'verify' });
const checkpointer = persistence.checkpointer();
const log = persistence.sessionLog();
const store = persistence.store();
const payload = JSON.stringify({ schema_version: 1, state });

async function run(concurrency, iterations, op, latencies) {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      while (next < iterations) {
        const i = next++;
        const t0 = performance.now();
        await op(worker, i);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return performance.now() - started;
}

const summarize = (latencies, elapsedMs) => {
  latencies.sort((a, b) => a - b);
  return {
    p50: latencies[Math.floor(latencies.length / 2)],
    opsPerSecond: latencies.length / (elapsedMs / 1000),
  };
};

async function measure(concurrency, iterations, op) {
  const latencies = [];
  return summarize(latencies, await run(concurrency, iterations, op, latencies));
}

// The server's own noise (WAL flushes, checkpoints, tables growing as the run goes)
// drifts over seconds, so the two sides are measured in alternating rounds and each
// side's figures pool its rounds: both see the same conditions.
const ROUNDS = 5;
async function compare(concurrency, iterations, raw, entelix) {
  const sides = {
    raw: { op: raw, latencies: [], ms: 0 },
    entelix: { op: entelix, latencies: [], ms: 0 },
  };
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? [sides.raw, sides.entelix] : [sides.entelix, sides.raw];
    for (const side of order) {
      side.ms += await run(concurrency, Math.ceil(iterations / ROUNDS), side.op, side.latencies);
    }
  }
  return {
    r: summarize(sides.raw.latencies, sides.raw.ms),
    e: summarize(sides.entelix.latencies, sides.entelix.ms),
  };
}

const tenant = 'bench-tenant';
const keyOf = (worker) => ThreadKey.of(tenant, `thread-${worker}`);
let rawSeq = 0;
const cases = [
  {
    name: 'checkpoint put',
    entelix: (w) => checkpointer.put(Checkpoint.create({ key: keyOf(w), step: 1, state })),
    raw: (w) =>
      pool.query(
        `INSERT INTO ${raw}.checkpoints (tenant_id, thread_id, id, parent_id, step, state, next_node, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [tenant, `thread-${w}`, crypto.randomUUID(), null, 1, payload, null, new Date()],
      ),
  },
  {
    name: 'checkpoint getLatest',
    entelix: (w) => checkpointer.getLatest(keyOf(w)),
    raw: (w) =>
      pool.query(
        `SELECT * FROM ${raw}.checkpoints WHERE tenant_id = $1 AND thread_id = $2 ORDER BY seq DESC LIMIT 1`,
        [tenant, `thread-${w}`],
      ),
  },
  {
    name: 'session append',
    entelix: (w) => log.append(keyOf(w), [state]),
    raw: (w) =>
      pool.query(
        `INSERT INTO ${raw}.session_events (tenant_id, thread_id, seq, event) VALUES ($1, $2, $3, $4)`,
        [tenant, `thread-${w}`, ++rawSeq, payload],
      ),
  },
  {
    name: 'session loadSince (10)',
    entelix: (w) => log.loadSince(keyOf(w), 5, { limit: 10 }),
    raw: (w) =>
      pool.query(
        `SELECT seq, event, ts FROM ${raw}.session_events
          WHERE tenant_id = $1 AND thread_id = $2 AND seq > $3 ORDER BY seq LIMIT $4`,
        [tenant, `thread-${w}`, 5, 10],
      ),
  },
  {
    name: 'store put',
    entelix: (w, i) => store.put(Namespace.of(tenant, 'bench', `w${w}`), `k${i % 100}`, state),
    raw: (w, i) =>
      pool.query(
        `INSERT INTO ${raw}.store_items AS s (tenant_id, scope, key, value, created_at, updated_at, expires_at)
         VALUES ($1, $2, $3, $4, now(), now(), NULL)
         ON CONFLICT (tenant_id, scope, key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
        [tenant, ['bench', `w${w}`], `k${i % 100}`, payload],
      ),
  },
  {
    name: 'store get',
    entelix: (w, i) => store.get(Namespace.of(tenant, 'bench', `w${w}`), `k${i % 100}`),
    raw: (w, i) =>
      pool.query(
        `SELECT * FROM ${raw}.store_items WHERE tenant_id = $1 AND scope = $2 AND key = $3
           AND (expires_at IS NULL OR expires_at > now())`,
        [tenant, ['bench', `w${w}`], `k${i % 100}`],
      ),
  },
];

const fmt = (n, digits = 3) => n.toFixed(digits);
console.log(`@entelix/postgres bench: ${ITERATIONS} ops per cell, app role ${appRole}, RLS forced`);
console.log(
  'operation                 conc  entelix p50 ms  raw p50 ms  p50 ratio  entelix ops/s  raw ops/s  ops ratio',
);
try {
  // Warm every connection and plan cache first.
  for (const c of cases) {
    await measure(16, 200, c.entelix);
    await measure(16, 200, c.raw);
  }
  for (const concurrency of [1, 16]) {
    for (const c of cases) {
      const { r, e } = await compare(concurrency, ITERATIONS, c.raw, c.entelix);
      console.log(
        `${c.name.padEnd(25)} ${String(concurrency).padStart(4)}  ${fmt(e.p50).padStart(14)}  ${fmt(r.p50).padStart(10)}  ${fmt(e.p50 / r.p50, 2).padStart(9)}  ${fmt(e.opsPerSecond, 0).padStart(13)}  ${fmt(r.opsPerSecond, 0).padStart(9)}  ${fmt(r.opsPerSecond / e.opsPerSecond, 2).padStart(9)}`,
      );
    }
  }

  // getLatest on a thread of 10 vs 100,000 checkpoints.
  const small = ThreadKey.of(tenant, 'history-10');
  const large = ThreadKey.of(tenant, 'history-100k');
  for (const [key, count] of [
    [small, 10],
    [large, 100_000],
  ]) {
    await owner.query(
      `BEGIN;
       SELECT set_config('entelix.tenant_id', '${tenant}', true);
       INSERT INTO ${schema}.checkpoints (tenant_id, thread_id, id, step, state, created_at)
       SELECT '${tenant}', '${key.threadId}', gen_random_uuid(), n, '${payload.replaceAll("'", "''")}', now()
         FROM generate_series(1, ${count}) AS n;
       COMMIT;
       ANALYZE ${schema}.checkpoints;`,
    );
  }
  const tenRows = await measure(1, ITERATIONS, () => checkpointer.getLatest(small));
  const manyRows = await measure(1, ITERATIONS, () => checkpointer.getLatest(large));
  console.log(
    `getLatest p50: 10 checkpoints ${fmt(tenRows.p50)} ms, 100,000 checkpoints ${fmt(manyRows.p50)} ms, ratio ${fmt(manyRows.p50 / tenRows.p50, 2)}`,
  );
} finally {
  await persistence.close();
  await pool.end();
  await owner.query(`DROP SCHEMA ${schema} CASCADE; DROP SCHEMA ${raw} CASCADE;`);
  await owner.end();
}
