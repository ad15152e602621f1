import {
  CorruptRecordError,
  createDistributedLock,
  createLockLease,
  type DistributedLock,
  type LockLease,
  type ThreadKey,
  throwIfAborted,
} from '@entelix/core';
import { BACKEND, isNilReply, type RedisContext, run } from './context.js';
import { LOCK_EXTEND, LOCK_RELEASE, LOCK_TRY_ACQUIRE } from './scripts/lock.js';

/**
 * One lease key per thread that expires by the server's clock (`PX`), and a fence
 * counter beside it that is never deleted; a fence is also never below the server's
 * time in microseconds, so every grant gets a larger fence, also after a restart that
 * lost the counter (see scripts/lock.ts).
 */
export function createRedisLock(context: RedisContext): DistributedLock {
  async function grant(key: ThreadKey, ttlMs: number): Promise<LockLease | undefined> {
    const keys = context.keys.thread(key);
    // Taken before the request, so the holder's expiry is never later than Redis's.
    const requestedAt = Date.now();
    const fence = await run(
      context,
      LOCK_TRY_ACQUIRE,
      2,
      [keys.lockLease, keys.lockFence, ttlMs],
      'tryAcquire',
    );
    if (isNilReply(fence)) return undefined;
    if (typeof fence !== 'string' || !/^[1-9]\d*$/.test(fence)) {
      throw new CorruptRecordError('stored lock fence is not a positive integer', {
        backend: BACKEND,
      });
    }
    return createLockLease(
      { key, fence: BigInt(fence), ttlMs, requestedAt },
      {
        backend: BACKEND,
        async extend(extendTtlMs, signal) {
          throwIfAborted(signal, BACKEND);
          const result = await run(
            context,
            LOCK_EXTEND,
            1,
            [keys.lockLease, fence, extendTtlMs],
            'extend',
          );
          return result === 1;
        },
        async release(signal) {
          throwIfAborted(signal, BACKEND);
          const result = await run(context, LOCK_RELEASE, 1, [keys.lockLease, fence], 'release');
          return result === 1;
        },
      },
    );
  }

  return createDistributedLock(BACKEND, grant);
}
