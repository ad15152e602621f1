import {
  createDistributedLock,
  createLockLease,
  type DistributedLock,
  type LockLease,
  lockKeyOf,
  type ThreadKey,
} from '@entelix/core';
import {
  BACKEND,
  readNewestFence,
  readRecord,
  type StorageClient,
  storageKeys,
  writeRecord,
} from './storage.js';

/** A lease as stored. The fence is decimal text: JSON has no bigint. */
interface StoredLease {
  fence: string;
  expiresAtMs: number;
}

/**
 * The lock: one lease record per lock key, and a fence counter beside it that is never
 * deleted, so a fence is never granted twice for a key, even after release or expiry.
 */
export function createKeyValueLock(client: StorageClient): DistributedLock {
  const writeLease = (leaseKey: string, fence: bigint, expiresAtMs: number) =>
    writeRecord(client, leaseKey, { fence: fence.toString(), expiresAtMs } satisfies StoredLease);

  const grant = (key: ThreadKey, ttlMs: number): LockLease | undefined => {
    // Taken before the grant, so the holder's idea of its expiry is never later than ours.
    const requestedAt = Date.now();
    const lockKey = lockKeyOf(key);
    const leaseKey = storageKeys.lease(lockKey);
    const current = readRecord<StoredLease>(client, leaseKey);
    if (current !== undefined && current.expiresAtMs > Date.now()) return undefined;
    const fence = readNewestFence(client, lockKey) + 1n;
    client.set(storageKeys.newestFence(lockKey), fence.toString());
    writeLease(leaseKey, fence, Date.now() + ttlMs);

    const isStillOurs = () => {
      const stored = readRecord<StoredLease>(client, leaseKey);
      return (
        stored !== undefined && stored.fence === fence.toString() && stored.expiresAtMs > Date.now()
      );
    };
    return createLockLease(
      { key, fence, ttlMs, requestedAt },
      {
        backend: BACKEND,
        async extend(extendedTtlMs) {
          if (!isStillOurs()) return false;
          writeLease(leaseKey, fence, Date.now() + extendedTtlMs);
          return true;
        },
        async release() {
          if (!isStillOurs()) return false;
          client.delete(leaseKey);
          return true;
        },
      },
    );
  };

  return createDistributedLock(BACKEND, async (key, ttlMs) => grant(key, ttlMs));
}
