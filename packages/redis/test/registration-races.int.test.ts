import { createRedisPersistence } from '@entelix/redis';
import { type Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { describeWithService } from '../../../test-support/services.js';
import { deletePrefix, keysUnderPrefix, openCluster } from './real-redis.js';
import { registrationRaceTests } from './registration-races.js';
import { randomPrefix } from './support.js';

describeWithService('REDIS_URL', 'redis store index registration races', (url) => {
  let client: Redis;
  const prefixes: string[] = [];

  beforeAll(() => {
    client = new Redis(url);
  });
  afterAll(async () => {
    for (const keyPrefix of prefixes) await deletePrefix(client, keyPrefix);
    await client.quit();
  });

  registrationRaceTests(() => {
    const keyPrefix = randomPrefix();
    prefixes.push(keyPrefix);
    return {
      client,
      keyPrefix,
      persistence: (each) => createRedisPersistence({ client: each, keyPrefix }),
      keys: () => keysUnderPrefix(client, keyPrefix),
      fencedStoreWrites: true,
    };
  });
});

// On a Cluster the index of tenants, a tenant's namespace index and a namespace's items
// are in different slots, usually on different nodes.
describeWithService(
  'REDIS_CLUSTER_NODES',
  'redis on a Cluster: store index registration races',
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

    registrationRaceTests(() => {
      const keyPrefix = randomPrefix();
      prefixes.push(keyPrefix);
      return {
        client,
        keyPrefix,
        persistence: (each) => createRedisPersistence({ client: each, keyPrefix }),
        keys: () => keysUnderPrefix(client, keyPrefix),
        fencedStoreWrites: false,
      };
    });
  },
);
