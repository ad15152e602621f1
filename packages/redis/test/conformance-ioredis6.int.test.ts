import { runConformance } from '@entelix/conformance';
import type { Persistence } from '@entelix/core';
import { createRedisPersistence, type RedisClient } from '@entelix/redis';
import { Redis } from 'ioredis';
import { Redis as Redis6 } from 'ioredis6';
import { afterAll, expect, it } from 'vitest';
import { describeWithService } from '../../../test-support/services.js';
import { isIoredisMock } from '../src/context.js';
import { deletePrefix } from './real-redis.js';
import { snapshotPrefix, snapshotTests } from './snapshot.js';
import { randomPrefix } from './support.js';

// The peer range takes ioredis 5 and 6; this lane runs the suite over ioredis 6
// clients (installed under the alias `ioredis6`), the other lanes over ioredis 5.
describeWithService('REDIS_URL', 'redis conformance over ioredis 6', (url) => {
  const keyPrefix = randomPrefix();
  const clients = new Map<Persistence, Redis6>();
  const inspector = new Redis(url);
  afterAll(() => inspector.quit());

  it('an ioredis 6 client is not taken for ioredis-mock, so it gets the server clock', async () => {
    const client = new Redis6(url);
    try {
      expect(isIoredisMock(client as unknown as RedisClient)).toBe(false);
    } finally {
      await client.quit();
    }
  });
  runConformance({
    name: 'redis (REDIS_URL, ioredis 6)',
    create() {
      // The options the bundle gives a client it creates from `url` (see the README).
      const client = new Redis6(url, {
        maxRetriesPerRequest: 0,
        autoResendUnfulfilledCommands: false,
        retryStrategy: (attempt: number) => Math.min(attempt * 50, 500),
      });
      // This package is typed against the ioredis its user installs; the repository's
      // own types are ioredis 5's, so an ioredis 6 client is cast here only.
      const persistence = createRedisPersistence({
        client: client as unknown as RedisClient,
        keyPrefix,
      });
      clients.set(persistence, client);
      return persistence;
    },
    async destroy(persistence) {
      await persistence.close();
      await clients.get(persistence)?.quit();
      clients.delete(persistence);
    },
    snapshot: () => snapshotPrefix(inspector, keyPrefix),
    extraTests: snapshotTests,
    async teardown() {
      await deletePrefix(inspector, keyPrefix);
    },
  });
});
