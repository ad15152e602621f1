import type { ThreadKey } from '@entelix/core';
import { type LockDriver, lockKeyOf } from '@entelix/core/adapter';
import type { MemoryDatabase } from './database.js';

/** A lease table and a fence counter that outlives every lease. */
export function createMemoryLock(database: MemoryDatabase, now: () => number): LockDriver {
  const isLive = (lockKey: string, fence: bigint) => {
    const stored = database.leases.get(lockKey);
    return stored !== undefined && stored.fence === fence && stored.expiresAtMs > now();
  };

  return {
    async grant(key: ThreadKey, ttlMs: number) {
      const lockKey = lockKeyOf(key);
      const current = database.leases.get(lockKey);
      if (current !== undefined && current.expiresAtMs > now()) return undefined;
      const fence = (database.newestFences.get(lockKey) ?? 0n) + 1n;
      database.newestFences.set(lockKey, fence);
      database.leases.set(lockKey, { fence, expiresAtMs: now() + ttlMs });
      return fence;
    },
    async extend(key, fence, ttlMs) {
      const lockKey = lockKeyOf(key);
      if (!isLive(lockKey, fence)) return false;
      database.leases.set(lockKey, { fence, expiresAtMs: now() + ttlMs });
      return true;
    },
    async release(key, fence) {
      const lockKey = lockKeyOf(key);
      if (!isLive(lockKey, fence)) return false;
      database.leases.delete(lockKey);
      return true;
    },
  };
}
