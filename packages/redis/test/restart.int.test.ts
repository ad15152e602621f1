import { Checkpoint, EntelixError, type LockLease, ThreadKey } from '@entelix/core';
import { createRedisPersistence } from '@entelix/redis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithService } from '../../../test-support/services.js';
import { freePort, RedisServerProcess } from './redis-server.js';
import { randomId, randomPrefix } from './support.js';

/** Retry `call` while it fails with BACKEND (the server is still coming back). */
async function once<T>(call: () => Promise<T>, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await call();
    } catch (error) {
      if (!EntelixError.isInstance(error) || error.code !== 'BACKEND' || Date.now() > deadline) {
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

// A throwaway redis-server without persistence (`--save "" --appendonly no`), killed and
// started again: everything it held is gone, as after a crash of such a server.
describeWithService('REDIS_URL', 'redis restarted without persistence', () => {
  let server: RedisServerProcess;

  beforeAll(async () => {
    server = new RedisServerProcess(await freePort(6390));
    await server.start();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('a lease granted before a restart that lost the data never passes fencing beside a new holder', async () => {
    await server.start();
    const persistence = createRedisPersistence({ url: server.url, keyPrefix: randomPrefix() });
    try {
      const key = ThreadKey.of(randomId('tenant'), randomId('thread'));
      const checkpointer = persistence.checkpointer<string>();
      const log = persistence.sessionLog<string>();
      const leases: LockLease[] = [];
      for (let restart = 0; restart < 3; restart++) {
        const lease = await once(() => persistence.lock.tryAcquire(key, { ttlMs: 60_000 }));
        if (lease === undefined) throw new Error('the restarted server still held a lease');
        leases.push(lease);
        await server.kill();
        await server.start();
      }
      const current = await once(() => persistence.lock.tryAcquire(key, { ttlMs: 60_000 }));
      if (current === undefined) throw new Error('lock not granted');
      for (const [i, stale] of leases.entries()) {
        expect(current.fence > stale.fence, `fence after restart ${i + 1}`).toBe(true);
        if (i > 0) expect(stale.fence > leases[i - 1]!.fence).toBe(true);
        await expect(
          checkpointer.put(Checkpoint.create({ key, step: 0, state: 'stale' }), { fence: stale }),
        ).rejects.toMatchObject({ code: 'FENCED' });
        await expect(log.append(key, ['stale'], { fence: stale })).rejects.toMatchObject({
          code: 'FENCED',
        });
      }
      const checkpoint = Checkpoint.create({ key, step: 0, state: 'current' });
      await checkpointer.put(checkpoint, { fence: current });
      expect(await log.append(key, ['current'], { fence: current })).toBe(1);
      expect((await checkpointer.getLatest(key))?.id).toBe(checkpoint.id);
      await current.release();
      // Released and granted again at once: still a larger fence.
      const next = await persistence.lock.tryAcquire(key, { ttlMs: 60_000 });
      expect((next?.fence ?? 0n) > current.fence).toBe(true);
      await next?.release();
    } finally {
      await persistence.close();
    }
  });
});
