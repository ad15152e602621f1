import { Namespace, ThreadKey } from '@entelix/core';
import { expect } from 'vitest';
import { defineGroup, freshId, freshKey, makeCheckpoint } from '../fixtures.js';

/**
 * Races between bundles: ordinals, lock grants, immutable puts, first-wins pending
 * writes and conditional appends stay exact; reads issued together (which a backend may
 * answer together) each get their own answer.
 */
export const concurrencyTests = defineGroup('concurrency', ({ test }) => [
  test(
    'parallel-appends',
    '50 parallel appends on one thread give 1..50 with no gaps',
    async ({ a, b }) => {
      const key = freshKey();
      const heads = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          (i % 2 === 0 ? a : b).sessionLog<number>().append(key, [i]),
        ),
      );
      expect([...heads].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      const events = await a.sessionLog<number>().loadSince(key, 0);
      expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      expect(events.map((e) => e.event).sort((x, y) => x - y)).toEqual(
        Array.from({ length: 50 }, (_, i) => i),
      );
    },
    { timeoutMs: 30_000 },
  ),

  test(
    'parallel-batches',
    'parallel batches each get consecutive ordinals',
    async ({ a, b }) => {
      const key = freshKey();
      const batches = Array.from({ length: 10 }, (_, batch) =>
        Array.from({ length: 5 }, (_, i) => `${batch}:${i}`),
      );
      await Promise.all(
        batches.map((events, i) => (i % 2 === 0 ? a : b).sessionLog<string>().append(key, events)),
      );
      const events = await a.sessionLog<string>().loadSince(key, 0);
      expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      for (let start = 0; start < 50; start += 5) {
        const slice = events.slice(start, start + 5).map((e) => e.event);
        const batch = slice[0]?.split(':')[0];
        expect(slice).toEqual(Array.from({ length: 5 }, (_, i) => `${batch}:${i}`));
      }
    },
    { timeoutMs: 30_000 },
  ),

  test(
    'parallel-try-acquire',
    '20 parallel tryAcquire calls grant exactly one lease',
    async ({ a, b }) => {
      const key = freshKey();
      const leases = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          (i % 2 === 0 ? a : b).lock.tryAcquire(key, { ttlMs: 10_000 }),
        ),
      );
      const granted = leases.filter((lease) => lease !== undefined);
      expect(granted).toHaveLength(1);
      await granted[0]?.release();
    },
    { timeoutMs: 30_000 },
  ),

  test(
    'parallel-puts',
    '20 parallel puts of one checkpoint give one success and 19 CONFLICT',
    async ({ a, b }) => {
      const key = freshKey();
      const cp = makeCheckpoint(key, { n: 1 });
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).checkpointer().put(cp)),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(rejected).toHaveLength(19);
      for (const r of rejected) expect(r.reason).toMatchObject({ code: 'CONFLICT' });
      expect(await a.checkpointer().listHistory(key, { limit: 50 })).toHaveLength(1);
    },
    { timeoutMs: 30_000 },
  ),

  test(
    'parallel-acquire',
    'parallel acquire calls take turns, each with a higher fence',
    async ({ a, b }) => {
      const key = freshKey();
      let holders = 0;
      let maxHolders = 0;
      const fences: bigint[] = [];
      await Promise.all(
        Array.from({ length: 6 }, async (_, i) => {
          const lease = await (i % 2 === 0 ? a : b).lock.acquire(key, {
            ttlMs: 10_000,
            timeoutMs: 20_000,
          });
          holders++;
          maxHolders = Math.max(maxHolders, holders);
          fences.push(lease.fence);
          await new Promise((resolve) => setTimeout(resolve, 10));
          holders--;
          await lease.release();
        }),
      );
      expect(maxHolders).toBe(1);
      for (let i = 1; i < fences.length; i++)
        expect(fences[i]).toBeGreaterThan(fences[i - 1] as bigint);
    },
    { timeoutMs: 30_000 },
  ),
  test(
    'parallel-parent-writes',
    "parallel puts of a parent's children, each with parentWrites of one (task, idx), keep exactly one write and every child",
    async ({ a, b }) => {
      const key = freshKey();
      const parent = makeCheckpoint(key, 0);
      await a.checkpointer().put(parent);
      const children = Array.from({ length: 12 }, (_, i) =>
        makeCheckpoint(key, i + 1, { parentId: parent.id }),
      );
      await Promise.all(
        children.map((child, i) =>
          (i % 2 === 0 ? a : b).checkpointer().put(child, {
            parentWrites: [
              { taskId: 'task', writes: [{ idx: 0, channel: 'c', value: `writer-${i}` }] },
            ],
          }),
        ),
      );
      for (const p of [a, b]) {
        const read = await p.checkpointer<number, string>().getById(key, parent.id);
        expect(read?.pendingWrites.map((w) => w.value)).toHaveLength(1);
        expect(children.map((_, i) => `writer-${i}`)).toContain(read?.pendingWrites[0]?.value);
        const history = await p.checkpointer().listHistory(key, { limit: 20 });
        expect(history.map((cp) => cp.id).sort()).toEqual(
          [parent, ...children].map((cp) => cp.id).sort(),
        );
      }
    },
    { timeoutMs: 30_000 },
  ),
  test(
    'parallel-put-writes',
    'parallel putWrites of one (checkpoint, task, idx) from both bundles keep exactly one, the same for every reader',
    async ({ a, b }) => {
      const key = freshKey();
      const cp = makeCheckpoint(key, 1);
      await a.checkpointer().put(cp);
      const target = { checkpointId: cp.id, taskId: 'task' };
      const values = Array.from({ length: 20 }, (_, i) => `writer-${i}`);
      await Promise.all(
        values.map((value, i) =>
          (i % 2 === 0 ? a : b)
            .checkpointer()
            .putWrites(key, target, [{ idx: 0, channel: 'c', value }]),
        ),
      );
      const observed: unknown[] = [];
      for (const p of [a, b]) {
        const checkpointer = p.checkpointer<number, string>();
        for (const read of [
          await checkpointer.getLatest(key),
          await checkpointer.getById(key, cp.id),
          (await checkpointer.listHistory(key, { limit: 1 }))[0],
        ]) {
          expect(read?.pendingWrites).toHaveLength(1);
          observed.push(read?.pendingWrites[0]?.value);
        }
      }
      expect(values).toContain(observed[0]);
      expect(new Set(observed).size).toBe(1);
      await b.checkpointer().putWrites(key, target, [{ idx: 0, channel: 'c', value: 'late' }]);
      expect((await a.checkpointer().getLatest(key))?.pendingWrites.map((w) => w.value)).toEqual([
        observed[0],
      ]);
    },
    { timeoutMs: 30_000 },
  ),

  test(
    'parallel-reads',
    'checkpoint reads, store gets and event reads issued together are each answered for their own tenant, thread, namespace, id and key',
    async ({ a }) => {
      const tenantId = freshId('tenant');
      const threads = Array.from({ length: 12 }, (_, i) => ThreadKey.of(tenantId, `thread-${i}`));
      const roots = threads.map((key, i) => makeCheckpoint(key, `root-${i}`));
      const checkpointer = a.checkpointer<string>();
      for (const [i, key] of threads.entries()) {
        await checkpointer.put(roots[i] as (typeof roots)[number]);
        await checkpointer.put(makeCheckpoint(key, `latest-${i}`, { parentId: roots[i]?.id }));
      }
      const [first, second] = threads as [ThreadKey, ThreadKey];
      await checkpointer.put(makeCheckpoint(first, 'child', { ns: 'child' }));
      // The same thread id in another tenant, written last.
      const foreign = ThreadKey.of(freshId('tenant'), first.threadId);
      await checkpointer.put(makeCheckpoint(foreign, 'foreign'));
      const reads = await Promise.all([
        ...threads.map((key) => checkpointer.getLatest(key)),
        ...threads.map((key, i) => checkpointer.getById(key, roots[i]?.id as string)),
        checkpointer.getLatest(first, { ns: 'child' }),
        checkpointer.getLatest(foreign),
        checkpointer.getLatest(ThreadKey.of(tenantId, 'thread-missing')),
        checkpointer.getById(second, roots[0]?.id as string),
        checkpointer.getById(first, roots[0]?.id as string, { ns: 'child' }),
      ]);
      expect(reads.map((read) => read?.state)).toEqual([
        ...threads.map((_, i) => `latest-${i}`),
        ...threads.map((_, i) => `root-${i}`),
        'child',
        'foreign',
        undefined,
        undefined,
        undefined,
      ]);
      expect(reads.slice(0, 24).map((read) => read?.key.threadId)).toEqual(
        [...threads, ...threads].map((key) => key.threadId),
      );

      // Store gets: namespace (notes, i) holds item k = i, the other tenant's (notes, 0) 'foreign'.
      const store = a.store<string>();
      const spaces = threads.map((_, i) => Namespace.of(tenantId, 'notes', `${i}`));
      for (const [i, namespace] of spaces.entries()) await store.put(namespace, 'k', `item-${i}`);
      const foreignSpace = Namespace.of(foreign.tenantId, 'notes', '0');
      await store.put(foreignSpace, 'k', 'foreign');
      const items = await Promise.all([
        ...spaces.map((namespace) => store.get(namespace, 'k')),
        store.get(foreignSpace, 'k'),
        store.get(spaces[1] as Namespace, 'missing'),
        store.get(Namespace.of(tenantId, 'notes', 'missing'), 'k'),
        store.get(spaces[0] as Namespace, 'k'),
      ]);
      expect(items.map((item) => item?.value)).toEqual([
        ...spaces.map((_, i) => `item-${i}`),
        'foreign',
        undefined,
        undefined,
        'item-0',
      ]);
      expect(items.slice(0, 12).map((item) => item?.namespace.scope)).toEqual(
        spaces.map((namespace) => namespace.scope),
      );

      // Event reads: thread i's log holds i + 1 events, the other tenant's thread 0 one.
      const log = a.sessionLog<string>();
      for (const [i, key] of threads.entries()) {
        await log.append(
          key,
          Array.from({ length: i + 1 }, (_, n) => `${i}:${n + 1}`),
        );
      }
      await log.append(foreign, ['foreign']);
      const [latest, since] = await Promise.all([
        Promise.all([
          ...threads.map((key) => log.loadLatest(key, { limit: 2 })),
          log.loadLatest(foreign, { limit: 2 }),
          log.loadLatest(ThreadKey.of(tenantId, 'thread-missing'), { limit: 2 }),
        ]),
        Promise.all(threads.map((key, i) => log.loadSince(key, i, { limit: 3 }))),
      ]);
      const texts = (events: readonly { event: string }[]) => events.map((e) => e.event);
      expect(latest.map(texts)).toEqual([
        ...threads.map((_, i) => (i === 0 ? ['0:1'] : [`${i}:${i}`, `${i}:${i + 1}`])),
        ['foreign'],
        [],
      ]);
      expect(since.map(texts)).toEqual(threads.map((_, i) => [`${i}:${i + 1}`]));
    },
    { timeoutMs: 30_000 },
  ),

  test(
    'parallel-expected-head',
    'parallel appends with the same expectedHead from both bundles: one wins, the others are CONFLICT, the head moves by one batch',
    async ({ a, b }) => {
      const key = freshKey();
      expect(await a.sessionLog().append(key, ['base'])).toBe(1);
      const batches = Array.from({ length: 10 }, (_, batch) =>
        Array.from({ length: 3 }, (_, i) => `${batch}:${i}`),
      );
      const results = await Promise.allSettled(
        batches.map((events, i) =>
          (i % 2 === 0 ? a : b).sessionLog<string>().append(key, events, { expectedHead: 1 }),
        ),
      );
      const won = results.filter(
        (r): r is PromiseFulfilledResult<number> => r.status === 'fulfilled',
      );
      expect(won.map((r) => r.value)).toEqual([4]);
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(lost).toHaveLength(9);
      for (const r of lost) expect(r.reason).toMatchObject({ code: 'CONFLICT' });
      expect(await b.sessionLog().head(key)).toBe(4);
      const events = await a.sessionLog<string>().loadSince(key, 0);
      expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
      const winner = batches[results.findIndex((r) => r.status === 'fulfilled')];
      expect(events.map((e) => e.event)).toEqual(['base', ...(winner ?? [])]);
    },
    { timeoutMs: 30_000 },
  ),
]);
