import { type Persistence, ThreadKey } from '@entelix/core';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithService } from '../../../test-support/services.js';
import { startWorker, type WorkerJob } from '../../../test-support/workers/processes.js';
import { createPostgresPersistence } from '../src/index.js';
import { createTestSchema, type TestSchema } from './pg-support.js';

const OPENER = new URL('./workers/open.mjs', import.meta.url).href;

// Separate OS processes (child_process.fork of workers/worker.mjs, which imports the
// published entry from dist), each with its own pool, as the non-superuser
// application role, in a fresh schema dropped afterwards.
describeWithService('DATABASE_URL', 'postgres across processes (application role)', (url) => {
  let setup: TestSchema;
  let appPool: pg.Pool;
  let persistence: Persistence;

  beforeAll(async () => {
    setup = await createTestSchema(url);
    appPool = new pg.Pool({ connectionString: setup.appUrl, max: 2 });
    persistence = await createPostgresPersistence({
      pool: appPool,
      schema: setup.schema,
      migrate: 'verify',
    });
  });
  afterAll(async () => {
    await appPool?.end();
    await setup?.drop();
  });

  const jobFor = (name: WorkerJob['name'], key: ThreadKey, extra: object = {}): WorkerJob => ({
    name,
    opener: OPENER,
    url: setup.appUrl,
    schema: setup.schema,
    tenantId: key.tenantId,
    threadId: key.threadId,
    ...extra,
  });

  it('4 processes x 100 appends to one thread give ordinals exactly 1..400', async () => {
    const key = ThreadKey.of(`t-${crypto.randomUUID()}`, 'shared');
    const workers = Array.from({ length: 4 }, (_, writer) =>
      startWorker(jobFor('append', key, { count: 100, writer })),
    );
    const results = await Promise.all(workers.map((worker) => worker.result));
    const returned = results.flatMap((result) => result.heads as number[]).sort((a, b) => a - b);
    const expected = Array.from({ length: 400 }, (_, i) => i + 1);
    expect(returned).toEqual(expected);
    const events = await persistence.sessionLog<{ writer: number; n: number }>().loadSince(key, 0);
    expect(events.map((event) => event.seq)).toEqual(expected);
    for (let writer = 0; writer < 4; writer++) {
      const mine = events.filter((event) => event.event.writer === writer);
      expect(mine.map((event) => event.event.n)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    }
    expect(await persistence.sessionLog().head(key)).toBe(400);
  });

  it('4 processes incrementing a checkpointed counter under withSessionLock lose no update', async () => {
    const key = ThreadKey.of(`t-${crypto.randomUUID()}`, 'counter');
    const workers = Array.from({ length: 4 }, () =>
      startWorker(jobFor('counter', key, { iterations: 25, ttlMs: 5_000, timeoutMs: 20_000 })),
    );
    const results = await Promise.all(workers.map((worker) => worker.result));
    const succeeded = results.reduce((sum, result) => sum + (result.succeeded as number), 0);
    const latest = await persistence.checkpointer<{ count: number }>().getLatest(key);
    expect(latest?.state.count).toBe(succeeded);
    // Every successful section wrote exactly one checkpoint, each on top of the last.
    const history = await persistence
      .checkpointer<{ count: number }>()
      .listHistory(key, { limit: 1_000 });
    expect(history.map((checkpoint) => checkpoint.state.count)).toEqual(
      Array.from({ length: succeeded }, (_, i) => succeeded - i),
    );
    // With these timeouts nothing should fail; a failure would show up here by code.
    expect(results.map((result) => result.failures)).toEqual([{}, {}, {}, {}]);
    expect(succeeded).toBe(100);
  });

  it('a paused holder loses the lock to another process and its fenced write is FENCED', async () => {
    const key = ThreadKey.of(`t-${crypto.randomUUID()}`, 'takeover');
    const holder = startWorker(jobFor('holder', key, { ttlMs: 300 }));
    const acquired = await holder.next('acquired');
    // A real pause (GC, VM stall): no heartbeat, no timers, until SIGCONT.
    holder.child.kill('SIGSTOP');
    try {
      const taker = startWorker(jobFor('takeover', key, { ttlMs: 10_000, timeoutMs: 10_000 }));
      const taken = await taker.result;
      expect(BigInt(taken.fence)).toBeGreaterThan(BigInt(acquired.fence));
    } finally {
      holder.child.kill('SIGCONT');
    }
    holder.send({ type: 'write' });
    const outcome = await holder.result;
    expect(outcome).toEqual({
      codes: { put: 'FENCED', append: 'FENCED' },
      signalAborted: true,
      released: 'LOCK_LOST',
    });
    const history = await persistence
      .checkpointer<{ writer: string }>()
      .listHistory(key, { limit: 10 });
    expect(history.map((checkpoint) => checkpoint.state.writer)).toEqual(['B']);
    const events = await persistence.sessionLog<{ writer: string }>().loadSince(key, 0);
    expect(events.map((event) => event.event.writer)).toEqual(['B']);
  });
});
