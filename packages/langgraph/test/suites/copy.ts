import { ERROR, MemorySaver, uuid6 } from '@langchain/langgraph-checkpoint';
import { expect, it } from 'vitest';
import { type Lane, openLane, randomId } from '../../../../test-support/lanes.js';
import { copyThreads, createEntelixSaver, TENANT_ID_KEY } from '../../src/index.js';
import { expectFaithfulCopy, runThreadsOn } from '../copy.js';

export function copyFromMemorySaverTests(lane: Lane): void {
  const opened = openLane(lane);

  it('copies named threads faithfully', async () => {
    const source = new MemorySaver();
    await expectFaithfulCopy(source, opened.persistence, await runThreadsOn(source));
  });

  it('finds the threads itself when none are named', async () => {
    const source = new MemorySaver();
    await expectFaithfulCopy(source, opened.persistence, await runThreadsOn(source), true);
  });

  it('reports progress per thread and refuses a copy without a tenant', async () => {
    const source = new MemorySaver();
    const threadIds = await runThreadsOn(source);
    const seen: string[] = [];
    await copyThreads(source, createEntelixSaver(opened.persistence), {
      tenantId: randomId('tenant'),
      threadIds: threadIds.slice(0, 2),
      onThread: (copied) => seen.push(copied.threadId),
    });
    expect(seen).toEqual(threadIds.slice(0, 2));
    await expect(
      copyThreads(source, createEntelixSaver(opened.persistence), {} as never),
    ).rejects.toMatchObject({ code: 'CONFIG' });
    await expect(
      copyThreads(source, createEntelixSaver(opened.persistence, { tenantId: 'a' }), {
        tenantId: 'b',
        threadIds,
      }),
    ).rejects.toMatchObject({ code: 'CONFIG' });
  });

  it("keeps a task's write indexes when its special-channel writes are listed first", async () => {
    const source = new MemorySaver();
    const threadId = randomId('thread');
    const root = { configurable: { thread_id: threadId, checkpoint_ns: '' } };
    const saved = await source.put(
      root,
      {
        v: 4,
        id: uuid6(-1),
        ts: new Date().toISOString(),
        channel_values: {},
        channel_versions: {},
        versions_seen: {},
      },
      { source: 'loop', step: 0, parents: {} },
    );
    // An ERROR write (idx -1) after the task's regular writes (idx 0 and 1).
    await source.putWrites(
      saved,
      [
        ['a', 'first-a'],
        ['b', 'first-b'],
      ],
      'task',
    );
    await source.putWrites(saved, [[ERROR, { message: 'boom' }]], 'task');
    const tenantId = randomId('tenant');
    const target = createEntelixSaver(opened.persistence, { tenantId });
    await copyThreads(source, target, { tenantId, threadIds: [threadId] });

    // A repeat of idx 0 changes nothing in either saver: first write wins per index.
    const copied = { configurable: { ...saved.configurable, [TENANT_ID_KEY]: tenantId } };
    await source.putWrites(saved, [['a', 'second-a']], 'task');
    await target.putWrites(copied, [['a', 'second-a']], 'task');
    const pendingOf = async (saver: MemorySaver | typeof target, config: typeof saved) =>
      ((await saver.getTuple(config))?.pendingWrites ?? [])
        .map(([, channel, value]) => JSON.stringify([channel, value]))
        .sort();
    expect(await pendingOf(target, copied)).toEqual(await pendingOf(source, saved));
    expect(await pendingOf(target, copied)).toHaveLength(3);
  });
}
