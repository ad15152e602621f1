import { Namespace, ThreadKey } from '@entelix/core';
import { expect } from 'vitest';
import type { SuiteContext } from '../fixtures.js';
import { defineGroup, expectCode, freshId, makeCheckpoint } from '../fixtures.js';

/** Give a tenant data in every contract: 3 checkpoints, 2 writes, 3 items, 5 events. */
async function populate({ a }: SuiteContext, tenant: string): Promise<void> {
  const one = ThreadKey.of(tenant, 'one');
  const two = ThreadKey.of(tenant, 'two');
  const root = makeCheckpoint(one, { n: 1 });
  await a.checkpointer().put(root);
  await a.checkpointer().put(makeCheckpoint(one, { n: 2 }, { ns: 'child' }));
  await a.checkpointer().put(makeCheckpoint(two, { n: 3 }));
  await a.checkpointer().putWrites(one, { checkpointId: root.id, taskId: 't' }, [
    { idx: 0, channel: 'c', value: 1 },
    { idx: -1, channel: 'e', value: 2 },
  ]);
  await a.store().put(Namespace.of(tenant, 'users', 'u1'), 'k1', 1);
  await a.store().put(Namespace.of(tenant, 'users', 'u1'), 'k2', 2);
  await a.store().put(Namespace.of(tenant, 'other'), 'k', 3);
  await a.sessionLog().append(one, [1, 2, 3]);
  await a.sessionLog().append(two, [1, 2]);
}

/** `purgeTenant`: erase one tenant everywhere, count it, and keep fences meaningful. */
export const purgeTests = defineGroup('purge', ({ test }) => [
  test(
    'erases-and-counts',
    'purgeTenant erases every contract of one tenant, returns the counts, and is idempotent',
    async (ctx) => {
      const { a, b } = ctx;
      const tenant = freshId('tenant');
      const bystander = freshId('tenant');
      await populate(ctx, tenant);
      await populate(ctx, bystander);
      expect(await b.purgeTenant(tenant)).toEqual({
        checkpoints: 3,
        writes: 2,
        storeItems: 3,
        events: 5,
      });
      const one = ThreadKey.of(tenant, 'one');
      expect(await a.checkpointer().getLatest(one)).toBeUndefined();
      expect(await a.checkpointer().listHistory(one, { limit: 10 })).toEqual([]);
      expect(await a.checkpointer().listThreads(tenant, { limit: 10 })).toEqual([]);
      expect(await a.store().get(Namespace.of(tenant, 'users', 'u1'), 'k1')).toBeUndefined();
      expect(await a.store().listNamespaces(tenant)).toEqual([]);
      expect(await a.store().search(tenant, { limit: 10 })).toEqual([]);
      expect(await a.sessionLog().loadSince(one, 0)).toEqual([]);
      expect(await b.purgeTenant(tenant)).toEqual({
        checkpoints: 0,
        writes: 0,
        storeItems: 0,
        events: 0,
      });
      // The bystander keeps everything.
      const theirs = ThreadKey.of(bystander, 'one');
      expect((await a.checkpointer().getLatest(theirs))?.pendingWrites).toHaveLength(2);
      expect(await a.checkpointer().listThreads(bystander, { limit: 10 })).toEqual(['one', 'two']);
      expect(await a.store().search(bystander, { limit: 10 })).toHaveLength(3);
      expect(await a.sessionLog().loadSince(theirs, 0)).toHaveLength(3);
    },
  ),

  test(
    'ordinals-continue',
    'after a purge the tenant can be used again, and session ordinals are still never reused',
    async (ctx) => {
      const { a } = ctx;
      const tenant = freshId('tenant');
      await populate(ctx, tenant);
      await a.purgeTenant(tenant);
      const one = ThreadKey.of(tenant, 'one');
      // The purge moved the head one past 3, as any deletion of a whole thread does.
      expect(await a.sessionLog().append(one, ['again'])).toBe(5);
      await a.checkpointer().put(makeCheckpoint(one, { n: 9 }));
      expect((await a.checkpointer().getLatest(one))?.state).toEqual({ n: 9 });
      await a.store().put(Namespace.of(tenant, 'users', 'u1'), 'k1', 'new');
      expect((await a.store().get(Namespace.of(tenant, 'users', 'u1'), 'k1'))?.value).toBe('new');
    },
  ),

  test(
    'conditional-append-after',
    'an append conditional on a head read before the purge is CONFLICT after it, and writes nothing',
    async (ctx) => {
      const { a, b } = ctx;
      const tenant = freshId('tenant');
      await populate(ctx, tenant);
      const one = ThreadKey.of(tenant, 'one');
      const read = await a.sessionLog().head(one);
      await b.purgeTenant(tenant);
      // What it would write was read before the purge: it must not bring erased data back.
      await expectCode(a.sessionLog().append(one, ['kept'], { expectedHead: read }), 'CONFLICT');
      await expectCode(
        a.sessionLog().append(one, ['kept'], { expectedHead: read, truncateAfter: read - 1 }),
        'CONFLICT',
      );
      expect(await a.sessionLog().loadSince(one, 0)).toEqual([]);
      expect(await a.sessionLog().head(one)).toBe(read + 1);
      // Only threads that held events have heads, before and after.
      expect(await a.sessionLog().listThreads(tenant, { limit: 10 })).toEqual(['one', 'two']);
      // After another purge, a head read after it works.
      await b.purgeTenant(tenant);
      const now = await a.sessionLog().head(one);
      expect(await a.sessionLog().append(one, ['new'], { expectedHead: now })).toBe(now + 1);
    },
  ),

  test(
    'fences-survive',
    'a lease granted before the purge never passes fencing after it',
    async ({ a, b }) => {
      const tenant = freshId('tenant');
      const key = ThreadKey.of(tenant, 'locked');
      const lease = await a.lock.tryAcquire(key, { ttlMs: 10_000 });
      expect(lease).toBeDefined();
      if (lease === undefined) return;
      await a.sessionLog().append(key, ['before'], { fence: lease });
      await b.purgeTenant(tenant);
      await expectCode(a.sessionLog().append(key, ['after'], { fence: lease }), 'FENCED');
      await expectCode(a.checkpointer().put(makeCheckpoint(key, 1), { fence: lease }), 'FENCED');
      expect(await a.sessionLog().loadSince(key, 0)).toEqual([]);
      const next = await b.lock.tryAcquire(key, { ttlMs: 10_000 });
      expect(next?.fence).toBeGreaterThan(lease.fence);
      await expectCode(lease.extend(10_000), 'LOCK_LOST');
      await next?.release();
    },
  ),

  test('bad-tenant', 'purgeTenant refuses a bad tenant id before any I/O', async ({ a }) => {
    for (const bad of ['', 'nul\u0000', 42, undefined]) {
      await expectCode(a.purgeTenant(bad as string), 'INVALID_ID');
    }
    await expectCode(a.purgeTenant(freshId('tenant'), { signal: AbortSignal.abort() }), 'ABORTED');
  }),
]);
