#!/usr/bin/env node
// Benchmark every available backend against its raw driver, then the LangGraph bridge
// against LangGraph's own savers, in one run.
//
//   npm run bench                                   memory and PGlite; Postgres and Redis
//                                                   too when DATABASE_URL / REDIS_URL are set
//   npm run bench -- --iterations 2000 --concurrency 1,16 --payload 1024 --backends postgres,redis
//   npm run bench -- --backends langgraph           the LangGraph comparison alone
//
// Prints a table per backend, then writes bench/results/<date>.json, latest.json and
// latest.md (the Markdown table the README links to); the LangGraph comparison
// (bench/langgraph.mjs) writes bench/results/langgraph-latest.md.

import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  clearProgress,
  compare,
  measure,
  progress,
  renderText,
  writeResults,
} from '../bench/harness.mjs';

const { values } = parseArgs({
  options: {
    iterations: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '1,16' },
    payload: { type: 'string', default: '256' },
    backends: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(
    'usage: npm run bench -- [--iterations N] [--concurrency 1,16] [--payload BYTES] [--backends memory,pglite,postgres,postgres-prepared,redis,langgraph]',
  );
  process.exit(0);
}
const iterations = positiveInteger(values.iterations, '--iterations');
const concurrencies = values.concurrency.split(',').map((c) => positiveInteger(c, '--concurrency'));
const payloadBytes = positiveInteger(values.payload, '--payload');
const state = { messages: [{ role: 'user', content: 'x'.repeat(payloadBytes) }], step: 1 };

const available = {
  memory: async () => (await import('../bench/backends/memory.mjs')).openMemory({ state }),
  pglite: async () => (await import('../bench/backends/pglite.mjs')).openPglite({ state }),
  postgres: process.env.DATABASE_URL
    ? async () =>
        (await import('../bench/backends/postgres.mjs')).openPostgres({
          state,
          url: process.env.DATABASE_URL,
          iterations,
        })
    : undefined,
  'postgres-prepared': process.env.DATABASE_URL
    ? async () =>
        (await import('../bench/backends/postgres.mjs')).openPostgres({
          state,
          url: process.env.DATABASE_URL,
          iterations,
          preparedStatements: true,
        })
    : undefined,
  redis: process.env.REDIS_URL
    ? async () =>
        (await import('../bench/backends/redis.mjs')).openRedis({
          state,
          url: process.env.REDIS_URL,
          iterations,
        })
    : undefined,
};
// Not a backend: LangGraph's savers against the bridge, on memory and (with DATABASE_URL)
// Postgres, in a process of its own with its own iteration counts.
const LANGGRAPH = 'langgraph';
const requested = values.backends
  ? values.backends.split(',')
  : [...Object.keys(available), LANGGRAPH];
const backendsRequested = requested.filter((name) => name !== LANGGRAPH);
const rows = [];
const notes = [];

for (const name of backendsRequested) {
  if (!(name in available))
    fail(
      `unknown backend ${name}; choose from ${[...Object.keys(available), LANGGRAPH].join(', ')}`,
    );
  const open = available[name];
  if (open === undefined) {
    console.log(
      `${name}: skipped (set ${name.startsWith('postgres') ? 'DATABASE_URL' : 'REDIS_URL'} to include it)`,
    );
    continue;
  }
  const backend = await open();
  try {
    for (const c of backend.cases) {
      // Warm connections, plan caches and the JIT before anything is timed.
      await measure(c.entelix, { iterations: 100, concurrency: 16, warmup: 0 });
      await measure(c.raw, { iterations: 100, concurrency: 16, warmup: 0 });
      if (c.floor) await measure(c.floor, { iterations: 100, concurrency: 16, warmup: 0 });
    }
    for (const concurrency of concurrencies) {
      for (const c of backend.cases) {
        progress(`${backend.name}: ${c.name} at concurrency ${concurrency}`);
        const operations = { entelix: c.entelix, raw: c.raw };
        if (c.floor) operations.floor = c.floor;
        const { entelix, raw, floor } = await compare(operations, { iterations, concurrency });
        rows.push({ backend: backend.name, operation: c.name, concurrency, entelix, raw, floor });
      }
    }
    for (const s of backend.scaling ?? []) {
      progress(`${backend.name}: ${s.name}`);
      const { small, large } = await compare(
        { small: s.small, large: s.large },
        { iterations: s.iterations, concurrency: 1 },
      );
      rows.push({
        backend: backend.name,
        operation: s.name,
        concurrency: 1,
        entelix: large,
        raw: small,
      });
      notes.push(
        `${backend.name} "${s.name}": the "raw" columns are the small case, so the ratio is the growth.`,
      );
    }
  } finally {
    clearProgress();
    await backend.close();
  }
  console.log(`\n${renderText(rows.filter((r) => r.backend === backend.name))}`);
}

const meta = {
  date: new Date().toISOString(),
  node: process.versions.node,
  cpus: `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}`,
  iterations,
  concurrencies,
  payloadBytes,
  notes,
};
if (backendsRequested.length > 0) {
  writeResults(join(import.meta.dirname, '..', 'bench', 'results'), rows, meta);
  console.log('\nwrote bench/results/latest.json and bench/results/latest.md');
}

if (requested.includes(LANGGRAPH)) {
  console.log('\nLangGraph: the bridge against MemorySaver and PostgresSaver');
  const langGraph = spawnSync(
    process.execPath,
    [join(import.meta.dirname, '..', 'bench', 'langgraph.mjs'), '--payload', String(payloadBytes)],
    { stdio: 'inherit' },
  );
  if (langGraph.status !== 0) fail(`the LangGraph comparison failed (${langGraph.status})`);
}

function positiveInteger(text, flag) {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n <= 0) fail(`${flag} must be a positive integer, got ${text}`);
  return n;
}

function fail(message) {
  console.error(`bench: ${message}`);
  process.exit(2);
}
