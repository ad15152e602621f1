// Benchmark of @entelix/redis against raw single commands on the same connection.
// Not a test: run `npm run bench -w @entelix/redis` with REDIS_URL set (default
// redis://127.0.0.1:6379). Uses a random key prefix and deletes its keys afterwards.
import { Checkpoint, Namespace, ThreadKey } from '@entelix/core';
import { Redis } from 'ioredis';
import { createRedisPersistence } from '../dist/index.js';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 2000);
const keyPrefix = `bench${Math.random().toString(36).slice(2, 10)}`;
const client = new Redis(url);
const persistence = createRedisPersistence({ client, keyPrefix });

const tenant = 'bench-tenant';
const threads = Array.from({ length: 64 }, (_, i) => ThreadKey.of(tenant, `thread-${i}`));
const namespace = Namespace.of(tenant, 'bench', 'list');
const checkpointer = persistence.checkpointer();
const log = persistence.sessionLog();
const store = persistence.store();
const state = { messages: [{ role: 'user', text: 'hello '.repeat(20) }], step: 1 };
const rawScript = 'return 1';
const rawSha = await client.script('LOAD', rawScript);

/** Run `op(i)` ITERATIONS times with `concurrency` workers; p50 latency (ms) and ops/s. */
async function measure(op, concurrency) {
  const latencies = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const i = next++;
        if (i >= ITERATIONS) return;
        const t0 = performance.now();
        await op(i);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { p50: latencies[Math.floor(latencies.length / 2)], opsPerSecond: ITERATIONS / seconds };
}

async function seed() {
  for (const key of threads) {
    let parent = null;
    for (let step = 0; step < 20; step++) {
      const cp = Checkpoint.create({ key, step, state, parentId: parent });
      await checkpointer.put(cp);
      parent = cp.id;
    }
    await log.append(
      key,
      Array.from({ length: 50 }, (_, i) => ({ i })),
    );
  }
  for (let i = 0; i < 100; i++)
    await store.put(namespace, `key-${String(i).padStart(3, '0')}`, state);
}

const latestIds = new Map();
const operations = {
  'raw SET': { raw: true, op: (i) => client.set(`${keyPrefix}:raw:${i % 64}`, 'x') },
  'raw GET': { raw: true, op: (i) => client.get(`${keyPrefix}:raw:${i % 64}`) },
  'raw EVALSHA': { raw: true, op: (i) => client.evalsha(rawSha, 1, `${keyPrefix}:raw:${i % 64}`) },
  'checkpointer.put': {
    baseline: 'raw EVALSHA',
    op: async (i) => {
      const key = threads[i % 64];
      const cp = Checkpoint.create({ key, step: i, state });
      await checkpointer.put(cp);
      latestIds.set(key, cp.id);
    },
  },
  'checkpointer.getLatest': {
    baseline: 'raw EVALSHA',
    op: (i) => checkpointer.getLatest(threads[i % 64]),
  },
  'checkpointer.getById': {
    baseline: 'raw GET',
    op: (i) => checkpointer.getById(threads[i % 64], latestIds.get(threads[i % 64])),
  },
  'checkpointer.listHistory(10)': {
    baseline: 'raw EVALSHA',
    op: (i) => checkpointer.listHistory(threads[i % 64], { limit: 10 }),
  },
  'checkpointer.updateState (2 round trips)': {
    baseline: 'raw EVALSHA',
    op: async (i) => {
      const key = threads[i % 64];
      const id = await checkpointer.updateState(key, latestIds.get(key), state);
      latestIds.set(key, id);
    },
  },
  'sessionLog.append(1)': {
    baseline: 'raw EVALSHA',
    op: (i) => log.append(threads[i % 64], [{ i }]),
  },
  'sessionLog.loadSince(10)': {
    baseline: 'raw GET',
    op: (i) => log.loadSince(threads[i % 64], 10, { limit: 10 }),
  },
  'sessionLog.head': { baseline: 'raw GET', op: (i) => log.head(threads[i % 64]) },
  'store.put': {
    baseline: 'raw EVALSHA',
    op: (i) => store.put(namespace, `key-${String(i % 100).padStart(3, '0')}`, state),
  },
  'store.get': {
    baseline: 'raw EVALSHA',
    op: (i) => store.get(namespace, `key-${String(i % 100).padStart(3, '0')}`),
  },
  'store.list(100 keys)': { baseline: 'raw EVALSHA', op: () => store.list(namespace) },
  'lock.tryAcquire': {
    baseline: 'raw EVALSHA',
    op: async (i) => {
      const lease = await persistence.lock.tryAcquire(ThreadKey.of(tenant, `lock-${i}`), {
        ttlMs: 60_000,
      });
      leases.push(lease);
    },
  },
  'lease.release': { baseline: 'raw EVALSHA', op: (i) => leases[i].release() },
};
let leases = [];

async function cleanup() {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${keyPrefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await client.unlink(...keys);
  } while (cursor !== '0');
}

function row(cells) {
  return `| ${cells.join(' | ')} |`;
}

try {
  await seed();
  const results = {};
  for (const concurrency of [1, 16]) {
    for (const [name, { op }] of Object.entries(operations)) {
      if (name === 'lock.tryAcquire') leases = [];
      if (name === 'lock.tryAcquire' || name === 'lease.release') {
        // Fresh lock keys per concurrency level, so every tryAcquire is granted.
        const base = concurrency * ITERATIONS;
        const wrapped = name === 'lock.tryAcquire' ? (i) => op(base + i) : op;
        results[`${name}@${concurrency}`] = await measure(wrapped, concurrency);
        continue;
      }
      await measure(op, concurrency); // warm-up: scripts cached, connections hot
      results[`${name}@${concurrency}`] = await measure(op, concurrency);
      // The machine's speed drifts; re-measure the baseline right after each operation
      // so every ratio compares neighbours in time.
      const { baseline } = operations[name];
      if (baseline !== undefined) {
        results[`${name}@${concurrency}:baseline`] = await measure(
          operations[baseline].op,
          concurrency,
        );
      }
    }
  }
  console.log(`@entelix/redis bench: ${ITERATIONS} ops per row, ${url}\n`);
  console.log(
    row(['operation', 'c=1 p50 ms', 'c=1 ratio', 'c=16 ops/s', 'c=16 ratio', 'baseline']),
  );
  console.log(row(['---', '---:', '---:', '---:', '---:', '---']));
  for (const [name, { baseline }] of Object.entries(operations)) {
    const one = results[`${name}@1`];
    const many = results[`${name}@16`];
    const base1 = results[`${name}@1:baseline`];
    const base16 = results[`${name}@16:baseline`];
    console.log(
      row([
        name,
        one.p50.toFixed(3),
        base1 ? (one.p50 / base1.p50).toFixed(2) : '',
        many.opsPerSecond.toFixed(0),
        base16 ? (base16.opsPerSecond / many.opsPerSecond).toFixed(2) : '',
        baseline ?? '',
      ]),
    );
  }

  // list cost must depend on the namespace only: 100 keys, before and after adding
  // 100,000 unrelated keys (items of other namespaces and plain keys).
  const listOp = () => store.list(namespace);
  await measure(listOp, 1);
  const before = await measure(listOp, 1);
  const filler = Namespace.of(tenant, 'bench', 'filler');
  for (let i = 0; i < 100_000; i += 1000) {
    const pipeline = client.pipeline();
    for (let j = i; j < i + 1000; j++) pipeline.set(`${keyPrefix}:filler:${j}`, 'x');
    await pipeline.exec();
  }
  for (let i = 0; i < 2000; i++) await store.put(filler, `f-${i}`, i);
  // Let Redis finish the incremental rehash the new keys started before measuring.
  await new Promise((resolve) => setTimeout(resolve, 2000));
  await measure(listOp, 1);
  const after = await measure(listOp, 1);
  console.log(
    `\nstore.list(100 keys) p50: ${before.p50.toFixed(3)} ms with 0 unrelated keys, ` +
      `${after.p50.toFixed(3)} ms with ~102,000 unrelated keys: ratio ${(after.p50 / before.p50).toFixed(2)}`,
  );
} finally {
  await cleanup();
  await persistence.close();
  await client.quit();
}
