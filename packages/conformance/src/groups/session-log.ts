import { ThreadKey } from '@entelix/core';
import { expect } from 'vitest';
import { byCodePoint, defineGroup, expectCode, freshId, freshKey } from '../fixtures.js';

/** `SessionLog<E>`: gap-free ordinals that are never reused, cursors, archiving. */
export const sessionLogTests = defineGroup('session-log', ({ test }) => [
  test(
    'append-load',
    'a batch gets consecutive ordinals and loads back in order',
    async ({ a, b }) => {
      const key = freshKey();
      const log = a.sessionLog<{ type: string }>();
      expect(await log.head(key)).toBe(0);
      expect(await log.append(key, [{ type: 'a' }, { type: 'b' }, { type: 'c' }])).toBe(3);
      expect(await b.sessionLog().append(key, [{ type: 'd' }])).toBe(4);
      expect(await log.head(key)).toBe(4);
      const events = await log.loadSince(key, 0);
      expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
      expect(events.map((e) => e.event.type)).toEqual(['a', 'b', 'c', 'd']);
      for (const event of events) expect(event.ts).toBeInstanceOf(Date);
    },
  ),

  test(
    'cursor-limit',
    'loadSince returns seq > cursor, ascending, at most limit',
    async ({ a }) => {
      const key = freshKey();
      const log = a.sessionLog<number>();
      await log.append(key, [1, 2, 3, 4, 5, 6]);
      expect((await log.loadSince(key, 2)).map((e) => e.seq)).toEqual([3, 4, 5, 6]);
      expect((await log.loadSince(key, 2, { limit: 2 })).map((e) => e.event)).toEqual([3, 4]);
      expect(await log.loadSince(key, 6)).toEqual([]);
      expect(await log.loadSince(key, 100)).toEqual([]);
    },
  ),

  test('empty-append', 'appending no events writes nothing and returns the head', async ({ a }) => {
    const key = freshKey();
    const log = a.sessionLog();
    expect(await log.append(key, [])).toBe(0);
    await log.append(key, ['x']);
    expect(await log.append(key, [])).toBe(1);
    expect(await log.loadSince(key, 0)).toHaveLength(1);
  }),

  test(
    'archive-all-continues',
    'after archiving everything, appends continue the ordinals',
    async ({ a }) => {
      const key = freshKey();
      const log = a.sessionLog<string>();
      await log.append(key, ['a', 'b', 'c']);
      expect(await log.archiveBefore(key, 4)).toBe(3);
      expect(await log.loadSince(key, 0)).toEqual([]);
      expect(await log.head(key)).toBe(3);
      expect(await log.append(key, ['d'])).toBe(4);
      expect((await log.loadSince(key, 0)).map((e) => [e.seq, e.event])).toEqual([[4, 'd']]);
    },
  ),

  test('archive-clamped', 'a watermark past the head is clamped to head + 1', async ({ a }) => {
    const key = freshKey();
    const log = a.sessionLog<string>();
    await log.append(key, ['a', 'b']);
    expect(await log.archiveBefore(key, 1_000)).toBe(2);
    expect(await log.append(key, ['c'])).toBe(3);
    expect((await log.loadSince(key, 0)).map((e) => e.seq)).toEqual([3]);
  }),

  test('archive-idempotent', 'archiveBefore is idempotent and monotonic', async ({ a }) => {
    const key = freshKey();
    const log = a.sessionLog<number>();
    await log.append(key, [1, 2, 3, 4, 5]);
    expect(await log.archiveBefore(key, 3)).toBe(2);
    expect(await log.archiveBefore(key, 3)).toBe(0);
    expect(await log.archiveBefore(key, 2)).toBe(0);
    expect(await log.archiveBefore(key, 0)).toBe(0);
    expect((await log.loadSince(key, 0)).map((e) => e.seq)).toEqual([3, 4, 5]);
    expect(await log.archiveBefore(key, 5)).toBe(2);
    expect((await log.loadSince(key, 0)).map((e) => e.seq)).toEqual([5]);
  }),

  test(
    'delete-thread',
    'deleteThread deletes one thread, moves its head one past, and counts',
    async ({ a, b }) => {
      const key = freshKey();
      const sibling = ThreadKey.of(key.tenantId, freshId('thread'));
      const otherTenant = ThreadKey.of(freshId('tenant'), key.threadId);
      const log = a.sessionLog<number>();
      await log.append(key, [1, 2, 3]);
      await log.append(sibling, [1]);
      await log.append(otherTenant, [1, 2]);
      expect(await log.deleteThread(key)).toBe(3);
      expect(await log.loadSince(key, 0)).toEqual([]);
      // A writer that read head 3 before the deletion must not write as if nothing happened.
      expect(await log.head(key)).toBe(4);
      await expectCode(b.sessionLog().append(key, [9], { expectedHead: 3 }), 'CONFLICT');
      expect(await log.loadSince(key, 0)).toEqual([]);
      expect(await log.append(key, [5], { expectedHead: 4 })).toBe(5);
      expect(await log.head(sibling)).toBe(1);
      expect(await log.head(otherTenant)).toBe(2);
      expect(await log.loadSince(otherTenant, 0)).toHaveLength(2);
      // A thread that never held an event gets no head from a deletion.
      const untouched = ThreadKey.of(key.tenantId, freshId('thread'));
      expect(await log.deleteThread(untouched)).toBe(0);
      expect(await log.head(untouched)).toBe(0);
      expect(await log.listThreads(key.tenantId, { limit: 10 })).toEqual(
        byCodePoint([key.threadId, sibling.threadId]),
      );
    },
  ),

  test('bad-arguments', 'bad cursors, watermarks, limits and batches are CONFIG', async ({ a }) => {
    const key = freshKey();
    const log = a.sessionLog();
    for (const cursor of [-1, 1.5, Number.NaN, '0', undefined]) {
      await expectCode(log.loadSince(key, cursor as never), 'CONFIG');
    }
    for (const watermark of [-1, 2.5, '3', undefined]) {
      await expectCode(log.archiveBefore(key, watermark as never), 'CONFIG');
    }
    for (const limit of [0, -2, 1.5]) await expectCode(log.loadSince(key, 0, { limit }), 'CONFIG');
    for (const events of [undefined, 'abc', { 0: 'a', length: 1 }]) {
      await expectCode(log.append(key, events as never), 'CONFIG');
    }
    expect(await log.head(key)).toBe(0);
  }),

  test(
    'expected-head',
    'append with expectedHead writes only when the head equals it, else CONFLICT and nothing',
    async ({ a, b }) => {
      const key = freshKey();
      const log = a.sessionLog<string>();
      expect(await log.append(key, ['a'], { expectedHead: 0 })).toBe(1);
      await expectCode(b.sessionLog().append(key, ['x', 'y'], { expectedHead: 0 }), 'CONFLICT');
      await expectCode(log.append(key, ['x'], { expectedHead: 2 }), 'CONFLICT');
      expect(await log.head(key)).toBe(1);
      expect((await log.loadSince(key, 0)).map((e) => e.event)).toEqual(['a']);
      expect(await log.append(key, ['b', 'c'], { expectedHead: 1 })).toBe(3);
      expect(await log.append(key, [], { expectedHead: 3 })).toBe(3);
      await expectCode(log.append(key, [], { expectedHead: 2 }), 'CONFLICT');
      for (const expectedHead of [-1, 1.5, '3']) {
        await expectCode(log.append(key, ['z'], { expectedHead: expectedHead as never }), 'CONFIG');
      }
      expect(await log.head(key)).toBe(3);
    },
  ),

  test('load-latest', 'loadLatest returns the newest events in ascending order', async ({ a }) => {
    const key = freshKey();
    const log = a.sessionLog<number>();
    expect(await log.loadLatest(key, { limit: 3 })).toEqual([]);
    await log.append(key, [1, 2, 3, 4, 5]);
    expect((await log.loadLatest(key, { limit: 3 })).map((e) => [e.seq, e.event])).toEqual([
      [3, 3],
      [4, 4],
      [5, 5],
    ]);
    expect((await log.loadLatest(key, { limit: 50 })).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    await log.archiveBefore(key, 5);
    expect((await log.loadLatest(key, { limit: 3 })).map((e) => e.seq)).toEqual([5]);
    for (const limit of [0, -1, 2.5, undefined]) {
      await expectCode(log.loadLatest(key, { limit: limit as never }), 'CONFIG');
    }
  }),

  test(
    'truncate-after',
    'truncateAfter removes the tail but the head stays: removed ordinals are never handed out again',
    async ({ a, b }) => {
      const key = freshKey();
      const log = a.sessionLog<string>();
      await log.append(key, ['a', 'b', 'c', 'd']);
      expect(await log.truncateAfter(key, 2)).toBe(2);
      expect((await log.loadSince(key, 0)).map((e) => e.event)).toEqual(['a', 'b']);
      expect(await log.head(key)).toBe(4);
      expect(await b.sessionLog().append(key, ['e'])).toBe(5);
      expect((await log.loadLatest(key, { limit: 2 })).map((e) => [e.seq, e.event])).toEqual([
        [2, 'b'],
        [5, 'e'],
      ]);
      expect(await log.truncateAfter(key, 9)).toBe(0);
      expect(await log.truncateAfter(key, 0)).toBe(3);
      expect(await log.head(key)).toBe(5);
      expect(await log.append(key, ['f'], { expectedHead: 5 })).toBe(6);
      await expectCode(log.truncateAfter(key, -1), 'CONFIG');
    },
  ),

  test(
    'replace-tail',
    'append with truncateAfter replaces the tail atomically: removed ordinals are not handed out again',
    async ({ a, b }) => {
      const key = freshKey();
      const log = a.sessionLog<string>();
      await log.append(key, ['user', 'answer']);
      expect(await log.append(key, ['better answer'], { truncateAfter: 1, expectedHead: 2 })).toBe(
        3,
      );
      expect((await log.loadSince(key, 0)).map((e) => [e.seq, e.event])).toEqual([
        [1, 'user'],
        [3, 'better answer'],
      ]);
      await expectCode(
        b.sessionLog().append(key, ['lost race'], { truncateAfter: 1, expectedHead: 2 }),
        'CONFLICT',
      );
      expect((await log.loadLatest(key, { limit: 5 })).map((e) => e.event)).toEqual([
        'user',
        'better answer',
      ]);
      // An empty batch with truncateAfter is a conditional truncation.
      expect(await log.append(key, [], { truncateAfter: 1, expectedHead: 3 })).toBe(3);
      expect((await log.loadSince(key, 0)).map((e) => e.seq)).toEqual([1]);
      expect(await log.append(key, ['next'])).toBe(4);
      await expectCode(log.append(key, ['x'], { truncateAfter: -1 }), 'CONFIG');
      // On a thread that never held an event it changes nothing and lists nothing.
      const empty = freshKey();
      expect(await log.append(empty, [], { truncateAfter: 0 })).toBe(0);
      expect(await log.listThreads(empty.tenantId, { limit: 5 })).toEqual([]);
    },
  ),

  test(
    'truncate-expected-head',
    'truncateAfter with expectedHead deletes only while the head is the one expected',
    async ({ a, b }) => {
      const key = freshKey();
      const log = a.sessionLog<number>();
      await log.append(key, [1, 2, 3]);
      await expectCode(log.truncateAfter(key, 2, { expectedHead: 2 }), 'CONFLICT');
      expect(await log.loadLatest(key, { limit: 5 })).toHaveLength(3);
      // Two removers of the newest event: one removes it, the other removes nothing.
      const counts = await Promise.all([
        log.truncateAfter(key, 2, { expectedHead: 3 }),
        b.sessionLog().truncateAfter(key, 2, { expectedHead: 3 }),
      ]);
      expect(counts.sort()).toEqual([0, 1]);
      expect((await log.loadSince(key, 0)).map((e) => e.seq)).toEqual([1, 2]);
      expect(await log.head(key)).toBe(3);
    },
  ),

  test(
    'list-threads',
    'listThreads pages the threads that ever held an event, in code-point order',
    async ({ a, b }) => {
      const tenant = freshId('tenant');
      const threads = ['b', 'a', 'é', '🦀', '\uffff', 'a:b'];
      for (const thread of threads) await a.sessionLog().append(ThreadKey.of(tenant, thread), [1]);
      const sorted = byCodePoint(threads);
      expect(await b.sessionLog().listThreads(tenant, { limit: 10 })).toEqual(sorted);
      expect(
        await b.sessionLog().listThreads(tenant, { limit: 2, after: sorted[1] as string }),
      ).toEqual(sorted.slice(2, 4));
      await a.sessionLog().deleteThread(ThreadKey.of(tenant, 'a'));
      expect(await b.sessionLog().listThreads(tenant, { limit: 10 })).toEqual(sorted);
      expect(await b.sessionLog().listThreads(freshId('tenant'), { limit: 10 })).toEqual([]);
    },
  ),
]);
