#!/usr/bin/env node
// The LangGraph bridge against LangGraph's own savers, on the same graphs.
//
//   npm run bench:langgraph
//   npm run bench:langgraph -- --iterations 200 --payload 1024
//
// Lanes: MemorySaver against the Entelix saver on the memory backend and, with
// DATABASE_URL, LangGraph's PostgresSaver against the Entelix saver on @entelix/postgres,
// both on the same server as one non-superuser application role (the Entelix schema with
// forced row-level security, PostgresSaver's without any), each in a schema of its own
// that is dropped at the end.
//
// Measured, in alternating rounds (bench/harness.mjs): a 50-step graph with durability
// "sync", reported as the saver's own cost per step (the graph's time with the saver minus
// its time without one, over 50), beside it on Postgres the floor of any saver that makes
// each step durable before the next (one statement and one commit per step storing the
// checkpoint and its parent's writes, nothing else), and the same saver calls replayed without the graph
// (each step's putWrites issued without waiting, then its put, as LangGraph does);
// getState of a thread's latest checkpoint;
// getStateHistory of 100 checkpoints; a filtered list of a thread of 104 checkpoints.
// Writes bench/results/langgraph-latest.md.

import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createEntelixSaver } from '@entelix/langgraph';
import { createMemoryPersistence } from '@entelix/memory';
import { createPostgresPersistence } from '@entelix/postgres';
import { Annotation, END, START, StateGraph } from '@langchain/langgraph';
import { MemorySaver } from '@langchain/langgraph-checkpoint';
import { PostgresSaver } from '@langchain/langgraph-checkpoint-postgres';
import pg from 'pg';
import { benchApplicationRole } from './backends/postgres.mjs';
import { clearProgress, compare, progress } from './harness.mjs';

const { values } = parseArgs({
  options: {
    iterations: { type: 'string', default: '100' },
    payload: { type: 'string', default: '256' },
  },
});
const iterations = Number(values.iterations);
const payloadBytes = Number(values.payload);
const STEPS = 50;

const State = Annotation.Root({
  count: Annotation(),
  note: Annotation(),
});

function graphOf(checkpointer) {
  const builder = new StateGraph(State);
  for (let i = 0; i < STEPS; i++) {
    builder.addNode(`n${i}`, (state) => ({ count: state.count + 1, note: state.note }));
  }
  builder.addEdge(START, 'n0');
  for (let i = 1; i < STEPS; i++) builder.addEdge(`n${i - 1}`, `n${i}`);
  builder.addEdge(`n${STEPS - 1}`, END);
  return builder.compile(checkpointer === undefined ? {} : { checkpointer });
}

const input = { count: 0, note: 'x'.repeat(payloadBytes) };
const entelixConfig = (thread) => ({ configurable: { thread_id: thread, tenant_id: 'bench' } });
const langGraphConfig = (thread) => ({ configurable: { thread_id: thread } });

/** The memory lane: nothing to set up or drop. */
function openMemoryLane() {
  return {
    name: 'memory',
    reference: { name: 'MemorySaver', saver: new MemorySaver(), config: langGraphConfig },
    entelix: {
      name: 'Entelix on memory',
      saver: createEntelixSaver(createMemoryPersistence()),
      config: entelixConfig,
    },
    async close() {},
  };
}

/**
 * The Postgres lane: both savers migrated by the URL's role into schemas of their own,
 * then used through pools of one application role that row-level security binds.
 */
async function openPostgresLane(url) {
  const suffix = Date.now().toString(36);
  const entelixSchema = `entelix_lgbench_${suffix}`;
  const langGraphSchema = `langgraph_lgbench_${suffix}`;
  const owner = new pg.Pool({ connectionString: url, max: 2 });
  const { appRole, appUrl } = await benchApplicationRole(owner, url);
  await (await createPostgresPersistence({ pool: owner, schema: entelixSchema })).close();
  await new PostgresSaver(owner, undefined, { schema: langGraphSchema }).setup();
  await owner.query(`
    GRANT USAGE ON SCHEMA ${entelixSchema}, ${langGraphSchema} TO ${appRole};
    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${entelixSchema}, ${langGraphSchema} TO ${appRole};
    GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA ${entelixSchema} TO ${appRole};`);
  const pools = [0, 1, 2].map(() => new pg.Pool({ connectionString: appUrl, max: 4 }));
  const persistence = await createPostgresPersistence({
    pool: pools[0],
    schema: entelixSchema,
    migrate: 'verify',
  });
  // The same schema through named statements, on a pool of its own (see the throughput
  // rows): it reads the threads the default side wrote.
  const preparedPersistence = await createPostgresPersistence({
    pool: pools[2],
    schema: entelixSchema,
    migrate: 'verify',
    preparedStatements: true,
  });
  return {
    name: 'postgres',
    floor: {
      name: "one statement per step, the checkpoint with its parent's writes",
      saver: new OneStatementSaver(pools[0], entelixSchema),
      config: entelixConfig,
    },
    reference: {
      name: 'PostgresSaver',
      saver: new PostgresSaver(pools[1], undefined, { schema: langGraphSchema }),
      config: langGraphConfig,
    },
    entelix: {
      name: 'Entelix on postgres',
      saver: createEntelixSaver(persistence),
      config: entelixConfig,
    },
    prepared: {
      name: 'Entelix on postgres, preparedStatements: true',
      saver: createEntelixSaver(preparedPersistence),
      config: entelixConfig,
    },
    async close() {
      await persistence.close();
      await preparedPersistence.close();
      await Promise.all(pools.map((pool) => pool.end()));
      await owner.query(
        `DROP SCHEMA ${entelixSchema} CASCADE; DROP SCHEMA ${langGraphSchema} CASCADE;`,
      );
      await owner.end();
    },
  };
}

/**
 * The floor of any saver that makes each step durable before the next: `MemorySaver`
 * plus, per step, one call of the Entelix schema's function that stores a checkpoint
 * with its parent's pending writes, on the Entelix side's pool: no checks, no fencing,
 * nothing encoded but JSON.
 */
class OneStatementSaver extends MemorySaver {
  /** Writes waiting for the put of their checkpoint's child, by checkpoint id. */
  waiting = new Map();

  constructor(pool, schema) {
    super();
    this.pool = pool;
    this.putSql = `SELECT ${schema}.checkpoint_put($1, $2, '', $3, NULL, $4, $5, NULL, '{}', now(), NULL, NULL)`;
    this.putWithWritesSql = `SELECT ${schema}.checkpoint_put_with_writes($1, $2, '', $3, $4, $5, $6, NULL, '{}', now(), $7::text[], $8::text[], $9::bigint[], $10::text[], $11::text[], NULL, NULL)`;
  }

  async putWrites(config, writes, taskId, taskPath = '') {
    const { checkpoint_id } = config.configurable;
    const list = this.waiting.get(checkpoint_id) ?? [];
    for (const [idx, [channel, value]] of writes.entries()) {
      list.push({ taskId, taskPath, idx, channel, value: JSON.stringify(value ?? null) });
    }
    this.waiting.set(checkpoint_id, list);
    return super.putWrites(config, writes, taskId, taskPath);
  }

  async put(config, checkpoint, metadata, newVersions) {
    const { tenant_id, thread_id, checkpoint_id: parentId } = config.configurable;
    const thread = `floor-${thread_id}`;
    const state = JSON.stringify({ schema_version: 1, state: checkpoint });
    const step = Math.max(0, metadata.step);
    const writes = (parentId && this.waiting.get(parentId)) || [];
    this.waiting.delete(parentId);
    if (writes.length === 0) {
      await this.pool.query(this.putSql, [tenant_id, thread, checkpoint.id, step, state]);
    } else {
      await this.pool.query(this.putWithWritesSql, [
        tenant_id,
        thread,
        checkpoint.id,
        parentId,
        step,
        state,
        writes.map((write) => write.taskId),
        writes.map((write) => write.taskPath),
        writes.map((write) => write.idx),
        writes.map((write) => write.channel),
        writes.map((write) => write.value),
      ]);
    }
    return super.put(config, checkpoint, metadata, newVersions);
  }
}

const laneOpeners = [openMemoryLane];
if (process.env.DATABASE_URL) laneOpeners.push(() => openPostgresLane(process.env.DATABASE_URL));
else console.log('postgres: skipped (set DATABASE_URL to include it)');

/** Every call a 50-step run makes on its saver, with its arguments. */
async function recordSaverCalls(runInput) {
  const calls = [];
  const saver = new MemorySaver();
  const recorder = new Proxy(saver, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (!['put', 'putWrites', 'getTuple'].includes(property)) return value;
      return (config, ...rest) => {
        const { checkpoint_ns, checkpoint_id } = config.configurable ?? {};
        const address = { configurable: { checkpoint_ns, checkpoint_id } };
        calls.push([property, [address, ...structuredClone(rest)]]);
        return value.apply(target, [config, ...rest]);
      };
    },
  });
  await graphOf(recorder).invoke(runInput, {
    configurable: { thread_id: 'recorded' },
    durability: 'sync',
    recursionLimit: 100,
  });
  return calls;
}

async function replaySaverCalls(side, calls, threadId) {
  const { configurable } = side.config(threadId);
  const withThread = (config) => ({
    ...config,
    configurable: { ...config.configurable, ...configurable },
  });
  // As LangGraph issues them with durability "sync": a step's putWrites are not awaited
  // before the put of the next checkpoint, and the step waits for all of them.
  let pendingWrites = [];
  for (const [method, args] of calls) {
    const [config, ...rest] = args;
    const call = side.saver[method](withThread(config), ...rest);
    if (method === 'putWrites') {
      pendingWrites.push(call);
      continue;
    }
    await Promise.all([...pendingWrites, call]);
    pendingWrites = [];
  }
  await Promise.all(pendingWrites);
}

const rows = [];
const throughputRows = [];
const fmt = (ms) => (ms >= 100 ? ms.toFixed(0) : ms.toPrecision(3));

for (const openLane of laneOpeners) {
  const lane = await openLane();
  const bare = graphOf(undefined);
  const sides = [lane.reference, lane.entelix].map((side) => ({
    ...side,
    graph: graphOf(side.saver),
  }));
  const floor = lane.floor && { ...lane.floor, graph: graphOf(lane.floor.saver) };

  // A 50-step run on a fresh thread per iteration, and the same graph with no saver. Each
  // side warms up with 30 runs: after 5, the side with more code to compile was still
  // getting faster, and its per-step cost on memory read 1.1x-2.3x of MemorySaver's in
  // five runs of the same code (1.0x-1.2x after 30).
  progress(`${lane.name}: 50-step graph`);
  const run = await compare(
    {
      none: () => bare.invoke(input, { recursionLimit: 100 }),
      ...Object.fromEntries(
        [...sides, ...(floor ? [floor] : [])].map((side) => [
          side.name,
          (i) =>
            side.graph.invoke(input, {
              ...side.config(`run-${i}`),
              durability: 'sync',
              recursionLimit: 100,
            }),
        ]),
      ),
    },
    { iterations, concurrency: 1, rounds: 10, warmup: 30 },
  );
  const perStep = (name) => (run[name].p50 - run.none.p50) / STEPS;
  rows.push({
    lane: lane.name,
    operation: 'saver cost per step (50-step graph, sync)',
    reference: perStep(lane.reference.name),
    entelix: perStep(lane.entelix.name),
  });
  if (floor) {
    rows.push({
      lane: lane.name,
      operation: `saver cost per step, floor: ${floor.name}, nothing else`,
      reference: perStep(lane.reference.name),
      entelix: perStep(floor.name),
    });
  }
  rows.push({
    lane: lane.name,
    operation: '50-step graph, whole run',
    reference: run[lane.reference.name].p50,
    entelix: run[lane.entelix.name].p50,
  });

  // The same saver calls without the graph around them: every call a 50-step run made,
  // recorded once, replayed on a fresh thread per iteration. The difference above is of
  // two large numbers and moves with the machine's load; this measures the savers alone.
  progress(`${lane.name}: the saver calls of a 50-step run, replayed`);
  const recorded = await recordSaverCalls(input);
  const replay = await compare(
    Object.fromEntries(
      sides.map((side) => [side.name, (i) => replaySaverCalls(side, recorded, `replay-${i}`)]),
    ),
    { iterations, concurrency: 1, rounds: 10, warmup: 30 },
  );
  rows.push({
    lane: lane.name,
    operation: 'saver calls of a 50-step run, replayed, per step',
    reference: replay[lane.reference.name].p50 / STEPS,
    entelix: replay[lane.entelix.name].p50 / STEPS,
  });

  // Threads of 104 checkpoints (two 50-step runs) for the reads.
  const threads = 20;
  for (const side of sides) {
    for (let t = 0; t < threads; t++) {
      const config = { ...side.config(`read-${t}`), recursionLimit: 100 };
      await side.graph.invoke(input, config);
      await side.graph.invoke(input, config);
    }
  }
  const reads = {
    getState: (side) => (i) =>
      side.graph.getState(side.config(`read-${((i % threads) + threads) % threads}`)),
    'getStateHistory of 100': (side) => async (i) => {
      let n = 0;
      for await (const _ of side.graph.getStateHistory(
        side.config(`read-${((i % threads) + threads) % threads}`),
        { limit: 100 },
      ))
        n++;
      if (n !== 100) throw new Error(`expected 100 snapshots, got ${n}`);
    },
    'list filtered by metadata (step 25)': (side) => async (i) => {
      let n = 0;
      for await (const _ of side.saver.list(
        {
          configurable: {
            ...side.config(`read-${((i % threads) + threads) % threads}`).configurable,
            checkpoint_ns: '',
          },
        },
        { filter: { step: 25 } },
      ))
        n++;
      if (n !== 1) throw new Error(`expected 1 checkpoint, got ${n}`);
    },
  };
  for (const [operation, make] of Object.entries(reads)) {
    progress(`${lane.name}: ${operation}`);
    const measured = await compare(
      Object.fromEntries(sides.map((side) => [side.name, make(side)])),
      { iterations: iterations * 5, concurrency: 1, rounds: 10, warmup: 20 },
    );
    rows.push({
      lane: lane.name,
      operation,
      reference: measured[lane.reference.name].p50,
      entelix: measured[lane.entelix.name].p50,
    });
  }
  // Throughput of getState with 16 callers: what a service answering many threads at
  // once gets, where the server's and the client's work per call both count. A steady
  // state: batches long enough that 16 callers starting and draining at each end of a
  // batch do not weigh, after a warm-up of the contended path. On Postgres the reads the
  // callers issue in the same turn share statements, as in any service (see the Postgres
  // README).
  // With named statements (an option of @entelix/postgres, off by default) as a third
  // side of the same rounds, beside the same PostgresSaver figure.
  progress(`${lane.name}: getState, 16 callers`);
  const prepared = lane.prepared && { ...lane.prepared, graph: graphOf(lane.prepared.saver) };
  const concurrent = await compare(
    Object.fromEntries(
      [...sides, ...(prepared ? [prepared] : [])].map((side) => [side.name, reads.getState(side)]),
    ),
    { iterations: iterations * 50, concurrency: 16, rounds: 10, warmup: iterations * 10 },
  );
  throughputRows.push({
    lane: lane.name,
    operation: 'getState, 16 callers',
    reference: concurrent[lane.reference.name].opsPerSec,
    entelix: concurrent[lane.entelix.name].opsPerSec,
  });
  if (prepared) {
    throughputRows.push({
      lane: lane.name,
      operation: 'getState, 16 callers, Entelix with preparedStatements: true',
      reference: concurrent[lane.reference.name].opsPerSec,
      entelix: concurrent[prepared.name].opsPerSec,
    });
  }
  clearProgress();
  await lane.close();
}

const header = `| lane | operation | LangGraph saver p50 ms | Entelix p50 ms | ratio |\n|---|---|---:|---:|---:|`;
const lines = rows.map(
  (r) =>
    `| ${r.lane} | ${r.operation} | ${fmt(r.reference)} | ${fmt(r.entelix)} | ${(r.entelix / r.reference).toFixed(2)}x |`,
);
const throughputHeader = `| lane | operation | LangGraph saver ops/s | Entelix ops/s | ratio |\n|---|---|---:|---:|---:|`;
const throughputLines = throughputRows.map(
  (r) =>
    `| ${r.lane} | ${r.operation} | ${r.reference.toFixed(0)} | ${r.entelix.toFixed(0)} | ${(r.entelix / r.reference).toFixed(2)}x |`,
);
const table = [header, ...lines].join('\n');
const throughputTable = [throughputHeader, ...throughputLines].join('\n');
console.log(table);
console.log(`\n${throughputTable}`);
const meta = `Generated by \`npm run bench\` (alone: \`npm run bench:langgraph\`) on ${new Date().toISOString()}: Node ${process.versions.node}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${iterations} graph runs per saver, ${payloadBytes}-byte state, load average ${loadavg()[0].toFixed(1)} at the end. Ratio = Entelix p50 / LangGraph saver p50 (memory lane: MemorySaver; postgres lane: PostgresSaver, both as one application role, Entelix with forced row-level security). The first row is the difference of two whole-run times and moves with the machine's load from run to run; in the floor row, the Entelix column is a saver that only makes one call per step of the Entelix schema's function storing a checkpoint with its parent's pending writes; the replayed row times the same saver calls without the graph, issued as LangGraph issues them (a step's writes not awaited before its put). In the throughput rows, the Entelix saver's reads issued in the same turn share statements on Postgres, up to 8 to a statement (see the Postgres README); the row with \`preparedStatements: true\` reads the same threads through a second Entelix bundle running named statements (an option, off by default: see the Postgres README), in the same rounds as the other two.`;
writeFileSync(
  join(import.meta.dirname, 'results', 'langgraph-latest.md'),
  `# LangGraph bridge benchmark\n\n${meta}\n\n${table}\n\nThroughput (higher is better; ratio = Entelix ops/s / LangGraph saver ops/s):\n\n${throughputTable}\n`,
);
console.log('\nwrote bench/results/langgraph-latest.md');
