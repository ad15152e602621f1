import type { Persistence } from '@entelix/core';
import type { RunnableConfig } from '@langchain/core/runnables';
import { Command } from '@langchain/langgraph';
import { type BaseCheckpointSaver, MemorySaver } from '@langchain/langgraph-checkpoint';
import { expect, it } from 'vitest';
import { type Lane, openLane, randomId } from '../../../../test-support/lanes.js';
import { createEntelixSaver, type EntelixSaver } from '../../src/index.js';
import {
  collect,
  fanOutGraph,
  interruptGraph,
  lineGraph,
  nestedGraph,
  type SnapshotView,
  view,
  withoutInterruptIds,
} from '../graphs.js';
import { instrument } from '../instrument.js';

type Durability = 'sync' | 'async' | 'exit';

export function graphRunTests(lane: Lane): void {
  const opened = openLane(lane);

  /**
   * Run the same steps with LangGraph's MemorySaver and with the Entelix saver (an
   * unbound saver, the tenant in each call's config) and expect the same observations.
   */
  async function againstMemorySaver<R>(
    steps: (saver: BaseCheckpointSaver, config: RunnableConfig, entelix: boolean) => Promise<R>,
    over: Persistence = opened.persistence,
  ): Promise<R> {
    const threadId = randomId('thread');
    const reference = await steps(
      new MemorySaver(),
      { configurable: { thread_id: threadId } },
      false,
    );
    const observed = await steps(
      createEntelixSaver(over),
      { configurable: { thread_id: threadId, tenant_id: randomId('tenant') } },
      true,
    );
    expect(observed).toEqual(reference);
    return observed;
  }

  const historyOf = async (
    graph: { getStateHistory: (c: RunnableConfig, o?: object) => AsyncIterable<any> },
    config: RunnableConfig,
    options?: object,
  ): Promise<SnapshotView[]> => (await collect(graph.getStateHistory(config, options))).map(view);

  it('a multi-step run and a second run on the thread', async () => {
    const seen = await againstMemorySaver(async (saver, config) => {
      const graph = lineGraph(saver, 4);
      const first = await graph.invoke({ log: ['in1'] }, config);
      const second = await graph.invoke({ log: ['in2'] }, config);
      return {
        first,
        second,
        state: view(await graph.getState(config)),
        history: await historyOf(graph, config),
      };
    });
    expect(seen.second.log).toEqual(['in1', 'n0', 'n1', 'n2', 'n3', 'in2', 'n0', 'n1', 'n2', 'n3']);
    expect(seen.history).toHaveLength(12);
  });

  it('nodes with names longer than an id (LangGraph names a channel after each node)', async () => {
    // 600 UTF-8 bytes: over the 256 of an id, within the 1024 of a channel or task path.
    const prefix = 'é'.repeat(300);
    const seen = await againstMemorySaver(async (saver, config) => {
      const graph = lineGraph(saver, 2, prefix);
      return {
        run: await graph.invoke({ log: ['in'] }, config),
        state: view(await graph.getState(config)),
      };
    });
    expect(seen.run.log).toEqual(['in', `${prefix}0`, `${prefix}1`]);
  });

  it('interrupt() and resume with Command', async () => {
    const seen = await againstMemorySaver(async (saver, config) => {
      const graph = interruptGraph(saver);
      const paused = await graph.invoke({ log: ['in'] }, config);
      const atInterrupt = view(await graph.getState(config));
      const resumed = await graph.invoke(new Command({ resume: 'yes' }), config);
      return {
        paused: withoutInterruptIds(paused),
        atInterrupt,
        resumed,
        history: await historyOf(graph, config),
      };
    });
    expect(seen.atInterrupt.tasks).toEqual([{ name: 'ask', interrupts: ['question?'] }]);
    expect(seen.resumed.log).toEqual(['in', 'a', 'answer:yes', 'b']);
  });

  it('getState and getStateHistory with limit, filter and before', async () => {
    const seen = await againstMemorySaver(async (saver, config) => {
      const graph = lineGraph(saver, 5);
      await graph.invoke({ log: ['in'] }, config);
      const all = await collect(graph.getStateHistory(config));
      const anchor = all[3]?.config as RunnableConfig;
      return {
        state: view(await graph.getState(config)),
        atAnchor: view(await graph.getState(anchor)),
        limited: await historyOf(graph, config, { limit: 2 }),
        loops: await historyOf(graph, config, { filter: { source: 'loop' } }),
        inputs: await historyOf(graph, config, { filter: { source: 'input' } }),
        byStep: await historyOf(graph, config, { filter: { step: 2 } }),
        before: await historyOf(graph, config, { before: anchor }),
        beforeLimited: await historyOf(graph, config, { before: anchor, limit: 1 }),
      };
    });
    expect(seen.limited).toHaveLength(2);
    expect(seen.loops).toHaveLength(6);
    expect(seen.inputs.map((s) => s.step)).toEqual([-1]);
    expect(seen.before).toHaveLength(3);
    expect(seen.beforeLimited).toHaveLength(1);
  });

  it('updateState forks an old checkpoint and the run continues from the fork', async () => {
    const seen = await againstMemorySaver(async (saver, config) => {
      const graph = lineGraph(saver, 3);
      await graph.invoke({ log: ['in'] }, config);
      const history = await collect(graph.getStateHistory(config));
      const afterN0 = history.find((s) => s.next[0] === 'n1');
      const forkConfig = await graph.updateState(
        afterN0?.config as RunnableConfig,
        { log: ['edited'] },
        'n0',
      );
      const forked = view(await graph.getState(forkConfig));
      const continued = await graph.invoke(null, forkConfig);
      return {
        forked,
        continued,
        latest: view(await graph.getState(config)),
        history: await historyOf(graph, config),
      };
    });
    expect(seen.continued.log).toEqual(['in', 'n0', 'edited', 'n1', 'n2']);
    expect(seen.forked.source).toBe('update');
  });

  it('replays from an old checkpoint', async () => {
    const seen = await againstMemorySaver(async (saver, config) => {
      const graph = lineGraph(saver, 3);
      await graph.invoke({ log: ['in'] }, config);
      const history = await collect(graph.getStateHistory(config));
      const beforeN1 = history.find((s) => s.next[0] === 'n1');
      const replayed = await graph.invoke(null, beforeN1?.config as RunnableConfig);
      return { replayed, history: await historyOf(graph, config) };
    });
    expect(seen.replayed.log).toEqual(['in', 'n0', 'n1', 'n2']);
    expect(seen.history).toHaveLength(8);
  });

  it('two-level subgraphs: interrupt inside, getState with subgraphs, time travel into the subgraph', async () => {
    const seen = await againstMemorySaver(async (saver, config, entelix) => {
      const graph = nestedGraph(saver);
      // LangGraph asks for each subgraph's state with a config of its own making, which
      // has only thread_id and checkpoint_ns: an unbound saver learns the tenant from
      // withTenant (a bound saver needs nothing).
      const inTenant = <T>(fn: () => Promise<T>) =>
        entelix
          ? (saver as EntelixSaver).withTenant(config.configurable?.tenant_id as string, fn)
          : fn();
      const paused = await graph.invoke({ log: ['in'] }, config);
      const flat = view(await graph.getState(config));
      const nested = await inTenant(() => graph.getState(config, { subgraphs: true }));
      const childState = nested.tasks[0]?.state as Awaited<ReturnType<typeof graph.getState>>;
      const grandchildState = childState.tasks[0]?.state as typeof childState;
      const grandchildHistory = await collect(graph.getStateHistory(grandchildState.config));
      // Time travel into the grandchild: rewrite its state, then resume the root.
      await graph.updateState(grandchildState.config, { log: ['rewritten'] });
      const edited = await inTenant(() => graph.getState(config, { subgraphs: true }));
      const resumed = await graph.invoke(new Command({ resume: 'deep yes' }), config);
      return {
        paused: withoutInterruptIds(paused),
        flat,
        nested: view(nested),
        grandchildHistory: grandchildHistory.map(view),
        edited: view(edited),
        resumed,
        history: await historyOf(graph, config),
      };
    });
    expect(seen.nested.tasks[0]?.state).toMatchObject({
      tasks: [
        { name: 'inner', state: { tasks: [{ name: 'gAsk', interrupts: ['deep question?'] }] } },
      ],
    });
    // Each subgraph shares the root's appending `log`, so it hands back what it received
    // plus its own entries: the prefix repeats once per level.
    expect(seen.resumed.log).toEqual([
      ...['in', 'r1'],
      ...['in', 'r1', 'c1'],
      ...['in', 'r1', 'c1', 'g1', 'rewritten', 'deep:deep yes'],
      'r2',
    ]);
  });

  it('getState with subgraphs on an unbound saver outside withTenant is a CONFIG error', async () => {
    const saver = createEntelixSaver(opened.persistence);
    const graph = nestedGraph(saver);
    const config = {
      configurable: { thread_id: randomId('thread'), tenant_id: randomId('tenant') },
    };
    await graph.invoke({ log: ['in'] }, config);
    await expect(graph.getState(config, { subgraphs: true })).rejects.toMatchObject({
      code: 'CONFIG',
    });
    const bound = createEntelixSaver(opened.persistence, {
      tenantId: config.configurable.tenant_id,
    });
    const state = await nestedGraph(bound).getState(config, { subgraphs: true });
    expect(state.tasks[0]?.state).toMatchObject({ next: ['inner'] });
  });

  it('Send fan-out writes each worker once and resuming reuses the saved writes', async () => {
    const seen = await againstMemorySaver(async (saver, config) => {
      const runs = new Map<number, number>();
      const graph = fanOutGraph(saver, 8, runs);
      await graph.invoke({ log: [] }, config);
      const paused = view(await graph.getState(config));
      const resumed = await graph.invoke(new Command({ resume: 'go' }), config);
      return { paused, resumed, runs: [...runs].sort(([a], [b]) => a - b) };
    });
    // Seven workers' writes were saved before the interrupt; only the eighth runs again.
    expect(seen.runs).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((i) => [i, i === 7 ? 2 : 1]));
    expect(seen.resumed.log).toHaveLength(9);
  });

  for (const durability of ['sync', 'async', 'exit'] as const satisfies Durability[]) {
    it(`durability ${durability}: runs, interrupts and fan-outs match MemorySaver`, async () => {
      const scenario = async (saver: BaseCheckpointSaver, config: RunnableConfig) => {
        const withMode = { ...config, durability };
        const line = lineGraph(saver, 4);
        await line.invoke({ log: ['in'] }, withMode);
        await line.invoke({ log: ['again'] }, withMode);
        const ask = interruptGraph(saver);
        const askConfig = {
          ...withMode,
          configurable: {
            ...config.configurable,
            thread_id: `${config.configurable?.thread_id}-ask`,
          },
        };
        await ask.invoke({ log: ['in'] }, askConfig);
        const resumed = await ask.invoke(new Command({ resume: 'ok' }), askConfig);
        const runs = new Map<number, number>();
        const fan = fanOutGraph(saver, 5, runs);
        const fanConfig = {
          ...withMode,
          configurable: {
            ...config.configurable,
            thread_id: `${config.configurable?.thread_id}-fan`,
          },
        };
        await fan.invoke({ log: [] }, fanConfig);
        const fanned = await fan.invoke(new Command({ resume: 'ok' }), fanConfig);
        return {
          line: await historyOf(line, config),
          resumed,
          ask: await historyOf(ask, askConfig),
          fanned,
          runs: [...runs].sort(([a], [b]) => a - b),
        };
      };
      await againstMemorySaver(scenario);
      // A backend slower than the graph: LangGraph then issues pending writes while
      // (async) or before (exit) the checkpoint they belong to is put.
      const slow = instrument(opened.persistence, {
        delayMs: (method) => (method === 'checkpointer.put' ? 15 : 0),
      });
      await againstMemorySaver(scenario, slow.persistence);
    });
  }

  it('two tenants running the same thread id never see each other', async () => {
    const saver = createEntelixSaver(opened.persistence);
    const graph = interruptGraph(saver);
    const threadId = randomId('thread');
    const acme = { configurable: { thread_id: threadId, tenant_id: randomId('acme') } };
    const globex = { configurable: { thread_id: threadId, tenant_id: randomId('globex') } };
    await graph.invoke({ log: ['acme'] }, acme);
    await graph.invoke(new Command({ resume: 'acme says yes' }), acme);
    await graph.invoke({ log: ['globex'] }, globex);

    expect((await graph.getState(acme)).values.log).toEqual([
      'acme',
      'a',
      'answer:acme says yes',
      'b',
    ]);
    expect((await graph.getState(globex)).values.log).toEqual(['globex', 'a']);
    expect((await graph.getState(globex)).next).toEqual(['ask']);
    const acmeHistory = await collect(graph.getStateHistory(acme));
    const globexHistory = await collect(graph.getStateHistory(globex));
    expect(acmeHistory).toHaveLength(5);
    expect(globexHistory).toHaveLength(3);
    // Acme's checkpoint ids address nothing in globex's thread of the same id.
    const acmeCheckpoint = acmeHistory[0]?.config.configurable?.checkpoint_id as string;
    const crossed = await saver.getTuple({
      configurable: { ...globex.configurable, checkpoint_id: acmeCheckpoint },
    });
    expect(crossed).toBeUndefined();
    const acmeThreads = await collect(
      saver.list({ configurable: { tenant_id: acme.configurable.tenant_id } }),
    );
    expect(new Set(acmeThreads.map((t) => t.config.configurable?.tenant_id))).toEqual(
      new Set([acme.configurable.tenant_id]),
    );
    expect(acmeThreads).toHaveLength(5);
  });
}
