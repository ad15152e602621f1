import {
  CheckpointId,
  Namespace,
  type Persistence,
  type StoreItem,
  ThreadKey,
} from '@entelix/core';
import { expect } from 'vitest';
import {
  byCodePoint,
  defineGroup,
  expectCode,
  freshId,
  makeCheckpoint,
  tenantView,
} from '../fixtures.js';

/**
 * Pairs of keys that naive encodings confuse: a tenant that prefixes another, and
 * `tenant:thread` joins that collide.
 */
function adversarialPairs(): [ThreadKey, ThreadKey][] {
  const run = freshId('run');
  return [
    [ThreadKey.of(`acme-${run}`, 'thread'), ThreadKey.of(`acme-${run}-corp`, 'thread')],
    [ThreadKey.of(`a:b-${run}`, 'c'), ThreadKey.of(`a-${run}`, 'b:c')],
    [ThreadKey.of(`${run}:x`, 'y'), ThreadKey.of(run, 'x:y')],
    [ThreadKey.of(`${run}\\`, ':t'), ThreadKey.of(`${run}\\:`, 't')],
    [ThreadKey.of(`${run}*`, 'thread'), ThreadKey.of(`${run}?`, 'thread')],
    [ThreadKey.of(`${run}%`, 'thread'), ThreadKey.of(`${run}_`, 'thread')],
    [ThreadKey.of(`${run}{a}`, 'thread'), ThreadKey.of(`${run}[a]`, 'thread')],
  ];
}

/** Odd but legal ids that must round-trip and stay separate everywhere. */
const ODD_IDS = [
  '* ? [ ] % _ \\ { } : /',
  '__proto__',
  'constructor',
  '{tag}',
  'a:b:c',
  '🦀 émoji',
  '%2F',
  '\\:',
];

const itemNames = (items: StoreItem<unknown>[]) =>
  items.map((item) => `${item.namespace.scope.join('/')}#${item.key}=${String(item.value)}`);

/**
 * Give `tenant` the same thread ids, checkpoint ids (in two namespaces), namespaces,
 * keys and events as any other tenant populated with the same `threadIds` and `ids`.
 */
async function populateAlike(
  p: Persistence,
  tenant: string,
  threadIds: readonly string[],
  ids: readonly CheckpointId[],
): Promise<void> {
  for (const [i, threadId] of threadIds.entries()) {
    const key = ThreadKey.of(tenant, threadId);
    const id = ids[i] as CheckpointId;
    await p.checkpointer().put(makeCheckpoint(key, { tenant }, { id, metadata: { tenant } }));
    await p.checkpointer().put(makeCheckpoint(key, { tenant }, { id, ns: 'child' }));
    await p
      .checkpointer()
      .putWrites(key, { checkpointId: id, taskId: 'task' }, [
        { idx: 0, channel: 'c', value: tenant },
      ]);
    await p.store().put(Namespace.of(tenant, threadId), threadId, tenant);
    await p.sessionLog().append(key, [tenant, tenant]);
  }
}

/** Tenant isolation: no call can read or write another tenant's data. */
export const tenantIsolationTests = defineGroup('tenant-isolation', ({ test }) => [
  test(
    'checkpoints',
    'same thread id and checkpoint id under two tenants never cross',
    async ({ a, b }) => {
      for (const [left, right] of adversarialPairs()) {
        const leftCp = makeCheckpoint(left, { owner: 'left' });
        const rightCp = { ...leftCp, key: right, state: { owner: 'right' } };
        await a.checkpointer().put(leftCp);
        await b.checkpointer().put(rightCp);
        expect((await a.checkpointer().getById(right, leftCp.id))?.state).toEqual({
          owner: 'right',
        });
        expect((await b.checkpointer().getLatest(left))?.state).toEqual({ owner: 'left' });
        await a.checkpointer().updateState(left, leftCp.id, { owner: 'left fork' });
        expect((await a.checkpointer().getLatest(right))?.state).toEqual({ owner: 'right' });
        expect(await a.checkpointer().listHistory(right, { limit: 10 })).toHaveLength(1);
        expect(await b.checkpointer().deleteThread(left)).toBe(2);
        expect(await a.checkpointer().listHistory(right, { limit: 10 })).toHaveLength(1);
      }
    },
  ),

  test(
    'session-logs',
    'two tenants with the same thread id have separate ordinals',
    async ({ a, b }) => {
      for (const [left, right] of adversarialPairs()) {
        expect(await a.sessionLog().append(left, ['l1', 'l2'])).toBe(2);
        expect(await b.sessionLog().append(right, ['r1'])).toBe(1);
        expect((await a.sessionLog().loadSince(right, 0)).map((e) => e.event)).toEqual(['r1']);
        expect(await a.sessionLog().archiveBefore(left, 100)).toBe(2);
        expect(await b.sessionLog().head(right)).toBe(1);
        expect(await a.sessionLog().loadSince(right, 0)).toHaveLength(1);
      }
    },
  ),

  test('locks', 'a lease on one tenant never blocks another', async ({ a, b }) => {
    for (const [left, right] of adversarialPairs()) {
      const leftLease = await a.lock.tryAcquire(left, { ttlMs: 10_000 });
      const rightLease = await b.lock.tryAcquire(right, { ttlMs: 10_000 });
      expect(leftLease).toBeDefined();
      expect(rightLease).toBeDefined();
      await leftLease?.release();
      await rightLease?.release();
    }
  }),

  test(
    'store',
    'store items, lists and namespace listings stay within a tenant',
    async ({ a, b }) => {
      for (const [left, right] of adversarialPairs()) {
        const leftNs = Namespace.of(left.tenantId, left.threadId);
        const rightNs = Namespace.of(right.tenantId, left.threadId);
        await a.store().put(leftNs, 'k', 'left');
        await b.store().put(rightNs, 'k', 'right');
        await a.store().put(leftNs, 'only-left', 1);
        expect((await b.store().get(leftNs, 'k'))?.value).toBe('left');
        expect((await a.store().get(rightNs, 'k'))?.value).toBe('right');
        expect(await a.store().get(rightNs, 'only-left')).toBeUndefined();
        expect(await a.store().list(rightNs)).toEqual(['k']);
        expect((await a.store().listNamespaces(right.tenantId)).map((ns) => ns.render())).toEqual([
          rightNs.render(),
        ]);
        expect(await a.store().delete(leftNs, 'k')).toBe(true);
        expect((await b.store().get(rightNs, 'k'))?.value).toBe('right');
      }
    },
  ),

  test(
    'store-namespace-joins',
    'namespaces whose rendered parts could join never collide',
    async ({ a }) => {
      const tenant = freshId('tenant');
      const store = a.store<string>();
      const pairs: [Namespace, Namespace][] = [
        [Namespace.of(tenant, 'a:b', 'c'), Namespace.of(tenant, 'a', 'b:c')],
        [Namespace.of(tenant, 'a\\', 'b'), Namespace.of(tenant, 'a', '\\b')],
        [Namespace.of(tenant, 'x'), Namespace.of(tenant, 'x', 'x')],
      ];
      for (const [left, right] of pairs) {
        await store.put(left, 'k', 'left');
        await store.put(right, 'k', 'right');
        expect((await store.get(left, 'k'))?.value).toBe('left');
        expect((await store.get(right, 'k'))?.value).toBe('right');
        expect(await store.list(left)).toEqual(['k']);
      }
      expect(await store.listNamespaces(tenant)).toHaveLength(6);
    },
  ),

  test('odd-ids', 'legal odd ids round-trip through every contract', async ({ a, b }) => {
    for (const odd of ODD_IDS) {
      const key = ThreadKey.of(`${odd}-${freshId()}`, odd);
      const cp = makeCheckpoint(key, { odd }, { nextNode: odd });
      await a.checkpointer().put(cp);
      const read = await b.checkpointer().getLatest(key);
      expect(read?.key).toEqual({ tenantId: key.tenantId, threadId: odd });
      expect(read?.nextNode).toBe(odd);
      expect(await a.sessionLog().append(key, [odd])).toBe(1);
      expect((await b.sessionLog().loadSince(key, 0))[0]?.event).toBe(odd);
      const ns = Namespace.of(key.tenantId, odd, odd);
      await a.store().put(ns, odd, odd);
      expect((await b.store().get(ns, odd))?.value).toBe(odd);
      expect(await b.store().list(ns, { prefix: odd })).toEqual([odd]);
      const listed = await b.store().listNamespaces(key.tenantId);
      expect(listed.map((n) => [...n.scope])).toEqual([[odd, odd]]);
      const lease = await a.lock.tryAcquire(key, { ttlMs: 10_000 });
      expect(lease?.key.threadId).toBe(odd);
      await lease?.release();
    }
  }),
  test(
    'thread-listings',
    'listThreads of checkpoints and of session logs list the tenant own threads only',
    async ({ a, b }) => {
      for (const [left, right] of adversarialPairs()) {
        const sides: [ThreadKey, Persistence, string][] = [
          [left, a, 'left-only'],
          [right, b, 'right-only'],
        ];
        for (const [key, p, own] of sides) {
          for (const threadId of [key.threadId, own]) {
            const threadKey = ThreadKey.of(key.tenantId, threadId);
            await p.checkpointer().put(makeCheckpoint(threadKey, 1));
            await p.sessionLog().append(threadKey, [1]);
          }
        }
        for (const [key, , own] of sides) {
          const expected = byCodePoint([key.threadId, own]);
          for (const p of [a, b]) {
            expect(await p.checkpointer().listThreads(key.tenantId, { limit: 10 })).toEqual(
              expected,
            );
            expect(await p.sessionLog().listThreads(key.tenantId, { limit: 10 })).toEqual(expected);
            expect(
              await p.checkpointer().listThreads(key.tenantId, {
                limit: 10,
                after: expected[0] as string,
              }),
            ).toEqual(expected.slice(1));
          }
        }
      }
    },
  ),

  test(
    'store-reads',
    'search over the whole tenant (no prefix) and getMany return the tenant own items only',
    async ({ a, b }) => {
      for (const [left, right] of adversarialPairs()) {
        const leftNs = Namespace.of(left.tenantId, left.threadId);
        const rightNs = Namespace.of(right.tenantId, left.threadId);
        await a.store().put(leftNs, 'k', 'left');
        await a.store().put(Namespace.of(left.tenantId, 'left-only'), 'k', 'left only');
        await b.store().put(rightNs, 'k', 'right');
        const leftItems = byCodePoint([left.threadId, 'left-only']).map((scope) =>
          scope === 'left-only' ? 'left-only#k=left only' : `${scope}#k=left`,
        );
        expect(itemNames(await b.store().search(left.tenantId, { limit: 10 }))).toEqual(leftItems);
        expect(itemNames(await a.store().search(right.tenantId, { limit: 10 }))).toEqual([
          `${left.threadId}#k=right`,
        ]);
        expect(
          await a.store().search(right.tenantId, { limit: 10, namespacePrefix: ['left-only'] }),
        ).toEqual([]);
        const fromRight = await a.store().getMany([
          { namespace: rightNs, key: 'k' },
          { namespace: Namespace.of(right.tenantId, 'left-only'), key: 'k' },
        ]);
        expect(fromRight.map((item) => item?.value)).toEqual(['right', undefined]);
        expect(fromRight[0]?.namespace.tenantId).toBe(right.tenantId);
        const fromLeft = await b.store().getMany([{ namespace: leftNs, key: 'k' }]);
        expect(fromLeft.map((item) => item?.value)).toEqual(['left']);
      }
    },
  ),

  test(
    'session-log-reads',
    'loadLatest and truncateAfter read and remove within one tenant only',
    async ({ a, b }) => {
      for (const [left, right] of adversarialPairs()) {
        await a.sessionLog().append(left, ['l1', 'l2', 'l3']);
        await b.sessionLog().append(right, ['r1', 'r2']);
        const latest = await a.sessionLog().loadLatest(right, { limit: 10 });
        expect(latest.map((e) => [e.seq, e.event])).toEqual([
          [1, 'r1'],
          [2, 'r2'],
        ]);
        expect(await a.sessionLog().truncateAfter(left, 0)).toBe(3);
        expect((await b.sessionLog().loadLatest(right, { limit: 10 })).map((e) => e.event)).toEqual(
          ['r1', 'r2'],
        );
        expect(await b.sessionLog().truncateAfter(right, 1)).toBe(1);
        expect(await a.sessionLog().head(left)).toBe(3);
        expect(await a.sessionLog().head(right)).toBe(2);
        expect(await a.sessionLog().loadLatest(left, { limit: 10 })).toEqual([]);
      }
    },
  ),

  test(
    'checkpoint-reads',
    'filtered history, pending writes and prune of the same checkpoint id stay within one tenant',
    async ({ a, b }) => {
      for (const [left, right] of adversarialPairs()) {
        const leftCp = makeCheckpoint(left, 'left', { metadata: { source: 'loop' } });
        const rightCp = { ...leftCp, key: right, state: 'right' };
        await a.checkpointer().put(leftCp);
        await b.checkpointer().put(rightCp);
        const target = { checkpointId: leftCp.id, taskId: 'task' };
        await a.checkpointer().putWrites(left, target, [{ idx: 0, channel: 'c', value: 'left' }]);
        await b.checkpointer().putWrites(right, target, [{ idx: 0, channel: 'c', value: 'right' }]);
        for (const [key, owner] of [
          [left, 'left'],
          [right, 'right'],
        ] as const) {
          const history = await a
            .checkpointer<string>()
            .listHistory(key, { limit: 10, filter: { source: 'loop' } });
          expect(history.map((cp) => cp.state)).toEqual([owner]);
          expect(history[0]?.pendingWrites.map((w) => w.value)).toEqual([owner]);
        }
        expect(await a.checkpointer().prune(left, { keepLatest: 0 })).toBe(1);
        const kept = await b.checkpointer<string>().getById(right, leftCp.id);
        expect(kept?.state).toBe('right');
        expect(kept?.pendingWrites.map((w) => w.value)).toEqual(['right']);
        expect(await a.checkpointer().getById(left, leftCp.id)).toBeUndefined();
      }
    },
  ),

  test(
    'purge',
    'purgeTenant erases one tenant and leaves another with the same thread ids, namespaces, keys and checkpoint ids untouched',
    async ({ a, b, capabilities, skips }) => {
      for (const [left, right] of adversarialPairs()) {
        const threadIds = [...new Set([left.threadId, right.threadId])];
        const ids = threadIds.map(() => CheckpointId.create());
        await populateAlike(a, left.tenantId, threadIds, ids);
        await populateAlike(b, right.tenantId, threadIds, ids);
        const rightLease = capabilities.fencing
          ? await b.lock.tryAcquire(right, { ttlMs: 10_000 })
          : undefined;
        const rightBefore = await tenantView(b, right.tenantId, threadIds);
        expect(await a.purgeTenant(left.tenantId)).toEqual({
          checkpoints: 2 * threadIds.length,
          writes: threadIds.length,
          storeItems: threadIds.length,
          events: 2 * threadIds.length,
        });
        expect(await tenantView(a, right.tenantId, threadIds)).toEqual(rightBefore);
        const leftAfter = await tenantView(b, left.tenantId);
        expect(leftAfter).toMatchObject({ checkpointThreads: [], items: [], namespaces: [] });
        if (rightLease !== undefined) {
          await b.sessionLog().append(right, ['fenced'], { fence: rightLease });
          if (!skips('lock/fenced-store-writes')) {
            await b.store().put(Namespace.of(right.tenantId, 'x'), 'k', 1, { fence: rightLease });
          }
          await rightLease.release();
        }
        await expectCode(
          a.checkpointer().updateState(left, ids[0] as CheckpointId, { gone: true }),
          'NOT_FOUND',
        );
      }
    },
  ),
]);
