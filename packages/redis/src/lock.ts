import { CorruptRecordError, type ThreadKey } from '@entelix/core';
import type { LockDriver } from '@entelix/core/adapter';
import { BACKEND, command, isNilReply, type RedisContext, run } from './context.js';
import { encodeThreadMember } from './keys.js';
import { LOCK_EXTEND, LOCK_RELEASE, LOCK_TRY_ACQUIRE } from './scripts/lock.js';
import { ScriptStatus } from './scripts/lua.js';

/**
 * One lease key per thread that expires by the server's clock (`PX`), and a fence
 * counter beside it that is never deleted; a fence is also never below the server's
 * time in microseconds, so every grant gets a larger fence, also after a restart that
 * lost the counter (see scripts/lock.ts). A thread is listed in its tenant's lock
 * index before its counter is first written, so `purgeTenant` finds every counter.
 */
export function createRedisLock(context: RedisContext): LockDriver {
  const tryGrant = (key: ThreadKey, ttlMs: number, registered: boolean) => {
    const keys = context.keys.lock(key);
    return run(
      context,
      LOCK_TRY_ACQUIRE,
      2,
      [keys.lease, keys.fence, ttlMs, registered ? 'registered' : ''],
      'tryAcquire',
    );
  };

  return {
    async grant(key, ttlMs) {
      let fence = await tryGrant(key, ttlMs, false);
      if (fence === ScriptStatus.NEEDS_REGISTRATION) {
        const index = context.keys.tenantThreads(key.tenantId).lockThreads;
        const member = encodeThreadMember(key.threadId);
        await command(context, 'tryAcquire', () => context.client.zadd(index, 0, member));
        fence = await tryGrant(key, ttlMs, true);
      }
      if (isNilReply(fence)) return undefined;
      if (typeof fence !== 'string' || !/^[1-9]\d*$/.test(fence)) {
        throw new CorruptRecordError('stored lock fence is not a positive integer', {
          backend: BACKEND,
        });
      }
      return BigInt(fence);
    },
    async extend(key, fence, ttlMs) {
      const lease = context.keys.lock(key).lease;
      const result = await run(context, LOCK_EXTEND, 1, [lease, fence.toString(), ttlMs], 'extend');
      return result === 1;
    },
    async release(key, fence) {
      const lease = context.keys.lock(key).lease;
      const result = await run(context, LOCK_RELEASE, 1, [lease, fence.toString()], 'release');
      return result === 1;
    },
  };
}
