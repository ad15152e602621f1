import {
  createDistributedLock,
  createLockLease,
  type DistributedLock,
  type LockLease,
  lockKeyOf,
  type ThreadKey,
} from '@entelix/core';
import { BACKEND, type MemoryDatabase } from './database.js';

/** The memory lock: a lease table and a fence counter that outlives every lease. */
export function createMemoryLock(database: MemoryDatabase, now: () => number): DistributedLock {
  const grant = (key: ThreadKey, ttlMs: number): LockLease | undefined => {
    const requestedAt = Date.now();
    const lockKey = lockKeyOf(key);
    const current = database.leases.get(lockKey);
    if (current !== undefined && current.expiresAtMs > now()) return undefined;
    const fence = (database.newestFences.get(lockKey) ?? 0n) + 1n;
    database.newestFences.set(lockKey, fence);
    database.leases.set(lockKey, { fence, expiresAtMs: now() + ttlMs });

    const isMineAndLive = () => {
      const stored = database.leases.get(lockKey);
      return stored !== undefined && stored.fence === fence && stored.expiresAtMs > now();
    };
    return createLockLease(
      { key, fence, ttlMs, requestedAt },
      {
        backend: BACKEND,
        async extend(extendedTtlMs) {
          if (!isMineAndLive()) return false;
          database.leases.set(lockKey, { fence, expiresAtMs: now() + extendedTtlMs });
          return true;
        },
        async release() {
          if (!isMineAndLive()) return false;
          database.leases.delete(lockKey);
          return true;
        },
      },
    );
  };

  return createDistributedLock(BACKEND, async (key, ttlMs) => grant(key, ttlMs));
}
