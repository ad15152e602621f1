import { CheckpointId, type ErrorCode, ThreadKey } from '@entelix/core';
import { expect } from 'vitest';
import { defineGroup, expectCode, freshId, freshKey, makeCheckpoint } from '../fixtures.js';

type State = { messages: string[]; n: number };

/** `Checkpointer<S>`: immutability, write-order latest, history paging, forks, deletes. */
export const checkpointerTests = defineGroup('checkpointer', ({ test }) => [
  test('put-get', 'put then getLatest and getById return every field', async ({ a, b }) => {
    const key = freshKey();
    const cp = makeCheckpoint<State>(
      key,
      { messages: ['hi'], n: 1 },
      { step: 3, nextNode: 'agent' },
    );
    await a.checkpointer<State>().put(cp);
    for (const reader of [a.checkpointer<State>(), b.checkpointer<State>()]) {
      for (const read of [await reader.getLatest(key), await reader.getById(key, cp.id)]) {
        expect(read).toBeDefined();
        expect(read?.id).toBe(cp.id);
        expect(read?.key).toEqual({ tenantId: key.tenantId, threadId: key.threadId });
        expect(read?.parentId).toBeNull();
        expect(read?.step).toBe(3);
        expect(read?.state).toEqual({ messages: ['hi'], n: 1 });
        expect(read?.nextNode).toBe('agent');
        expect(read?.createdAt).toBeInstanceOf(Date);
        expect(read?.createdAt.getTime()).toBe(cp.createdAt.getTime());
      }
    }
  }),

  test(
    'empty-thread',
    'an unknown thread has no latest, no history and deletes nothing',
    async ({ a }) => {
      const key = freshKey();
      const checkpointer = a.checkpointer();
      expect(await checkpointer.getLatest(key)).toBeUndefined();
      expect(await checkpointer.getById(key, CheckpointId.create())).toBeUndefined();
      expect(await checkpointer.listHistory(key, { limit: 10 })).toEqual([]);
      expect(await checkpointer.deleteThread(key)).toBe(0);
    },
  ),

  test(
    'put-conflict',
    'a checkpoint is immutable: a second put of its id is CONFLICT',
    async ({ a, b }) => {
      const key = freshKey();
      const cp = makeCheckpoint(key, { v: 'first' });
      await a.checkpointer().put(cp);
      await expectCode(a.checkpointer().put({ ...cp, state: { v: 'second' } }), 'CONFLICT');
      await expectCode(b.checkpointer().put(cp), 'CONFLICT');
      expect((await a.checkpointer().getById(key, cp.id))?.state).toEqual({ v: 'first' });
      expect(await a.checkpointer().listHistory(key, { limit: 10 })).toHaveLength(1);
    },
  ),

  test('latest-write-order', 'latest is the last written, not the highest step', async ({ a }) => {
    const key = freshKey();
    const checkpointer = a.checkpointer<string>();
    const high = makeCheckpoint(key, 'high', { step: 9 });
    const low = makeCheckpoint(key, 'low', { step: 1 });
    await checkpointer.put(high);
    await checkpointer.put(low);
    expect((await checkpointer.getLatest(key))?.id).toBe(low.id);
  }),

  test('latest-not-id-order', 'latest does not follow id order either', async ({ a }) => {
    const key = freshKey();
    const checkpointer = a.checkpointer<string>();
    const newerId = makeCheckpoint(key, 'newer id');
    const olderId = {
      ...newerId,
      id: CheckpointId.parse('00000000-0000-7000-8000-000000000001'),
      state: 'older id',
    };
    await checkpointer.put(newerId);
    await checkpointer.put(olderId);
    expect((await checkpointer.getLatest(key))?.state).toBe('older id');
    expect((await checkpointer.listHistory(key, { limit: 5 })).map((c) => c.state)).toEqual([
      'older id',
      'newer id',
    ]);
  }),

  test('history-paging', 'listHistory is newest first and pages with before', async ({ a }) => {
    const key = freshKey();
    const checkpointer = a.checkpointer<number>();
    const written = [];
    for (let i = 0; i < 7; i++) {
      const cp = makeCheckpoint(key, i, { step: i });
      await checkpointer.put(cp);
      written.push(cp.id);
    }
    const newestFirst = [...written].reverse();
    const pages: string[][] = [];
    let before: CheckpointId | undefined;
    for (;;) {
      const page = await checkpointer.listHistory(key, { limit: 3, ...(before ? { before } : {}) });
      if (page.length === 0) break;
      pages.push(page.map((c) => c.id));
      before = page[page.length - 1]?.id;
    }
    expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
    expect(pages.flat()).toEqual(newestFirst);
    const all = await checkpointer.listHistory(key, { limit: 100 });
    expect(all.map((c) => c.state)).toEqual([6, 5, 4, 3, 2, 1, 0]);
  }),

  test('history-limit', 'limit must be a positive integer (CONFIG)', async ({ a }) => {
    const key = freshKey();
    const checkpointer = a.checkpointer();
    await checkpointer.put(makeCheckpoint(key, 1));
    for (const limit of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '2', undefined]) {
      await expectCode(checkpointer.listHistory(key, { limit } as never), 'CONFIG');
    }
    await expectCode(checkpointer.listHistory(key, undefined as never), 'CONFIG');
    await expectCode(checkpointer.listHistory(key, { limit: 1, before: 'nope' }), 'INVALID_ID');
  }),

  test(
    'update-state-fork',
    'updateState forks from an older checkpoint and becomes latest',
    async ({ a }) => {
      const key = freshKey();
      const checkpointer = a.checkpointer<string>();
      const first = makeCheckpoint(key, 'one', { step: 4, nextNode: 'tools' });
      const second = makeCheckpoint(key, 'two', { step: 5, nextNode: 'agent', parentId: first.id });
      await checkpointer.put(first);
      await checkpointer.put(second);
      const forkId = await checkpointer.updateState(key, first.id, 'edited');
      expect(() => CheckpointId.parse(forkId)).not.toThrow();
      expect([first.id, second.id]).not.toContain(forkId);
      const latest = await checkpointer.getLatest(key);
      expect(latest).toMatchObject({
        id: forkId,
        parentId: first.id,
        step: 5,
        state: 'edited',
        nextNode: 'tools',
      });
      expect((await checkpointer.listHistory(key, { limit: 10 })).map((c) => c.id)).toEqual([
        forkId,
        second.id,
        first.id,
      ]);
    },
  ),

  test(
    'update-state-not-found',
    'updateState with a missing parent is NOT_FOUND and writes nothing',
    async ({ a }) => {
      const key = freshKey();
      const checkpointer = a.checkpointer<string>();
      const only = makeCheckpoint(key, 'only');
      await checkpointer.put(only);
      await expectCode(checkpointer.updateState(key, CheckpointId.create(), 'x'), 'NOT_FOUND');
      await expectCode(checkpointer.updateState(key, 'not-a-uuid', 'x'), 'INVALID_ID');
      const otherThread = ThreadKey.of(key.tenantId, freshId('thread'));
      await expectCode(checkpointer.updateState(otherThread, only.id, 'x'), 'NOT_FOUND');
      expect((await checkpointer.listHistory(key, { limit: 10 })).map((c) => c.id)).toEqual([
        only.id,
      ]);
      expect(await checkpointer.getLatest(otherThread)).toBeUndefined();
    },
  ),

  test(
    'delete-thread',
    'deleteThread deletes one thread only and returns the count',
    async ({ a }) => {
      const key = freshKey();
      const sibling = ThreadKey.of(key.tenantId, freshId('thread'));
      const otherTenant = ThreadKey.of(freshId('tenant'), key.threadId);
      const checkpointer = a.checkpointer<number>();
      for (const k of [key, key, key, sibling, otherTenant])
        await checkpointer.put(makeCheckpoint(k, 1));
      expect(await checkpointer.deleteThread(key)).toBe(3);
      expect(await checkpointer.getLatest(key)).toBeUndefined();
      expect(await checkpointer.listHistory(key, { limit: 5 })).toEqual([]);
      expect(await checkpointer.listHistory(sibling, { limit: 5 })).toHaveLength(1);
      expect(await checkpointer.listHistory(otherTenant, { limit: 5 })).toHaveLength(1);
      expect(await checkpointer.deleteThread(key)).toBe(0);
    },
  ),

  test(
    'put-validation',
    'put re-validates the checkpoint and writes nothing when it is bad',
    async ({ a }) => {
      const key = freshKey();
      const checkpointer = a.checkpointer();
      const good = makeCheckpoint(key, 1);
      const bad: [Record<string, unknown>, ErrorCode][] = [
        [{ ...good, id: 'nope' }, 'INVALID_ID'],
        [{ ...good, step: -1 }, 'CONFIG'],
        [{ ...good, step: 0.5 }, 'CONFIG'],
        [{ ...good, createdAt: 'today' }, 'CONFIG'],
        [{ ...good, nextNode: '' }, 'INVALID_ID'],
        [{ ...good, parentId: 'nope' }, 'INVALID_ID'],
        [{ ...good, key: { tenantId: key.tenantId } }, 'INVALID_ID'],
        [{ ...good, ns: 'a\u0000' }, 'INVALID_ID'],
        [{ ...good, ns: 'x'.repeat(1025) }, 'INVALID_ID'],
        [{ ...good, ns: '\udc00' }, 'INVALID_ID'],
        [{ ...good, metadata: ['not', 'an', 'object'] }, 'CONFIG'],
        [{ ...good, metadata: { when: new Date() } }, 'CONFIG'],
        [{ ...good, metadata: { n: Number.NaN } }, 'CONFIG'],
      ];
      for (const [checkpoint, code] of bad)
        await expectCode(checkpointer.put(checkpoint as never), code);
      await expectCode(checkpointer.put(null as never), 'CONFIG');
      expect(await checkpointer.getLatest(key)).toBeUndefined();
    },
  ),
]);
