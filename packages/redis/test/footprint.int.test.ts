import { createRedisPersistence } from '@entelix/redis';
import { type Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { describeWithService } from '../../../test-support/services.js';
import { footprintTests } from './footprint.js';
import { deletePrefix, keysUnderPrefix, openCluster } from './real-redis.js';
import { randomPrefix } from './support.js';

describeWithService('REDIS_URL', 'redis: what stays after everything is deleted', (url) => {
  let client: Redis;
  const prefixes: string[] = [];

  beforeAll(() => {
    client = new Redis(url);
  });
  afterAll(async () => {
    for (const keyPrefix of prefixes) await deletePrefix(client, keyPrefix);
    await client.quit();
  });

  footprintTests(() => {
    const keyPrefix = randomPrefix();
    prefixes.push(keyPrefix);
    return {
      persistence: createRedisPersistence({ client, keyPrefix }),
      keyPrefix,
      keys: () => keysUnderPrefix(client, keyPrefix),
    };
  });
});

describeWithService(
  'REDIS_CLUSTER_NODES',
  'redis on a Cluster: what stays after everything is deleted',
  (nodes) => {
    let client: Cluster;
    const prefixes: string[] = [];

    beforeAll(async () => {
      client = openCluster(nodes);
      await client.ping();
    });
    afterAll(async () => {
      for (const keyPrefix of prefixes) await deletePrefix(client, keyPrefix);
      await client.quit();
    });

    footprintTests(() => {
      const keyPrefix = randomPrefix();
      prefixes.push(keyPrefix);
      return {
        persistence: createRedisPersistence({ client, keyPrefix }),
        keyPrefix,
        keys: () => keysUnderPrefix(client, keyPrefix),
      };
    });
  },
);
