import { MAX_TTL_MS, type Persistence, ThreadKey, withSessionLock } from '@entelix/core';
import { expect } from 'vitest';
import {
  defineGroup,
  expectCode,
  freshId,
  freshKey,
  freshNamespace,
  makeCheckpoint,
  sleep,
} from '../fixtures.js';

/** A lease that expired and was granted again: the first is stale, the second current. */
async function supersededLease(
  a: Persistence,
  b: Persistence,
  key: ThreadKey,
  ms: (milliseconds: number) => number,
) {
  const stale = await a.lock.tryAcquire(key, { ttlMs: ms(150) });
  if (stale === undefined) throw new Error('lock not granted');
  await sleep(ms(300));
  const current = await b.lock.tryAcquire(key, { ttlMs: 10_000 });
  if (current === undefined) throw new Error('lock not granted after expiry');
  return { stale, current };
}

/** `DistributedLock` and `withSessionLock`: exclusion, TTL, fencing, loss. */
export const lockTests = defineGroup('lock', ({ test }) => [
  test('exclusion', 'one live lease per key, across bundles', async ({ a, b }) => {
    const key = freshKey();
    const lease = await a.lock.tryAcquire(key, { ttlMs: 10_000 });
    expect(lease).toBeDefined();
    expect(lease?.key).toEqual({ tenantId: key.tenantId, threadId: key.threadId });
    expect(await b.lock.tryAcquire(key, { ttlMs: 10_000 })).toBeUndefined();
    expect(await a.lock.tryAcquire(key, { ttlMs: 10_000 })).toBeUndefined();
    await lease?.release();
    const next = await b.lock.tryAcquire(key, { ttlMs: 10_000 });
    expect(next).toBeDefined();
    await next?.release();
  }),

  test('independent-keys', 'different threads and tenants lock independently', async ({ a }) => {
    const key = freshKey();
    const leases = await Promise.all([
      a.lock.tryAcquire(key, { ttlMs: 10_000 }),
      a.lock.tryAcquire(ThreadKey.of(key.tenantId, freshId('thread')), { ttlMs: 10_000 }),
      a.lock.tryAcquire(ThreadKey.of(freshId('tenant'), key.threadId), { ttlMs: 10_000 }),
    ]);
    for (const lease of leases) expect(lease).toBeDefined();
    for (const lease of leases) await lease?.release();
  }),

  test('fence-increases', 'fence tokens strictly increase across every grant', async ({ a, b }) => {
    const key = freshKey();
    const fences: bigint[] = [];
    for (const lock of [a.lock, b.lock, a.lock, b.lock]) {
      const lease = await lock.tryAcquire(key, { ttlMs: 10_000 });
      expect(typeof lease?.fence).toBe('bigint');
      fences.push(lease?.fence as bigint);
      await lease?.release();
    }
    for (let i = 1; i < fences.length; i++)
      expect(fences[i]).toBeGreaterThan(fences[i - 1] as bigint);
  }),

  test(
    'ttl-expiry',
    'an expired lease lets another holder in, with a higher fence',
    async ({ a, b, ms }) => {
      const key = freshKey();
      const first = await a.lock.tryAcquire(key, { ttlMs: ms(150) });
      expect(first).toBeDefined();
      expect(first?.expiresAt.getTime()).toBeLessThanOrEqual(Date.now() + ms(150));
      await sleep(ms(300));
      expect(first?.signal.aborted).toBe(true);
      const second = await b.lock.tryAcquire(key, { ttlMs: 10_000 });
      expect(second).toBeDefined();
      expect(second?.fence).toBeGreaterThan(first?.fence as bigint);
      await second?.release();
    },
  ),

  test(
    'lost-after-takeover',
    'extend and release after a takeover are LOCK_LOST',
    async ({ a, b, ms }) => {
      const key = freshKey();
      const stale = await a.lock.tryAcquire(key, { ttlMs: ms(150) });
      await sleep(ms(300));
      const current = await b.lock.tryAcquire(key, { ttlMs: 10_000 });
      expect(current).toBeDefined();
      await expectCode(stale?.extend(10_000) as Promise<void>, 'LOCK_LOST');
      await expectCode(stale?.release() as Promise<void>, 'LOCK_LOST');
      expect(await a.lock.tryAcquire(key, { ttlMs: 10_000 })).toBeUndefined();
      await current?.extend(10_000);
      await current?.release();
    },
  ),

  test('extend', 'extend keeps a lease alive past its first TTL', async ({ a, b, ms }) => {
    const key = freshKey();
    const lease = await a.lock.tryAcquire(key, { ttlMs: ms(300) });
    const firstExpiry = lease?.expiresAt.getTime() as number;
    await sleep(ms(150));
    await lease?.extend(ms(600));
    expect(lease?.expiresAt.getTime()).toBeGreaterThan(firstExpiry);
    await sleep(ms(250));
    expect(await b.lock.tryAcquire(key, { ttlMs: 10_000 })).toBeUndefined();
    expect(lease?.signal.aborted).toBe(false);
    await lease?.release();
    expect(lease?.signal.aborted).toBe(true);
    await lease?.release();
  }),

  test(
    'acquire-waits',
    'acquire waits for a release and times out with LOCK_TIMEOUT',
    async ({ a, b }) => {
      const key = freshKey();
      const held = await a.lock.acquire(key, { ttlMs: 10_000, timeoutMs: 1_000 });
      await expectCode(b.lock.acquire(key, { ttlMs: 10_000, timeoutMs: 100 }), 'LOCK_TIMEOUT');
      setTimeout(() => void held.release(), 100);
      const next = await b.lock.acquire(key, { ttlMs: 10_000, timeoutMs: 5_000 });
      expect(next.fence).toBeGreaterThan(held.fence);
      await next.release();
    },
  ),

  test(
    'session-lock',
    'withSessionLock holds the lock during fn and releases after, also on throw',
    async ({ a, b }) => {
      const key = freshKey();
      const result = await withSessionLock(a.lock, key, async (lease) => {
        expect(await b.lock.tryAcquire(key, { ttlMs: 10_000 })).toBeUndefined();
        return lease.fence;
      });
      expect(typeof result).toBe('bigint');
      const boom = new Error('boom');
      await expect(
        withSessionLock(a.lock, key, async () => {
          throw boom;
        }),
      ).rejects.toBe(boom);
      const after = await b.lock.tryAcquire(key, { ttlMs: 10_000 });
      expect(after).toBeDefined();
      await after?.release();
    },
  ),

  test(
    'session-lock-heartbeat',
    'withSessionLock extends the lease while fn runs',
    async ({ a, b, ms }) => {
      const key = freshKey();
      await withSessionLock(
        a.lock,
        key,
        async (lease) => {
          await sleep(ms(600));
          expect(lease.signal.aborted).toBe(false);
          expect(await b.lock.tryAcquire(key, { ttlMs: 10_000 })).toBeUndefined();
        },
        { ttlMs: ms(240) },
      );
    },
  ),

  test(
    'fenced-writes',
    'a checkpoint or log write fenced by a superseded lease is FENCED and writes nothing',
    async ({ a, b, ms }) => {
      const key = freshKey();
      const { stale, current } = await supersededLease(a, b, key, ms);
      const checkpointer = a.checkpointer<string>();
      const cp = makeCheckpoint(key, 'stale');
      await expectCode(checkpointer.put(cp, { fence: stale }), 'FENCED');
      expect(await checkpointer.getLatest(key)).toBeUndefined();
      await expectCode(a.sessionLog().append(key, ['stale'], { fence: stale }), 'FENCED');
      expect(await a.sessionLog().head(key)).toBe(0);

      await checkpointer.put(cp, { fence: current });
      await expectCode(checkpointer.updateState(key, cp.id, 'stale', { fence: stale }), 'FENCED');
      await expectCode(checkpointer.deleteThread(key, { fence: stale }), 'FENCED');
      expect((await checkpointer.listHistory(key, { limit: 5 })).map((c) => c.id)).toEqual([cp.id]);
      await a.sessionLog().append(key, ['current'], { fence: current });
      await expectCode(a.sessionLog().archiveBefore(key, 10, { fence: stale }), 'FENCED');
      await expectCode(a.sessionLog().deleteThread(key, { fence: stale }), 'FENCED');
      expect(await a.sessionLog().loadSince(key, 0)).toHaveLength(1);
      await current.release();
    },
    { needs: 'fencing' },
  ),

  test(
    'fenced-store-writes',
    'a store write fenced by a superseded lease is FENCED and writes nothing',
    async ({ a, b, ms }) => {
      const key = freshKey();
      const ns = freshNamespace(key.tenantId);
      const { stale, current } = await supersededLease(a, b, key, ms);
      await expectCode(a.store().put(ns, 'k', 'stale', { fence: stale }), 'FENCED');
      expect(await a.store().get(ns, 'k')).toBeUndefined();
      await a.store().put(ns, 'k', 'current', { fence: current });
      await expectCode(a.store().delete(ns, 'k', { fence: stale }), 'FENCED');
      expect((await a.store().get(ns, 'k'))?.value).toBe('current');
      await current.release();
    },
    { needs: 'fencing' },
  ),

  test(
    'fenced-other-thread',
    'a lease fences checkpoint and log writes to another thread of its tenant: the newest lease writes, a superseded one is FENCED and writes nothing',
    async ({ a, b, ms }) => {
      const leaseKey = freshKey();
      const written = ThreadKey.of(leaseKey.tenantId, freshId('other-thread'));
      const { stale, current } = await supersededLease(a, b, leaseKey, ms);
      const checkpointer = a.checkpointer<string>();
      await expectCode(
        checkpointer.put(makeCheckpoint(written, 'stale'), { fence: stale }),
        'FENCED',
      );
      await expectCode(a.sessionLog().append(written, ['stale'], { fence: stale }), 'FENCED');
      expect(await checkpointer.getLatest(written)).toBeUndefined();
      expect(await a.sessionLog().head(written)).toBe(0);
      const cp = makeCheckpoint(written, 'current');
      await checkpointer.put(cp, { fence: current });
      await a.sessionLog().append(written, ['current'], { fence: current });
      await expectCode(a.sessionLog().truncateAfter(written, 0, { fence: stale }), 'FENCED');
      expect((await checkpointer.getLatest(written))?.id).toBe(cp.id);
      expect((await a.sessionLog().loadSince(written, 0)).map(({ event }) => event)).toEqual([
        'current',
      ]);
      await current.release();
    },
    { needs: 'fencing' },
  ),

  test(
    'fence-other-tenant',
    'a lease of another tenant cannot fence a write (CONFIG)',
    async ({ a }) => {
      const key = freshKey();
      const foreign = await a.lock.tryAcquire(freshKey(), { ttlMs: 10_000 });
      if (foreign === undefined) throw new Error('lock not granted');
      await expectCode(a.checkpointer().put(makeCheckpoint(key, 1), { fence: foreign }), 'CONFIG');
      await expectCode(a.sessionLog().append(key, [1], { fence: foreign }), 'CONFIG');
      expect(await a.checkpointer().getLatest(key)).toBeUndefined();
      expect(await a.sessionLog().head(key)).toBe(0);
      await foreign.release();
    },
    { needs: 'fencing' },
  ),

  test('bad-arguments', 'bad TTLs and timeouts are CONFIG and grant nothing', async ({ a }) => {
    const key = freshKey();
    for (const ttlMs of [0, -1, 1.5, Number.NaN, '100', undefined]) {
      await expectCode(a.lock.tryAcquire(key, { ttlMs } as never), 'CONFIG');
      await expectCode(a.lock.acquire(key, { ttlMs, timeoutMs: 100 } as never), 'CONFIG');
    }
    for (const timeoutMs of [0, -1, 2.5, undefined]) {
      await expectCode(a.lock.acquire(key, { ttlMs: 1_000, timeoutMs } as never), 'CONFIG');
    }
    await expectCode(a.lock.tryAcquire(key, undefined as never), 'CONFIG');
    const lease = await a.lock.tryAcquire(key, { ttlMs: 10_000 });
    expect(lease).toBeDefined();
    await expectCode(lease?.extend(0) as Promise<void>, 'CONFIG');
    await lease?.release();
  }),

  test(
    'long-ttl',
    'a lease of 2^31 ms or more lives for its whole TTL; beyond 100 years it is CONFIG',
    async ({ a, b }) => {
      const key = freshKey();
      const longTtlMs = 2 ** 31 + 1_000;
      const lease = await a.lock.tryAcquire(key, { ttlMs: longTtlMs });
      expect(lease).toBeDefined();
      await sleep(50);
      expect(lease?.signal.aborted).toBe(false);
      expect(lease?.expiresAt.getTime()).toBeGreaterThan(Date.now() + 2 ** 31);
      await lease?.extend(longTtlMs);
      await sleep(20);
      expect(lease?.signal.aborted).toBe(false);
      expect(await b.lock.tryAcquire(key, { ttlMs: 1_000 })).toBeUndefined();
      await lease?.release();
      for (const ttlMs of [MAX_TTL_MS + 1, Number.MAX_SAFE_INTEGER]) {
        await expectCode(a.lock.tryAcquire(freshKey(), { ttlMs }), 'CONFIG');
        await expectCode(
          withSessionLock(a.lock, freshKey(), async () => 1, { ttlMs }),
          'CONFIG',
        );
      }
      const max = await a.lock.tryAcquire(key, { ttlMs: MAX_TTL_MS });
      expect(max?.signal.aborted).toBe(false);
      await max?.release();
    },
  ),
]);
