import { runConformance } from '@entelix/conformance';
import type { Persistence } from '@entelix/core';
import { createRedisPersistence } from '@entelix/redis';
import type { Cluster } from 'ioredis';
import { describeWithService } from '../../../test-support/services.js';
import { deletePrefix, openCluster } from './real-redis.js';
import { randomPrefix } from './support.js';

describeWithService('REDIS_CLUSTER_NODES', 'redis conformance on a Redis Cluster', (nodes) => {
  const keyPrefix = randomPrefix();
  const clients = new Map<Persistence, Cluster>();
  runConformance({
    name: 'redis (Redis Cluster)',
    skip: {
      // On a Cluster a fenced write is checked atomically only when the lease's fence
      // counter shares the write's slot (checkpoints and session log fenced by a lease
      // on the same thread); a fenced store write is refused with CONFIG rather than
      // checked non-atomically. cluster.int.test.ts covers the refusal.
      'lock/fenced-store-writes': 'store writes cannot be fenced atomically across Cluster slots',
      'lock/fenced-other-thread':
        "a lease's fence counter is in its own thread's slot, so a write to another thread is refused with CONFIG",
    },
    create() {
      const client = openCluster(nodes);
      const persistence = createRedisPersistence({ client, keyPrefix });
      clients.set(persistence, client);
      return persistence;
    },
    async destroy(persistence) {
      await persistence.close();
      await clients.get(persistence)?.quit();
      clients.delete(persistence);
    },
    async teardown() {
      const client = openCluster(nodes);
      try {
        await deletePrefix(client, keyPrefix);
      } finally {
        await client.quit();
      }
    },
  });
});
