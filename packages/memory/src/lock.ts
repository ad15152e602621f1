import type { ThreadKey } from '@entelix/core';
import { type LockDriver, lockKeyOf } from '@entelix/core/adapter';
import { type MemoryDatabase, ofTenant } from './database.js';

/** A lease table and a fence counter that outlives every lease. */
export function createMemoryLock(database: MemoryDatabase, now: () => number): LockDriver {
  const leasesOf = (key: ThreadKey) => ofTenant(database.leases, key.tenantId);
  const isLive = (key: ThreadKey, fence: bigint) => {
    const stored = leasesOf(key).get(lockKeyOf(key));
    return stored !== undefined && stored.fence === fence && stored.expiresAtMs > now();
  };

  return {
    async grant(key, ttlMs) {
      const lockKey = lockKeyOf(key);
      const current = leasesOf(key).get(lockKey);
      if (current !== undefined && current.expiresAtMs > now()) return undefined;
      const fences = ofTenant(database.newestFences, key.tenantId);
      const fence = (fences.get(lockKey) ?? 0n) + 1n;
      fences.set(lockKey, fence);
      leasesOf(key).set(lockKey, { fence, expiresAtMs: now() + ttlMs });
      return fence;
    },
    async extend(key, fence, ttlMs) {
      if (!isLive(key, fence)) return false;
      leasesOf(key).set(lockKeyOf(key), { fence, expiresAtMs: now() + ttlMs });
      return true;
    },
    async release(key, fence) {
      if (!isLive(key, fence)) return false;
      leasesOf(key).delete(lockKeyOf(key));
      return true;
    },
  };
}
