import type { ThreadKey } from '@entelix/core';
import type { LockDriver } from '@entelix/core/adapter';
import {
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
 * One lease record per thread, and a fence counter beside it that is never deleted, so
 * a fence is never granted twice for a thread, even after release, expiry or a purge.
 */
export function createKeyValueLock(client: StorageClient): LockDriver {
  const writeLease = (key: ThreadKey, fence: bigint, ttlMs: number) =>
    writeRecord(client, storageKeys.lease(key), {
      fence: fence.toString(),
      expiresAtMs: Date.now() + ttlMs,
    } satisfies StoredLease);

  const isLiveLease = (key: ThreadKey, fence: bigint) => {
    const stored = readRecord<StoredLease>(client, storageKeys.lease(key));
    return (
      stored !== undefined && stored.fence === fence.toString() && stored.expiresAtMs > Date.now()
    );
  };

  return {
    async grant(key, ttlMs) {
      const current = readRecord<StoredLease>(client, storageKeys.lease(key));
      if (current !== undefined && current.expiresAtMs > Date.now()) return undefined;
      const fence = readNewestFence(client, key) + 1n;
      client.set(storageKeys.newestFence(key), fence.toString());
      writeLease(key, fence, ttlMs);
      return fence;
    },
    async extend(key, fence, ttlMs) {
      if (!isLiveLease(key, fence)) return false;
      writeLease(key, fence, ttlMs);
      return true;
    },
    async release(key, fence) {
      if (!isLiveLease(key, fence)) return false;
      client.delete(storageKeys.lease(key));
      return true;
    },
  };
}
