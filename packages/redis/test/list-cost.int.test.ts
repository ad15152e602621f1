import { Namespace } from '@entelix/core';
import { createRedisPersistence } from '@entelix/redis';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithService } from '../../../test-support/services.js';
import { freePort, RedisServerProcess } from './redis-server.js';
import { randomId, randomPrefix } from './support.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// A throwaway redis-server of its own, so that its command statistics count this test's
// commands only: a script's commands are counted one by one, as if a client sent them.
describeWithService('REDIS_URL', 'redis store list beside expired, unswept items', () => {
  let server: RedisServerProcess;
  let client: Redis;

  beforeAll(async () => {
    server = new RedisServerProcess(await freePort(6420));
    await server.start();
    client = new Redis(server.url);
  });
  afterAll(async () => {
    client?.disconnect();
    await server?.stop();
  });

  /** How many commands Redis ran for `call`, scripts' own commands included. */
  async function commandsRunBy(call: () => Promise<unknown>): Promise<number> {
    await client.config('RESETSTAT');
    await call();
    const stats = await client.info('commandstats');
    let total = 0;
    for (const [, name, calls] of stats.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
      if (name !== 'config' && name !== 'info') total += Number(calls);
    }
    return total;
  }

  it('costs the same number of commands beside 1,000 or 20,000 expired items', async () => {
    const persistence = createRedisPersistence({ client, keyPrefix: randomPrefix() });
    const store = persistence.store<number>();
    const live = ['m-0', 'm-1', 'm-2', 'm-3', 'm-4'];
    const costs: number[][] = [];
    const namespaces: Namespace[] = [];
    for (const expired of [1_000, 20_000]) {
      const namespace = Namespace.of(randomId('tenant'), 'notes');
      namespaces.push(namespace);
      for (const key of live) await store.put(namespace, key, 1);
      // Half the expired keys sort before the live ones, half after.
      const puts: Promise<void>[] = [];
      for (let i = 0; i < expired / 2; i++) {
        const suffix = String(i).padStart(6, '0');
        puts.push(store.put(namespace, `a-${suffix}`, 0, { ttlMs: 1 }));
        puts.push(store.put(namespace, `z-${suffix}`, 0, { ttlMs: 1 }));
      }
      await Promise.all(puts);
      await sleep(10);
      const counts: number[] = [];
      for (let call = 0; call < 3; call++) {
        let page: string[] = [];
        counts.push(
          await commandsRunBy(async () => (page = await store.list(namespace, { limit: 5 }))),
        );
        expect(page).toEqual(live);
      }
      expect(
        await commandsRunBy(async () => {
          expect(await store.list(namespace, { limit: 2, after: 'm-2' })).toEqual(['m-3', 'm-4']);
        }),
      ).toBeLessThanOrEqual(8);
      costs.push(counts);
    }
    // After the first call, which walks past (and removes) the expired keys in front of
    // the page, a call costs a few commands however many expired items the namespace has.
    const [small, large] = costs as [number[], number[]];
    expect(large.slice(1)).toEqual(small.slice(1));
    for (const count of large.slice(1)) expect(count).toBeLessThanOrEqual(8);
    // What list passed over is gone from the key index; what lies after the page is left
    // for evictExpired.
    for (const [i, namespace] of namespaces.entries()) {
      expect(await store.evictExpired(namespace.tenantId)).toBe([1_000, 20_000][i]! / 2);
      expect(await store.list(namespace)).toEqual(live);
    }
  });
});
