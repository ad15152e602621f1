import { describe, expect, it, vi } from 'vitest';
import {
  assertNewestFence,
  createDistributedLock,
  createLockLease,
  type DistributedLock,
  type LeaseBackend,
  type LockLease,
  lockKeyOf,
  readFence,
  ThreadKey,
  withSessionLock,
} from '../src/index.js';

const key = ThreadKey.of('tenant', 'thread');

/** A single-process lock whose remote side can be told to fail or to lose the lease. */
function fakeLock() {
  let holder: number | undefined;
  let fence = 0n;
  const calls = { extend: 0, release: 0 };
  const behaviour = { extend: 'ok' as 'ok' | 'lost' | 'fail', release: 'ok' as 'ok' | 'lost' };
  const grant = (ttlMs: number): LockLease | undefined => {
    if (holder !== undefined) return undefined;
    fence += 1n;
    const mine = Number(fence);
    holder = mine;
    const remote: LeaseBackend = {
      backend: 'fake',
      async extend() {
        calls.extend++;
        if (behaviour.extend === 'fail') throw new Error('network');
        return behaviour.extend === 'ok' && holder === mine;
      },
      async release() {
        calls.release++;
        const ok = behaviour.release === 'ok' && holder === mine;
        if (holder === mine) holder = undefined;
        return ok;
      },
    };
    return createLockLease({ key, fence, ttlMs, requestedAt: Date.now() }, remote);
  };
  const lock: DistributedLock = createDistributedLock('fake', async (_key, ttlMs) => grant(ttlMs));

  return { lock, calls, behaviour, isHeld: () => holder !== undefined };
}

describe('createLockLease', () => {
  it('aborts its signal with LOCK_LOST when the TTL passes', async () => {
    const { lock } = fakeLock();
    const lease = (await lock.tryAcquire(key, { ttlMs: 30 })) as LockLease;
    expect(lease.signal.aborted).toBe(false);
    await new Promise((resolve) => lease.signal.addEventListener('abort', resolve));
    expect(lease.signal.reason).toMatchObject({ code: 'LOCK_LOST' });
  });

  it('extend pushes expiresAt forward; a lost extend is LOCK_LOST and aborts', async () => {
    const { lock, behaviour } = fakeLock();
    const lease = (await lock.tryAcquire(key, { ttlMs: 1_000 })) as LockLease;
    const before = lease.expiresAt.getTime();
    await new Promise((resolve) => setTimeout(resolve, 5));
    await lease.extend(5_000);
    expect(lease.expiresAt.getTime()).toBeGreaterThan(before);
    behaviour.extend = 'lost';
    await expect(lease.extend(5_000)).rejects.toMatchObject({ code: 'LOCK_LOST' });
    expect(lease.signal.aborted).toBe(true);
  });

  it('release is idempotent; extend after release is LOCK_LOST', async () => {
    const { lock, calls, isHeld } = fakeLock();
    const lease = (await lock.tryAcquire(key, { ttlMs: 1_000 })) as LockLease;
    await lease.release();
    await lease.release();
    expect(calls.release).toBe(1);
    expect(isHeld()).toBe(false);
    expect(lease.signal.aborted).toBe(true);
    await expect(lease.extend(1_000)).rejects.toMatchObject({ code: 'LOCK_LOST' });
  });

  it('release of a lease taken over is LOCK_LOST', async () => {
    const { lock, behaviour } = fakeLock();
    const lease = (await lock.tryAcquire(key, { ttlMs: 1_000 })) as LockLease;
    behaviour.release = 'lost';
    await expect(lease.release()).rejects.toMatchObject({ code: 'LOCK_LOST' });
  });

  it('rejects a bad ttl with CONFIG without calling the backend', async () => {
    const { lock, calls } = fakeLock();
    const lease = (await lock.tryAcquire(key, { ttlMs: 1_000 })) as LockLease;
    for (const ttl of [0, -1, 1.5, Number.NaN, '10']) {
      await expect(lease.extend(ttl as number)).rejects.toMatchObject({ code: 'CONFIG' });
    }
    expect(calls.extend).toBe(0);
    await lease.release();
  });
});

describe('createDistributedLock', () => {
  it('validates before granting and checks the signal before any I/O', async () => {
    const { lock, isHeld } = fakeLock();
    await expect(
      lock.tryAcquire({ tenantId: '', threadId: 't' } as ThreadKey, { ttlMs: 1 }),
    ).rejects.toMatchObject({
      code: 'INVALID_ID',
    });
    await expect(lock.tryAcquire(key, { ttlMs: 0 })).rejects.toMatchObject({ code: 'CONFIG' });
    await expect(lock.acquire(key, { ttlMs: 10 } as never)).rejects.toMatchObject({
      code: 'CONFIG',
    });
    await expect(
      lock.tryAcquire(key, { ttlMs: 10, signal: AbortSignal.abort() }),
    ).rejects.toMatchObject({
      code: 'ABORTED',
    });
    await expect(
      lock.acquire(key, { ttlMs: 10, timeoutMs: 10, signal: AbortSignal.abort() }),
    ).rejects.toMatchObject({ code: 'ABORTED' });
    expect(isHeld()).toBe(false);
  });
});

describe('acquireByPolling', () => {
  it('times out with LOCK_TIMEOUT', async () => {
    const { lock } = fakeLock();
    const held = await lock.acquire(key, { ttlMs: 1_000, timeoutMs: 50 });
    const started = Date.now();
    await expect(lock.acquire(key, { ttlMs: 1_000, timeoutMs: 60 })).rejects.toMatchObject({
      code: 'LOCK_TIMEOUT',
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(55);
    await held.release();
  });

  it('rejects with ABORTED when the signal aborts while waiting', async () => {
    const { lock } = fakeLock();
    const held = await lock.acquire(key, { ttlMs: 1_000, timeoutMs: 50 });
    const waiting = lock.acquire(key, {
      ttlMs: 1_000,
      timeoutMs: 5_000,
      signal: AbortSignal.timeout(30),
    });
    await expect(waiting).rejects.toMatchObject({ code: 'ABORTED' });
    await held.release();
  });

  it('is granted once the holder releases', async () => {
    const { lock } = fakeLock();
    const held = await lock.acquire(key, { ttlMs: 1_000, timeoutMs: 50 });
    setTimeout(() => void held.release(), 20);
    const next = await lock.acquire(key, { ttlMs: 1_000, timeoutMs: 1_000 });
    expect(next.fence).toBe(held.fence + 1n);
    await next.release();
  });
});

describe('withSessionLock', () => {
  it('holds the lock while fn runs and releases it afterwards', async () => {
    const { lock, isHeld } = fakeLock();
    const result = await withSessionLock(lock, key, async (lease) => {
      expect(isHeld()).toBe(true);
      expect(lease.fence).toBe(1n);
      return 'done';
    });
    expect(result).toBe('done');
    expect(isHeld()).toBe(false);
  });

  it('extends every ttl/3 while fn runs', async () => {
    const { lock, calls } = fakeLock();
    await withSessionLock(lock, key, () => new Promise((resolve) => setTimeout(resolve, 200)), {
      ttlMs: 60,
    });
    expect(calls.extend).toBeGreaterThanOrEqual(4);
  });

  it('tolerates a transient extend failure', async () => {
    const { lock, calls, behaviour } = fakeLock();
    behaviour.extend = 'fail';
    setTimeout(() => {
      behaviour.extend = 'ok';
    }, 50);
    await withSessionLock(
      lock,
      key,
      async (lease) => {
        await new Promise((resolve) => setTimeout(resolve, 150));
        expect(lease.signal.aborted).toBe(false);
      },
      { ttlMs: 90 },
    );
    expect(calls.extend).toBeGreaterThanOrEqual(3);
  });

  it('aborts lease.signal when the lease is lost, and reports LOCK_LOST', async () => {
    const { lock, behaviour } = fakeLock();
    behaviour.extend = 'lost';
    behaviour.release = 'lost';
    const run = withSessionLock(
      lock,
      key,
      (lease) =>
        new Promise<void>((resolve) => {
          lease.signal.addEventListener('abort', () => resolve());
        }),
      { ttlMs: 30 },
    );
    await expect(run).rejects.toMatchObject({ code: 'LOCK_LOST' });
  });

  it("releases after fn throws and rethrows fn's error", async () => {
    const { lock, isHeld } = fakeLock();
    const boom = new Error('boom');
    await expect(
      withSessionLock(lock, key, async () => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(isHeld()).toBe(false);
  });

  it('uses 30 s TTL and 5 s timeout by default', async () => {
    const { lock } = fakeLock();
    const acquire = vi.spyOn(lock, 'acquire');
    await withSessionLock(lock, key, async () => undefined);
    expect(acquire).toHaveBeenCalledWith(
      key,
      expect.objectContaining({ ttlMs: 30_000, timeoutMs: 5_000 }),
    );
  });

  it('rejects bad options with CONFIG before acquiring', async () => {
    const { lock } = fakeLock();
    const acquire = vi.spyOn(lock, 'acquire');
    await expect(withSessionLock(lock, key, async () => 1, { ttlMs: 0 })).rejects.toMatchObject({
      code: 'CONFIG',
    });
    await expect(
      withSessionLock(lock, key, async () => 1, { timeoutMs: -5 }),
    ).rejects.toMatchObject({
      code: 'CONFIG',
    });
    await expect(
      withSessionLock(lock, { tenantId: '', threadId: 'x' } as ThreadKey, async () => 1),
    ).rejects.toMatchObject({ code: 'INVALID_ID' });
    expect(acquire).not.toHaveBeenCalled();
  });
});

describe('readFence', () => {
  it('accepts a lease of the same tenant', () => {
    expect(readFence({ key, fence: 3n }, 'tenant', 'test')).toEqual({
      key,
      lockKey: lockKeyOf(key),
      fence: 3n,
    });
    expect(readFence(undefined, 'tenant', 'test')).toBeUndefined();
  });
  it.each([
    ['another tenant', { key: ThreadKey.of('other', 'thread'), fence: 1n }, 'CONFIG'],
    ['a number fence', { key, fence: 1 }, 'CONFIG'],
    ['a zero fence', { key, fence: 0n }, 'CONFIG'],
    ['a bad key', { key: { tenantId: '', threadId: 'x' }, fence: 1n }, 'INVALID_ID'],
    ['null', null, 'CONFIG'],
  ])('rejects %s', (_label, fence, code) => {
    expect(() => readFence(fence, 'tenant', 'test')).toThrow(expect.objectContaining({ code }));
  });
});

describe('assertNewestFence', () => {
  it('accepts only the newest grant', () => {
    expect(() => assertNewestFence(undefined, 5n, 'test')).not.toThrow();
    expect(() => assertNewestFence({ fence: 5n }, 5n, 'test')).not.toThrow();
    expect(() => assertNewestFence({ fence: 4n }, 5n, 'test')).toThrow(
      expect.objectContaining({ code: 'FENCED' }),
    );
    expect(() => assertNewestFence({ fence: 6n }, 5n, 'test')).toThrow(
      expect.objectContaining({ code: 'FENCED' }),
    );
    expect(() => assertNewestFence({ fence: 1n }, 0n, 'test')).toThrow(
      expect.objectContaining({ code: 'FENCED' }),
    );
  });
});
