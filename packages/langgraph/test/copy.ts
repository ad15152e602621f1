import type { Persistence } from '@entelix/core';
import type { RunnableConfig } from '@langchain/core/runnables';
import { Command } from '@langchain/langgraph';
import type { BaseCheckpointSaver, CheckpointTuple } from '@langchain/langgraph-checkpoint';
import { expect } from 'vitest';
import { randomId } from '../../../test-support/lanes.js';
import { copyThreads, createEntelixSaver } from '../src/index.js';
import { collect, fanOutGraph, interruptGraph, lineGraph, nestedGraph, view } from './graphs.js';

/** Threads of every shape the copy must carry, run on `source`; returns their ids. */
export async function runThreadsOn(source: BaseCheckpointSaver): Promise<string[]> {
  const thread = (name: string) => ({ configurable: { thread_id: randomId(name) } });
  const line = thread('line');
  await lineGraph(source, 3).invoke({ log: ['in'] }, line);
  await lineGraph(source, 3).invoke({ log: ['again'] }, line);
  const paused = thread('paused');
  await interruptGraph(source).invoke({ log: ['in'] }, paused);
  const fan = thread('fan');
  await fanOutGraph(source, 6, new Map()).invoke({ log: [] }, fan);
  const nested = thread('nested');
  await nestedGraph(source).invoke({ log: ['in'] }, nested);
  const forked = thread('forked');
  const graph = lineGraph(source, 3);
  await graph.invoke({ log: ['in'] }, forked);
  const history = await collect(graph.getStateHistory(forked));
  const old = history.find((s) => s.next[0] === 'n1');
  await graph.updateState(old?.config as RunnableConfig, { log: ['edited'] }, 'n0');
  return [line, paused, fan, nested, forked].map((c) => c.configurable.thread_id);
}

/** A tuple without what only says where it lives: the configs' tenant. */
function portable(tuple: CheckpointTuple | undefined) {
  if (tuple === undefined) return undefined;
  const strip = (config: RunnableConfig | undefined) => {
    if (config === undefined) return undefined;
    const { tenant_id: _tenant, ...configurable } = config.configurable ?? {};
    return { configurable };
  };
  return { ...tuple, config: strip(tuple.config), parentConfig: strip(tuple.parentConfig) };
}

/**
 * Copy the threads from `source` into Entelix, then check every checkpoint reads back
 * the same, the graphs see the same state, a second copy skips everything, and the
 * threads go on running the same on both savers.
 */
export async function expectFaithfulCopy(
  source: BaseCheckpointSaver,
  persistence: Persistence,
  threadIds: string[],
  discoverThreads = false,
): Promise<void> {
  const tenantId = randomId('tenant');
  const target = createEntelixSaver(persistence);
  const copied = await copyThreads(source, target, {
    tenantId,
    threadIds: discoverThreads ? undefined : threadIds,
  });
  expect(copied.threads).toBe(threadIds.length);
  expect(copied.skipped).toBe(0);

  let checkpoints = 0;
  for (const threadId of threadIds) {
    const sourceTuples = await collect(source.list({ configurable: { thread_id: threadId } }));
    checkpoints += sourceTuples.length;
    for (const tuple of sourceTuples) {
      const copy = await target.getTuple({
        configurable: { ...tuple.config.configurable, tenant_id: tenantId },
      });
      expect(portable(copy)).toEqual(portable(tuple));
    }
    for (const ns of new Set(sourceTuples.map((t) => t.config.configurable?.checkpoint_ns))) {
      const latest = await source.getTuple({
        configurable: { thread_id: threadId, checkpoint_ns: ns },
      });
      const copiedLatest = await target.getTuple({
        configurable: { thread_id: threadId, checkpoint_ns: ns, tenant_id: tenantId },
      });
      expect(copiedLatest?.checkpoint.id).toBe(latest?.checkpoint.id);
    }
  }
  expect(copied.checkpoints).toBe(checkpoints);

  const again = await copyThreads(source, target, { tenantId, threadIds });
  expect(again).toMatchObject({ checkpoints: 0, skipped: checkpoints });

  // The same graphs over each saver see the same state, and resume the same way.
  const [line, paused, fan, nested] = threadIds;
  const pair = (threadId: string) => ({
    source: { configurable: { thread_id: threadId } },
    target: { configurable: { thread_id: threadId, tenant_id: tenantId } },
  });
  for (const [threadId, build] of [
    [line, (s: BaseCheckpointSaver) => lineGraph(s, 3)],
    [paused, interruptGraph],
    [fan, (s: BaseCheckpointSaver) => fanOutGraph(s, 6, new Map())],
    [nested, nestedGraph],
  ] as const) {
    const configs = pair(threadId as string);
    const before = view(await build(source).getState(configs.source));
    expect(view(await build(target).getState(configs.target))).toEqual(before);
    if (before.next.length === 0) continue;
    const resumedSource = await build(source).invoke(
      new Command({ resume: 'after the move' }),
      configs.source,
    );
    const resumedTarget = await build(target).invoke(
      new Command({ resume: 'after the move' }),
      configs.target,
    );
    expect(resumedTarget).toEqual(resumedSource);
  }
}
