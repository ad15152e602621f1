import { ThreadKey } from '@entelix/core';
import { createMemoryDatabase, createMemoryPersistence } from '@entelix/memory';
import { Command, END, START, StateGraph } from '@langchain/langgraph';
import { describe, expect, it } from 'vitest';
import { randomId } from '../../../test-support/lanes.js';
import {
  createEntelixSaver,
  createEntelixStore,
  fencedConfig,
  LEASE_KEY,
  withThreadLock,
} from '../src/index.js';
import { collect, interruptGraph, LogState, lineGraph } from './graphs.js';

/** A memory bundle whose storage clock the test moves, so leases expire on demand. */
function withClock() {
  let nowMs = Date.now();
  const persistence = createMemoryPersistence({
    database: createMemoryDatabase(),
    clock: () => nowMs,
  });
  return {
    persistence,
    advance(ms: number) {
      nowMs += ms;
    },
  };
}

function threadConfig() {
  return { configurable: { tenant_id: randomId('tenant'), thread_id: randomId('thread') } };
}

describe('fencing a run with a lease', () => {
  it("a stale lease's run is FENCED and writes nothing; the current holder's run goes through", async () => {
    const { persistence, advance } = withClock();
    const saver = createEntelixSaver(persistence);
    const graph = lineGraph(saver, 3);
    const config = threadConfig();
    const key = ThreadKey.of(config.configurable.tenant_id, config.configurable.thread_id);
    const stale = await persistence.lock.tryAcquire(key, { ttlMs: 60_000 });
    advance(120_000);
    const current = await persistence.lock.tryAcquire(key, { ttlMs: 60_000 });
    expect(current?.fence).toBeGreaterThan(stale?.fence as bigint);

    await expect(
      graph.invoke({ log: ['stale'] }, fencedConfig(config, stale as NonNullable<typeof stale>)),
    ).rejects.toMatchObject({ code: 'FENCED' });
    expect(await collect(saver.list(config))).toEqual([]);

    const done = await graph.invoke(
      { log: ['current'] },
      fencedConfig(config, current as NonNullable<typeof current>),
    );
    expect(done.log).toEqual(['current', 'n0', 'n1', 'n2']);
    await current?.release();
  });

  /** first, then a node that purges the run's tenant, then last. */
  function purgedMidRun() {
    const persistence = createMemoryPersistence();
    const saver = createEntelixSaver(persistence);
    const config = threadConfig();
    const graph = new StateGraph(LogState)
      .addNode('first', () => ({ log: ['first'] }))
      .addNode('purging', async () => {
        await persistence.purgeTenant(config.configurable.tenant_id);
        return { log: ['read before the purge'] };
      })
      .addNode('last', () => ({ log: ['last'] }))
      .addEdge(START, 'first')
      .addEdge('first', 'purging')
      .addEdge('purging', 'last')
      .addEdge('last', END)
      .compile({ checkpointer: saver });
    const logsLeft = async () =>
      (await collect(saver.list(config))).map(
        (tuple) => (tuple.checkpoint.channel_values as { log?: string[] }).log,
      );
    return { persistence, graph, config, logsLeft };
  }

  it('a run whose lease a tenant purge ends mid-run is FENCED at its next write and leaves nothing', async () => {
    const { persistence, graph, config, logsLeft } = purgedMidRun();
    await expect(
      withThreadLock(persistence.lock, config, (locked) => graph.invoke({ log: [] }, locked), {
        ttlMs: 30_000,
      }),
    ).rejects.toMatchObject({ code: 'FENCED' });
    expect(await logsLeft()).toEqual([]);
  });

  it('an unfenced run writes the state it held after a purge of its tenant, as the guide warns', async () => {
    const atExit = purgedMidRun();
    await atExit.graph.invoke({ log: [] }, { ...atExit.config, durability: 'exit' });
    expect(await atExit.logsLeft()).toEqual([['first', 'read before the purge', 'last']]);

    const inSync = purgedMidRun();
    await expect(
      inSync.graph.invoke({ log: [] }, { ...inSync.config, durability: 'sync' }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await inSync.logsLeft()).toEqual([['first', 'read before the purge']]);
  });

  it('a lease superseded during an interrupt fences the resume', async () => {
    const { persistence, advance } = withClock();
    const saver = createEntelixSaver(persistence);
    const graph = interruptGraph(saver);
    const config = threadConfig();
    const key = ThreadKey.of(config.configurable.tenant_id, config.configurable.thread_id);
    const first = await persistence.lock.tryAcquire(key, { ttlMs: 60_000 });
    await graph.invoke({ log: ['in'] }, fencedConfig(config, first as NonNullable<typeof first>));
    advance(120_000);
    const second = await persistence.lock.tryAcquire(key, { ttlMs: 60_000 });
    await expect(
      graph.invoke(
        new Command({ resume: 'late' }),
        fencedConfig(config, first as NonNullable<typeof first>),
      ),
    ).rejects.toMatchObject({ code: 'FENCED' });
    expect((await graph.getState(config)).next).toEqual(['ask']);
    const resumed = await graph.invoke(
      new Command({ resume: 'on time' }),
      fencedConfig(config, second as NonNullable<typeof second>),
    );
    expect(resumed.log).toEqual(['in', 'a', 'answer:on time', 'b']);
  });

  it('withThreadLock runs one invocation under the thread lease and serializes runs on a thread', async () => {
    const persistence = createMemoryPersistence();
    const saver = createEntelixSaver(persistence);
    const graph = lineGraph(saver, 2);
    const config = threadConfig();
    const order: string[] = [];
    const run = (label: string) =>
      withThreadLock(persistence.lock, config, async (locked) => {
        order.push(`start ${label}`);
        expect(typeof (locked.configurable as Record<string, unknown>)[LEASE_KEY]).toBe('object');
        const out = await graph.invoke({ log: [label] }, locked);
        order.push(`end ${label}`);
        return out;
      });
    const [a, b] = await Promise.all([run('a'), run('b')]);
    expect(order).toEqual(['start a', 'end a', 'start b', 'end b']);
    expect(a.log).toEqual(['a', 'n0', 'n1']);
    expect(b.log).toEqual(['a', 'n0', 'n1', 'b', 'n0', 'n1']);
    // Released after each run: the lock is free again.
    const key = ThreadKey.of(config.configurable.tenant_id, config.configurable.thread_id);
    const lease = await persistence.lock.tryAcquire(key, { ttlMs: 1_000 });
    expect(lease).toBeDefined();
    await lease?.release();
  });

  it("a store fenced by a run's lease writes nothing once the lease is superseded", async () => {
    const { persistence, advance } = withClock();
    const config = threadConfig();
    const { tenant_id: tenantId, thread_id: threadId } = config.configurable;
    const key = ThreadKey.of(tenantId, threadId);
    const stale = await persistence.lock.tryAcquire(key, { ttlMs: 60_000 });
    const staleStore = createEntelixStore(persistence, {
      tenantId,
      fence: stale as NonNullable<typeof stale>,
    });
    await staleStore.put(['memories'], 'm', { v: 'before' });
    advance(120_000);
    const current = await persistence.lock.tryAcquire(key, { ttlMs: 60_000 });
    await expect(staleStore.put(['memories'], 'm', { v: 'stale' })).rejects.toMatchObject({
      code: 'FENCED',
    });
    await expect(staleStore.delete(['memories'], 'm')).rejects.toMatchObject({ code: 'FENCED' });
    const currentStore = createEntelixStore(persistence, {
      tenantId,
      fence: current as NonNullable<typeof current>,
    });
    expect((await currentStore.get(['memories'], 'm'))?.value).toEqual({ v: 'before' });
    await currentStore.put(['memories'], 'm', { v: 'current' });
    expect((await staleStore.get(['memories'], 'm'))?.value).toEqual({ v: 'current' });
    expect(() =>
      createEntelixStore(persistence, {
        tenantId: randomId('other'),
        fence: current as NonNullable<typeof current>,
      }),
    ).toThrow(expect.objectContaining({ code: 'CONFIG' }));
  });

  it('withThreadLock hands the run its lease, to fence the run store with', async () => {
    const persistence = createMemoryPersistence();
    const config = threadConfig();
    const fence = await withThreadLock(persistence.lock, config, async (locked, lease) => {
      const store = createEntelixStore(persistence, {
        tenantId: config.configurable.tenant_id,
        fence: lease,
      });
      await store.put(['ns'], 'k', { v: 1 });
      expect(lease.key).toEqual(
        ThreadKey.of(config.configurable.tenant_id, config.configurable.thread_id),
      );
      return (locked.configurable as unknown as Record<string, { fence: bigint }>)[LEASE_KEY]
        ?.fence;
    });
    expect(typeof fence).toBe('bigint');
  });

  it('a fenced config survives JSON serialization, as tracing and debug streams do', async () => {
    const persistence = createMemoryPersistence();
    const config = threadConfig();
    await withThreadLock(persistence.lock, config, async (locked) => {
      const json = JSON.parse(JSON.stringify(locked.configurable));
      expect(json[LEASE_KEY]).toEqual({ fence: expect.any(String) });
    });
  });

  it('withThreadLock needs a thread and a tenant, and a bound tenant must agree', async () => {
    const persistence = createMemoryPersistence();
    const run = async () => 'ran';
    await expect(
      withThreadLock(persistence.lock, { configurable: { tenant_id: 'acme' } }, run),
    ).rejects.toMatchObject({ code: 'CONFIG' });
    await expect(
      withThreadLock(persistence.lock, { configurable: { thread_id: 't' } }, run),
    ).rejects.toMatchObject({ code: 'CONFIG' });
    await expect(
      withThreadLock(persistence.lock, { configurable: { thread_id: 't', tenant_id: 'a' } }, run, {
        tenantId: 'b',
      }),
    ).rejects.toMatchObject({ code: 'CONFIG' });
    expect(
      await withThreadLock(persistence.lock, { configurable: { thread_id: 't' } }, run, {
        tenantId: 'acme',
      }),
    ).toBe('ran');
  });
});
