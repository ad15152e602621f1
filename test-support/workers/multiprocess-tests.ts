import { Checkpoint, type Persistence, ThreadKey } from '@entelix/core';
import { expect, it } from 'vitest';
import { startWorker, type WorkerJob, type WorkerProcess } from './processes.js';

/** What a backend's multi-process suite supplies to {@link multiProcessTests}. */
export interface MultiProcessSetup {
  /** A bundle in the test process over the same storage the workers use. */
  persistence(): Persistence;
  /** The job for one worker, with the backend's connection fields filled in. */
  jobFor(name: WorkerJob['name'], key: ThreadKey, extra?: object): WorkerJob;
}

/**
 * The multi-process scenarios every real backend must survive, each worker a separate
 * OS process: gap-free ordinals, no lost update under `withSessionLock`, a paused
 * holder fenced out after a takeover, one pending write per (checkpoint, task, idx),
 * and conditional appends that never both win. Call inside the backend's `describe`.
 */
export function multiProcessTests(setup: MultiProcessSetup): void {
  /** Start workers, wait until every one is ready, then let them all go at once. */
  const race = async (workers: WorkerProcess[]) => {
    await Promise.all(workers.map((worker) => worker.next('ready')));
    for (const worker of workers) worker.send({ type: 'go' });
    return Promise.all(workers.map((worker) => worker.result));
  };

  it('4 processes writing the same (checkpoint, task, idx) keep exactly one write, the same for all', async () => {
    const key = ThreadKey.of(`t-${crypto.randomUUID()}`, 'writes');
    const checkpoint = Checkpoint.create({ key, step: 0, state: { n: 0 } });
    await setup.persistence().checkpointer().put(checkpoint);
    const results = await race(
      Array.from({ length: 4 }, (_, writer) =>
        startWorker(setup.jobFor('pendingWriteRace', key, { checkpointId: checkpoint.id, writer })),
      ),
    );
    const stored = await setup
      .persistence()
      .checkpointer<unknown, { writer: number }>()
      .getById(key, checkpoint.id);
    const winners = stored?.pendingWrites.map((write) => write.value.writer) ?? [];
    expect(winners).toHaveLength(1);
    expect([0, 1, 2, 3]).toContain(winners[0]);
    // Every worker, reading after its own write, saw the one write that won.
    expect(results.map((result) => result.seen)).toEqual([winners, winners, winners, winners]);
  });

  it('4 processes appending with expectedHead never both win: one event per winning append', async () => {
    const key = ThreadKey.of(`t-${crypto.randomUUID()}`, 'conditional');
    const results = await race(
      Array.from({ length: 4 }, (_, writer) =>
        startWorker(setup.jobFor('conditionalAppends', key, { attempts: 25, writer })),
      ),
    );
    // A win moves the head it was conditioned on by exactly one, and no head wins twice:
    // a check followed by a separate bump would let two writers win from one head.
    const conditions = results.flatMap((result) => result.wonFrom as number[]);
    for (const result of results) {
      const from = result.wonFrom as number[];
      expect(result.won).toEqual(from.map((head) => head + 1));
    }
    expect(new Set(conditions).size).toBe(conditions.length);
    const won = results.flatMap((result) => result.won as number[]).sort((a, b) => a - b);
    const conflicts = results.reduce((sum, result) => sum + (result.conflicts as number), 0);
    expect(won.length + conflicts).toBe(100);
    // Each winning append took the next ordinal; a losing one wrote nothing.
    expect(won).toEqual(Array.from({ length: won.length }, (_, i) => i + 1));
    const events = await setup.persistence().sessionLog().loadSince(key, 0);
    expect(events.map((event) => event.seq)).toEqual(won);
    expect(await setup.persistence().sessionLog().head(key)).toBe(won.length);
  });

  it('4 processes x 100 appends to one thread give ordinals exactly 1..400', async () => {
    const key = ThreadKey.of(`t-${crypto.randomUUID()}`, 'shared');
    const workers = Array.from({ length: 4 }, (_, writer) =>
      startWorker(setup.jobFor('append', key, { count: 100, writer })),
    );
    const results = await Promise.all(workers.map((worker) => worker.result));
    const returned = results.flatMap((result) => result.heads as number[]).sort((a, b) => a - b);
    const expected = Array.from({ length: 400 }, (_, i) => i + 1);
    expect(returned).toEqual(expected);
    const events = await setup
      .persistence()
      .sessionLog<{ writer: number; n: number }>()
      .loadSince(key, 0);
    expect(events.map((event) => event.seq)).toEqual(expected);
    for (let writer = 0; writer < 4; writer++) {
      const mine = events.filter((event) => event.event.writer === writer);
      expect(mine.map((event) => event.event.n)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    }
    expect(await setup.persistence().sessionLog().head(key)).toBe(400);
  });

  it('4 processes incrementing a checkpointed counter under withSessionLock lose no update', async () => {
    const key = ThreadKey.of(`t-${crypto.randomUUID()}`, 'counter');
    const workers = Array.from({ length: 4 }, () =>
      startWorker(
        setup.jobFor('counter', key, { iterations: 25, ttlMs: 5_000, timeoutMs: 20_000 }),
      ),
    );
    const results = await Promise.all(workers.map((worker) => worker.result));
    const succeeded = results.reduce((sum, result) => sum + (result.succeeded as number), 0);
    const checkpointer = setup.persistence().checkpointer<{ count: number }>();
    expect((await checkpointer.getLatest(key))?.state.count).toBe(succeeded);
    // Every successful section wrote exactly one checkpoint, each on top of the last.
    const history = await checkpointer.listHistory(key, { limit: 1_000 });
    expect(history.map((checkpoint) => checkpoint.state.count)).toEqual(
      Array.from({ length: succeeded }, (_, i) => succeeded - i),
    );
    // With these timeouts nothing should fail; a failure would show up here by code.
    expect(results.map((result) => result.failures)).toEqual([{}, {}, {}, {}]);
    expect(succeeded).toBe(100);
  });

  it('a paused holder loses the lock to another process and its fenced writes are FENCED', async () => {
    const key = ThreadKey.of(`t-${crypto.randomUUID()}`, 'takeover');
    const holder = startWorker(setup.jobFor('holder', key, { ttlMs: 300 }));
    const acquired = await holder.next('acquired');
    // A real pause (GC, VM stall): no heartbeat, no timers, until SIGCONT.
    holder.child.kill('SIGSTOP');
    try {
      const taker = startWorker(
        setup.jobFor('takeover', key, { ttlMs: 10_000, timeoutMs: 10_000 }),
      );
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
    const history = await setup
      .persistence()
      .checkpointer<{ writer: string }>()
      .listHistory(key, { limit: 10 });
    expect(history.map((checkpoint) => checkpoint.state.writer)).toEqual(['B']);
    const events = await setup.persistence().sessionLog<{ writer: string }>().loadSince(key, 0);
    expect(events.map((event) => [event.seq, event.event.writer])).toEqual([[1, 'B']]);
  });
}
