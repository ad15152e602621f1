import {
  type DistributedLock,
  type LockLease,
  MAX_TTL_MS,
  ThreadKey,
  withSessionLock,
} from '@entelix/core';
import {
  assertNewestFence,
  createDistributedLock,
  type LockDriver,
  lockKeyOf,
} from '@entelix/core/adapter';
import { describe, expect, it, vi } from 'vitest';

const key = ThreadKey.of('tenant', 'thread');

/** A single-process lock whose remote side can be told to fail or to lose the lease. */
function fakeLock() {
  let holder: bigint | undefined;
  let fence = 0n;
  const calls = { grant: 0, extend: 0, release: 0 };
  const behaviour = { extend: 'ok' as 'ok' | 'lost' | 'fail', release: 'ok' as 'ok' | 'lost' };
  // Resolves the pending grant; a test may hold grants back to abort while one is in flight.
  let gate: Promise<void> = Promise.resolve();
  const driver: LockDriver = {
    async grant() {
      calls.grant++;
      await gate;
      if (holder !== undefined) return undefined;
      fence += 1n;
      holder = fence;
      return fence;
    },
    async extend(_key, mine) {
      calls.extend++;
      if (behaviour.extend === 'fail') throw new Error('network');
      return behaviour.extend === 'ok' && holder === mine;
    },
    async release(_key, mine) {
      calls.release++;
      const ok = behaviour.release === 'ok' && holder === mine;
      if (holder === mine) holder = undefined;
      return ok;
    },
  };
  const lock: DistributedLock = createDistributedLock(driver, 'fake');
  const holdGrants = () => {
    let open: () => void = () => undefined;
    gate = new Promise((resolve) => {
      open = resolve;
    });
    return () => open();
  };

  return { lock, calls, behaviour, holdGrants, isHeld: () => holder !== undefined };
}

describe('the lease handle', () => {
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

describe('acquire', () => {
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
    // null is a value, not an absent option: refused as it is everywhere else.
    for (const options of [{ ttlMs: null }, { timeoutMs: null }]) {
      await expect(
        withSessionLock(lock, key, async () => 1, options as never),
      ).rejects.toMatchObject({ code: 'CONFIG' });
    }
    expect(acquire).not.toHaveBeenCalled();
    for (const notALock of [{}, null, undefined]) {
      await expect(withSessionLock(notALock as never, key, async () => 1)).rejects.toMatchObject({
        code: 'CONFIG',
        message: expect.stringMatching(/DistributedLock/),
      });
    }
  });
});

describe('assertNewestFence', () => {
  it('accepts only the newest grant', () => {
    expect(() => assertNewestFence(undefined, 5n, 'test')).not.toThrow();
    const token = (fence: bigint) => ({ key, lockKey: lockKeyOf(key), fence });
    expect(() => assertNewestFence(token(5n), 5n, 'test')).not.toThrow();
    for (const [fence, newest] of [
      [4n, 5n],
      [6n, 5n],
      [1n, 0n],
    ] as const) {
      expect(() => assertNewestFence(token(fence), newest, 'test')).toThrow(
        expect.objectContaining({ code: 'FENCED' }),
      );
    }
  });
});

describe('aborts and long leases', () => {
  it('an abort while a grant attempt is in flight rejects at once and gives the lease back', async () => {
    const { lock, holdGrants, isHeld, calls } = fakeLock();
    let attempts = 0;
    for (const take of [
      (signal: AbortSignal) => lock.tryAcquire(key, { ttlMs: 1_000, signal }),
      (signal: AbortSignal) => lock.acquire(key, { ttlMs: 1_000, timeoutMs: 1_000, signal }),
      (signal: AbortSignal) => withSessionLock(lock, key, async () => 'ran', { signal }),
    ]) {
      const open = holdGrants();
      const controller = new AbortController();
      const pending = take(controller.signal);
      await Promise.resolve();
      controller.abort();
      await expect(pending).rejects.toMatchObject({ code: 'ABORTED' });
      open();
      attempts++;
      // The grant that landed after the abort is released in the background.
      await vi.waitFor(() => expect(calls.release).toBe(attempts));
      expect(isHeld()).toBe(false);
    }
  });

  it('an abort that lands during an attempt is not slept through', async () => {
    const { lock, holdGrants } = fakeLock();
    const held = (await lock.tryAcquire(key, { ttlMs: 200 })) as LockLease;
    const open = holdGrants();
    const controller = new AbortController();
    const waiting = lock.acquire(key, {
      ttlMs: 1_000,
      timeoutMs: 5_000,
      signal: controller.signal,
    });
    await Promise.resolve();
    controller.abort();
    open();
    await expect(waiting).rejects.toMatchObject({ code: 'ABORTED' });
    await held.release();
  });

  it('keeps a lease of more than 2^31 ms alive for all of it', async () => {
    vi.useFakeTimers();
    try {
      const { lock } = fakeLock();
      const ttlMs = 2 ** 31 + 10_000;
      const lease = (await lock.tryAcquire(key, { ttlMs })) as LockLease;
      await vi.advanceTimersByTimeAsync(2 ** 31);
      expect(lease.signal.aborted).toBe(false);
      await vi.advanceTimersByTimeAsync(20_000);
      expect(lease.signal.aborted).toBe(true);
      expect(lease.signal.reason).toMatchObject({ code: 'LOCK_LOST' });
    } finally {
      vi.useRealTimers();
    }
  });

  it('refuses a TTL beyond MAX_TTL_MS with CONFIG, for leases, extends and withSessionLock', async () => {
    const { lock, calls } = fakeLock();
    await expect(lock.tryAcquire(key, { ttlMs: MAX_TTL_MS + 1 })).rejects.toMatchObject({
      code: 'CONFIG',
    });
    await expect(
      withSessionLock(lock, key, async () => 1, { ttlMs: Number.MAX_SAFE_INTEGER }),
    ).rejects.toMatchObject({ code: 'CONFIG' });
    expect(calls.grant).toBe(0);
    const lease = (await lock.tryAcquire(key, { ttlMs: 1_000 })) as LockLease;
    await expect(lease.extend(MAX_TTL_MS + 1)).rejects.toMatchObject({ code: 'CONFIG' });
    await lease.release();
  });

  it('names the key and the wait in LOCK_TIMEOUT', async () => {
    const { lock } = fakeLock();
    const held = (await lock.tryAcquire(key, { ttlMs: 1_000 })) as LockLease;
    const error = await lock.acquire(key, { ttlMs: 1_000, timeoutMs: 20 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'LOCK_TIMEOUT' });
    expect(String((error as Error).message)).toContain('"thread" of tenant "tenant"');
    expect(String((error as Error).message)).toContain('20 ms');
    await held.release();
  });
});
