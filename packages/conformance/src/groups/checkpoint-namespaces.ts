import { CheckpointId, ThreadKey } from '@entelix/core';
import { expect } from 'vitest';
import {
  byCodePoint,
  defineGroup,
  expectCode,
  freshId,
  freshKey,
  makeCheckpoint,
} from '../fixtures.js';

/**
 * What agent runtimes need of checkpoints: namespaces within a thread, metadata and
 * filters applied before the limit, external ids and timestamps, retention, and the
 * tenant's thread list.
 */
export const checkpointNamespaceTests = defineGroup('checkpoint-namespaces', ({ test }) => [
  test(
    'external-fields',
    'Checkpoint.create keeps a runtime id, createdAt, ns and metadata, and reads return them',
    async ({ a, b }) => {
      const key = freshKey();
      const id = '1ef4f797-8335-6428-8001-8a1503f9b875';
      const createdAt = new Date('2024-04-19T17:19:07.952Z');
      const cp = a.checkpointer<{ n: number }>().create({
        key,
        step: 2,
        state: { n: 1 },
        id,
        createdAt,
        ns: 'child:1',
        metadata: { source: 'loop', step: 1, parents: { '': 'x' }, tags: ['a'] },
      });
      await a.checkpointer().put(cp);
      for (const read of [
        await b.checkpointer().getById(key, id, { ns: 'child:1' }),
        await b.checkpointer().getLatest(key, { ns: 'child:1' }),
      ]) {
        expect(read?.id).toBe(id);
        expect(read?.ns).toBe('child:1');
        expect(read?.createdAt.getTime()).toBe(createdAt.getTime());
        expect(read?.metadata).toEqual({
          source: 'loop',
          step: 1,
          parents: { '': 'x' },
          tags: ['a'],
        });
        expect(read?.pendingWrites).toEqual([]);
      }
      expect(await a.checkpointer().getLatest(key)).toBeUndefined();
      expect(await a.checkpointer().getById(key, id)).toBeUndefined();
    },
  ),

  test(
    'same-id-two-namespaces',
    'one id may exist once per namespace; a second put in the same namespace is CONFLICT',
    async ({ a }) => {
      const key = freshKey();
      const checkpointer = a.checkpointer<string>();
      const root = makeCheckpoint(key, 'root');
      await checkpointer.put(root);
      await checkpointer.put({ ...root, ns: 'child', state: 'child' });
      await expectCode(checkpointer.put({ ...root, state: 'again' }), 'CONFLICT');
      expect((await checkpointer.getById(key, root.id))?.state).toBe('root');
      expect((await checkpointer.getById(key, root.id, { ns: 'child' }))?.state).toBe('child');
    },
  ),

  test(
    'write-order-across-namespaces',
    'history without ns is every namespace newest first; latest is per namespace',
    async ({ a }) => {
      const key = freshKey();
      const checkpointer = a.checkpointer<string>();
      const order: [string, string][] = [
        ['', 'r1'],
        ['child', 'c1'],
        ['', 'r2'],
        ['child|grandchild', 'g1'],
        ['child', 'c2'],
      ];
      for (const [ns, state] of order) await checkpointer.put(makeCheckpoint(key, state, { ns }));
      const all = await checkpointer.listHistory(key, { limit: 10 });
      expect(all.map((cp) => cp.state)).toEqual(['c2', 'g1', 'r2', 'c1', 'r1']);
      expect(all.map((cp) => cp.ns)).toEqual(['child', 'child|grandchild', '', 'child', '']);
      const child = await checkpointer.listHistory(key, { limit: 10, ns: 'child' });
      expect(child.map((cp) => cp.state)).toEqual(['c2', 'c1']);
      expect((await checkpointer.getLatest(key))?.state).toBe('r2');
      expect((await checkpointer.getLatest(key, { ns: 'child' }))?.state).toBe('c2');
      expect(await checkpointer.getLatest(key, { ns: 'nothing' })).toBeUndefined();
    },
  ),

  test(
    'before-any-namespace',
    'before may name a checkpoint of another namespace; one not on the thread is NOT_FOUND',
    async ({ a }) => {
      const key = freshKey();
      const checkpointer = a.checkpointer<string>();
      const r1 = makeCheckpoint(key, 'r1');
      const c1 = makeCheckpoint(key, 'c1', { ns: 'child' });
      const r2 = makeCheckpoint(key, 'r2');
      const c2 = makeCheckpoint(key, 'c2', { ns: 'child' });
      for (const cp of [r1, c1, r2, c2]) await checkpointer.put(cp);
      const beforeRoot = await checkpointer.listHistory(key, {
        limit: 10,
        ns: 'child',
        before: r2.id,
      });
      expect(beforeRoot.map((cp) => cp.state)).toEqual(['c1']);
      const beforeChild = await checkpointer.listHistory(key, { limit: 10, before: c1.id });
      expect(beforeChild.map((cp) => cp.state)).toEqual(['r1']);
      await expectCode(
        checkpointer.listHistory(key, { limit: 10, before: CheckpointId.create() }),
        'NOT_FOUND',
      );
      const otherThread = ThreadKey.of(key.tenantId, freshId('thread'));
      await checkpointer.put(makeCheckpoint(otherThread, 'x'));
      await expectCode(
        checkpointer.listHistory(otherThread, { limit: 10, before: r1.id }),
        'NOT_FOUND',
      );
    },
  ),

  test(
    'before-shared-id',
    'before names the first written of the checkpoints sharing its id, also once that one is pruned',
    async ({ a }) => {
      const key = freshKey();
      const checkpointer = a.checkpointer<string>();
      const shared = CheckpointId.create();
      const r0 = makeCheckpoint(key, 'r0');
      const inChild = makeCheckpoint(key, 'child-shared', { ns: 'child', id: shared });
      const r1 = makeCheckpoint(key, 'r1');
      const inRoot = makeCheckpoint(key, 'root-shared', { id: shared });
      const c2 = makeCheckpoint(key, 'c2', { ns: 'child' });
      for (const cp of [r0, inChild, r1, inRoot, c2]) await checkpointer.put(cp);
      const page = await checkpointer.listHistory(key, { limit: 10, before: shared });
      expect(page.map((cp) => cp.state)).toEqual(['r0']);
      await checkpointer.prune(key, { keepLatest: 1, ns: 'child' });
      const afterPrune = await checkpointer.listHistory(key, { limit: 10, before: shared });
      expect(afterPrune.map((cp) => cp.state)).toEqual(['r1', 'r0']);
      await checkpointer.prune(key, { keepLatest: 1, ns: '' });
      expect(await checkpointer.listHistory(key, { limit: 10, before: shared })).toEqual([]);
    },
  ),

  test(
    'filter-before-limit',
    'a metadata filter is applied before the limit, by JSON equality of top-level keys',
    async ({ a }) => {
      const key = freshKey();
      const checkpointer = a.checkpointer<number>();
      for (let i = 0; i < 12; i++) {
        const source = i % 4 === 0 ? 'input' : 'loop';
        await checkpointer.put(
          makeCheckpoint(key, i, { metadata: { source, step: i, parents: { '': String(i) } } }),
        );
      }
      const inputs = await checkpointer.listHistory(key, { limit: 2, filter: { source: 'input' } });
      expect(inputs.map((cp) => cp.state)).toEqual([8, 4]);
      const all = await checkpointer.listHistory(key, { limit: 100, filter: { source: 'input' } });
      expect(all.map((cp) => cp.state)).toEqual([8, 4, 0]);
      expect(
        (await checkpointer.listHistory(key, { limit: 5, filter: { parents: { '': '5' } } })).map(
          (cp) => cp.state,
        ),
      ).toEqual([5]);
      expect(
        await checkpointer.listHistory(key, { limit: 5, filter: { source: 'input', step: 5 } }),
      ).toEqual([]);
      expect(await checkpointer.listHistory(key, { limit: 5, filter: { missing: null } })).toEqual(
        [],
      );
      expect(await checkpointer.listHistory(key, { limit: 3, filter: {} })).toHaveLength(3);
      expect(
        (await checkpointer.listHistory(key, { limit: 5, filter: { step: 4.0 } })).map(
          (cp) => cp.state,
        ),
      ).toEqual([4]);
    },
  ),

  test(
    'filter-nested-equality',
    'nested filter values match by JSON equality, in any key order, not by containment',
    async ({ a }) => {
      const key = freshKey();
      const checkpointer = a.checkpointer<string>();
      await checkpointer.put(
        makeCheckpoint(key, 'ab', { metadata: { tags: ['a', 'b'], o: { x: 1, y: 2 } } }),
      );
      await checkpointer.put(makeCheckpoint(key, 'a', { metadata: { tags: ['a'], o: { x: 1 } } }));
      const states = async (filter: Record<string, never> | object) =>
        (await checkpointer.listHistory(key, { limit: 10, filter: filter as never })).map(
          (cp) => cp.state,
        );
      expect(await states({ tags: ['a'] })).toEqual(['a']);
      expect(await states({ tags: ['b', 'a'] })).toEqual([]);
      expect(await states({ o: { y: 2, x: 1 } })).toEqual(['ab']);
      expect(await states({ o: { x: 1 } })).toEqual(['a']);
    },
  ),

  test(
    'update-state-namespace',
    'updateState forks within the parent namespace with the given metadata',
    async ({ a }) => {
      const key = freshKey();
      const checkpointer = a.checkpointer<string>();
      const child = makeCheckpoint(key, 'child', { ns: 'child', step: 4, nextNode: 'tool' });
      await checkpointer.put(child);
      await expectCode(checkpointer.updateState(key, child.id, 'x'), 'NOT_FOUND');
      const forkId = await checkpointer.updateState(key, child.id, 'fork', {
        ns: 'child',
        metadata: { source: 'update' },
      });
      const fork = await checkpointer.getLatest(key, { ns: 'child' });
      expect(fork?.id).toBe(forkId);
      expect(fork?.ns).toBe('child');
      expect(fork?.parentId).toBe(child.id);
      expect(fork?.step).toBe(5);
      expect(fork?.nextNode).toBe('tool');
      expect(fork?.metadata).toEqual({ source: 'update' });
      expect(await checkpointer.getLatest(key)).toBeUndefined();
    },
  ),

  test(
    'delete-thread-all-namespaces',
    'deleteThread removes every namespace and every pending write of the thread',
    async ({ a, b }) => {
      const key = freshKey();
      const checkpointer = a.checkpointer<string>();
      const root = makeCheckpoint(key, 'r');
      const child = makeCheckpoint(key, 'c', { ns: 'child' });
      await checkpointer.put(root);
      await checkpointer.put(child);
      await checkpointer.putWrites(key, { checkpointId: child.id, ns: 'child', taskId: 't' }, [
        { idx: 0, channel: 'c', value: 1 },
      ]);
      expect(await b.checkpointer().deleteThread(key)).toBe(2);
      expect(await checkpointer.listHistory(key, { limit: 10 })).toEqual([]);
      // A new checkpoint with the old id starts with no writes.
      await checkpointer.put(child);
      expect((await checkpointer.getById(key, child.id, { ns: 'child' }))?.pendingWrites).toEqual(
        [],
      );
    },
  ),

  test(
    'prune',
    'prune keeps the newest per namespace (or of one namespace) and deletes the rest with their writes',
    async ({ a }) => {
      const key = freshKey();
      const checkpointer = a.checkpointer<string>();
      const written: { ns: string; id: string; state: string }[] = [];
      for (let i = 0; i < 4; i++) {
        for (const ns of ['', 'child']) {
          const cp = makeCheckpoint(key, `${ns || 'root'}${i}`, { ns });
          await checkpointer.put(cp);
          await checkpointer.putWrites(key, { checkpointId: cp.id, ns, taskId: 'task' }, [
            { idx: 0, channel: 'c', value: i },
          ]);
          written.push({ ns, id: cp.id, state: cp.state });
        }
      }
      expect(await checkpointer.prune(key, { keepLatest: 3, ns: 'child' })).toBe(1);
      expect(
        (await checkpointer.listHistory(key, { limit: 10, ns: 'child' })).map((cp) => cp.state),
      ).toEqual(['child3', 'child2', 'child1']);
      expect(await checkpointer.prune(key, { keepLatest: 2 })).toBe(3);
      const left = await checkpointer.listHistory(key, { limit: 10 });
      expect(left.map((cp) => cp.state)).toEqual(['child3', 'root3', 'child2', 'root2']);
      for (const cp of left) expect(cp.pendingWrites).toHaveLength(1);
      // A pruned checkpoint's writes went with it: putting its id again shows none.
      const gone = written[0] as { ns: string; id: string; state: string };
      await checkpointer.put(makeCheckpoint(key, 'again', { id: gone.id }));
      expect((await checkpointer.getById(key, gone.id))?.pendingWrites).toEqual([]);
      expect(await checkpointer.prune(key, { keepLatest: 10 })).toBe(0);
      expect(await checkpointer.prune(freshKey(), { keepLatest: 0 })).toBe(0);
    },
  ),

  test(
    'prune-everything',
    'prune with keepLatest 0 empties the thread, which then is not listed',
    async ({ a }) => {
      const tenant = freshId('tenant');
      const key = ThreadKey.of(tenant, 'thread');
      const checkpointer = a.checkpointer();
      await checkpointer.put(makeCheckpoint(key, 1));
      await checkpointer.put(makeCheckpoint(key, 2, { ns: 'child' }));
      expect(await checkpointer.prune(key, { keepLatest: 0 })).toBe(2);
      expect(await checkpointer.listHistory(key, { limit: 10 })).toEqual([]);
      expect(await checkpointer.listThreads(tenant, { limit: 10 })).toEqual([]);
    },
  ),

  test(
    'list-threads',
    'listThreads pages the tenant threads holding a checkpoint in code-point order',
    async ({ a, b }) => {
      const tenant = freshId('tenant');
      const threads = ['b', 'a', 'é', '🦀', 'Z', 'a:b', '\uffff', 'aa'];
      for (const thread of threads) {
        await a.checkpointer().put(makeCheckpoint(ThreadKey.of(tenant, thread), 1, { ns: 'x' }));
      }
      const sorted = byCodePoint(threads);
      expect(await b.checkpointer().listThreads(tenant, { limit: 100 })).toEqual(sorted);
      const first = await b.checkpointer().listThreads(tenant, { limit: 3 });
      expect(first).toEqual(sorted.slice(0, 3));
      const second = await b.checkpointer().listThreads(tenant, {
        limit: 3,
        after: first[first.length - 1] as string,
      });
      expect(second).toEqual(sorted.slice(3, 6));
      await a.checkpointer().deleteThread(ThreadKey.of(tenant, 'a'));
      expect(await b.checkpointer().listThreads(tenant, { limit: 100 })).toEqual(
        sorted.filter((thread) => thread !== 'a'),
      );
      expect(await b.checkpointer().listThreads(freshId('tenant'), { limit: 10 })).toEqual([]);
    },
  ),
]);
