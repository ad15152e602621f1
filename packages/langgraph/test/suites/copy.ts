import { MemorySaver } from '@langchain/langgraph-checkpoint';
import { expect, it } from 'vitest';
import { type Lane, openLane, randomId } from '../../../../test-support/lanes.js';
import { copyThreads, createEntelixSaver } from '../../src/index.js';
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
}
