import { ThreadKey } from '@entelix/core';
import { createRedisPersistence } from '@entelix/redis';
import { Redis } from 'ioredis';
import { afterAll, expect, it } from 'vitest';
import { describeWithService } from '../../../test-support/services.js';
import { deletePrefix } from './real-redis.js';
import { randomId, randomPrefix } from './support.js';

describeWithService('REDIS_URL', 'redis with many connections', (url) => {
  const keyPrefix = randomPrefix();

  afterAll(async () => {
    const client = new Redis(url);
    await deletePrefix(client, keyPrefix);
    await client.quit();
  });

  function openBundles(count: number) {
    return Array.from({ length: count }, () => createRedisPersistence({ url, keyPrefix }));
  }

  it('8 connections x 50 appends give the ordinals 1..400 exactly once', async () => {
    const key = ThreadKey.of(randomId('tenant'), randomId('thread'));
    const bundles = openBundles(8);
    try {
      const heads = await Promise.all(
        bundles.map(async (bundle, writer) => {
          const log = bundle.sessionLog<{ writer: number; n: number }>();
          const returned: number[] = [];
          for (let n = 0; n < 50; n++) returned.push(await log.append(key, [{ writer, n }]));
          return returned;
        }),
      );
      const events = await bundles[0]!
        .sessionLog<{ writer: number; n: number }>()
        .loadSince(key, 0);
      const expected = Array.from({ length: 400 }, (_, i) => i + 1);
      expect(events.map((e) => e.seq)).toEqual(expected);
      expect(heads.flat().sort((x, y) => x - y)).toEqual(expected);
      // Each writer's events keep their own order.
      for (let writer = 0; writer < 8; writer++) {
        const mine = events.filter((e) => e.event.writer === writer).map((e) => e.event.n);
        expect(mine).toEqual(Array.from({ length: 50 }, (_, n) => n));
      }
      expect(await bundles[0]!.sessionLog().head(key)).toBe(400);
    } finally {
      await Promise.all(bundles.map((bundle) => bundle.close()));
    }
  });

  it('20 connections racing for one lock get exactly one lease', async () => {
    const key = ThreadKey.of(randomId('tenant'), randomId('thread'));
    const bundles = openBundles(20);
    try {
      await Promise.all(bundles.map((bundle) => bundle.sessionLog().head(key)));
      const leases = await Promise.all(
        bundles.map((bundle) => bundle.lock.tryAcquire(key, { ttlMs: 10_000 })),
      );
      const granted = leases.filter((lease) => lease !== undefined);
      expect(granted).toHaveLength(1);
      await granted[0]!.release();
      const next = await bundles[1]!.lock.tryAcquire(key, { ttlMs: 10_000 });
      expect(next?.fence).toBeGreaterThan(granted[0]!.fence);
      await next?.release();
    } finally {
      await Promise.all(bundles.map((bundle) => bundle.close()));
    }
  });
});
