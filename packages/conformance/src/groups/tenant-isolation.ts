import { Namespace, ThreadKey } from '@entelix/core';
import { expect } from 'vitest';
import { defineGroup, freshId, makeCheckpoint } from '../fixtures.js';

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
]);
