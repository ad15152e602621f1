import type { ThreadKey } from '@entelix/core';
import { type LockDriver, lockKeyOf } from '@entelix/core/adapter';

declare function grantAtomically(lockKey: string, ttlMs: number): Promise<bigint | undefined>;
declare function extendIfStillOurs(lockKey: string, fence: bigint, ttlMs: number): Promise<boolean>;
declare function endIfStillOurs(lockKey: string, fence: bigint): Promise<boolean>;

export const lock: LockDriver = {
  // Free or expired: bump the counter, store { fence, expiresAt: now + ttlMs }, return
  // the fence, in one atomic step. Held by a live lease: undefined.
  grant: (key: ThreadKey, ttlMs) => grantAtomically(lockKeyOf(key), ttlMs),
  // Only while the stored lease is still this fence's and live.
  extend: (key, fence, ttlMs) => extendIfStillOurs(lockKeyOf(key), fence, ttlMs),
  release: (key, fence) => endIfStillOurs(lockKeyOf(key), fence),
};

export {};
