import { Checkpoint, Namespace, type Persistence, ThreadKey } from '@entelix/core';
import { expect, it } from 'vitest';
import { randomId } from './support.js';

const MAX = Number.MAX_SAFE_INTEGER;

/**
 * Page and batch sizes past Lua's limits (a script may unpack at most about 8,000
 * values on Redis) and past JavaScript's (a spread of about 120,000 arguments overflows
 * the stack, and ioredis-mock's far fewer): every size the API accepts works in one call.
 */
export function limitTests(
  open: () => Persistence,
  sizes: { readonly checkpoints: number; readonly events: number; readonly writes: number },
  timeoutMs = 30_000,
): void {
  it(
    `lists a history of ${sizes.checkpoints} checkpoints with any limit`,
    async () => {
      const key = ThreadKey.of(randomId('tenant'), randomId('thread'));
      const checkpointer = open().checkpointer<number>();
      // The first put loads the script; the rest are pipelined on one connection, in order.
      const parityOf = (step: number) => ({ parity: step % 2 === 0 ? 'even' : 'odd' });
      await checkpointer.put(Checkpoint.create({ key, step: 0, state: 0, metadata: parityOf(0) }));
      const puts: Promise<void>[] = [];
      for (let step = 1; step < sizes.checkpoints; step++) {
        puts.push(
          checkpointer.put(Checkpoint.create({ key, step, state: step, metadata: parityOf(step) })),
        );
      }
      await Promise.all(puts);
      const newestFirst = Array.from(
        { length: sizes.checkpoints },
        (_, i) => sizes.checkpoints - 1 - i,
      );

      const all = await checkpointer.listHistory(key, { limit: MAX });
      expect(all.map((checkpoint) => checkpoint.step)).toEqual(newestFirst);
      const limit = Math.min(8_000, sizes.checkpoints - 1);
      expect((await checkpointer.listHistory(key, { limit })).map((c) => c.step)).toEqual(
        newestFirst.slice(0, limit),
      );
      const before = all[10]!;
      expect(
        (await checkpointer.listHistory(key, { limit: MAX, before: before.id })).map((c) => c.step),
      ).toEqual(newestFirst.slice(11));
      expect((await checkpointer.listHistory(key, { limit: 3, before: before.id })).length).toBe(3);
      const even = await checkpointer.listHistory(key, {
        limit: MAX,
        ns: '',
        filter: { parity: 'even' },
      });
      expect(even.map((checkpoint) => checkpoint.step)).toEqual(
        newestFirst.filter((step) => step % 2 === 0),
      );

      // Batches of pending writes far past what one command may take, alone and with a put.
      const writes = Array.from({ length: sizes.writes }, (_, idx) => ({
        idx,
        channel: 'c',
        value: idx,
      }));
      const latest = all[0]!;
      await checkpointer.putWrites(key, { checkpointId: latest.id, taskId: 'task' }, writes);
      const withWrites = await checkpointer.getLatest(key);
      expect(withWrites?.pendingWrites.map((write) => write.value)).toEqual(
        writes.map((write) => write.value),
      );
      const next = Checkpoint.create({
        key,
        step: sizes.checkpoints,
        state: 0,
        parentId: latest.id,
      });
      await checkpointer.put(next, { parentWrites: [{ taskId: 'other', writes }] });
      expect((await checkpointer.getById(key, latest.id))?.pendingWrites).toHaveLength(
        2 * sizes.writes,
      );

      expect(await checkpointer.prune(key, { keepLatest: 5 })).toBe(sizes.checkpoints + 1 - 5);
      expect(await checkpointer.deleteThread(key)).toBe(5);
    },
    timeoutMs,
  );

  it(
    `appends ${sizes.events} events in one batch and loads them with any limit`,
    async () => {
      const key = ThreadKey.of(randomId('tenant'), randomId('thread'));
      const log = open().sessionLog<number>();
      const events = Array.from({ length: sizes.events }, (_, i) => i);
      expect(await log.append(key, events)).toBe(sizes.events);
      expect(await log.append(key, [sizes.events])).toBe(sizes.events + 1);
      const loaded = await log.loadSince(key, 0);
      expect(loaded.length).toBe(sizes.events + 1);
      expect((await log.loadLatest(key, { limit: MAX })).length).toBe(sizes.events + 1);
      expect(loaded.every((event, i) => event.seq === i + 1 && event.event === i)).toBe(true);
      const tail = await log.loadSince(key, sizes.events - 2, { limit: MAX });
      expect(tail.map((event) => event.seq)).toEqual([
        sizes.events - 1,
        sizes.events,
        sizes.events + 1,
      ]);
      expect(await log.loadSince(key, MAX)).toEqual([]);
      expect(await log.archiveBefore(key, MAX)).toBe(sizes.events + 1);
      expect(await log.head(key)).toBe(sizes.events + 1);
      expect(await log.append(key, [0])).toBe(sizes.events + 2);
      await log.deleteThread(key);
    },
    timeoutMs,
  );

  it('takes Number.MAX_SAFE_INTEGER as the limit of every store listing', async () => {
    const tenant = randomId('tenant');
    const namespace = Namespace.of(tenant, 'notes');
    const store = open().store<number>();
    for (let i = 0; i < 20; i++) {
      await store.put(Namespace.of(tenant, 'notes', `sub-${i}`), 'k', i);
      await store.put(namespace, `key-${String(i).padStart(2, '0')}`, i);
    }
    const keys = await store.list(namespace, { limit: MAX });
    expect(keys).toEqual(Array.from({ length: 20 }, (_, i) => `key-${String(i).padStart(2, '0')}`));
    expect(await store.list(namespace, { limit: MAX, prefix: 'key-1', after: 'key-15' })).toEqual([
      'key-16',
      'key-17',
      'key-18',
      'key-19',
    ]);
    expect((await store.listNamespaces(tenant, { limit: MAX })).length).toBe(21);
    const top = await store.listNamespaces(tenant, { limit: MAX, maxDepth: 1 });
    expect(top.map((ns) => ns.scope)).toEqual([['notes']]);
    const found = await store.search(tenant, { limit: MAX, filter: { missing: { $ne: 1 } } });
    expect(found.length).toBe(40);
    expect(await store.getMany(found.map(({ namespace, key }) => ({ namespace, key })))).toEqual(
      found,
    );
  });
}
