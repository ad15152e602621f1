import { runConformance } from '@entelix/conformance';
import { createRedisPersistence } from '@entelix/redis';
import { Redis } from 'ioredis';
import { afterAll } from 'vitest';
import { describeWithService } from '../../../test-support/services.js';
import { deletePrefix } from './real-redis.js';
import { snapshotPrefix, snapshotTests } from './snapshot.js';
import { randomPrefix } from './support.js';

describeWithService('REDIS_URL', 'redis conformance on a real server', (url) => {
  const keyPrefix = randomPrefix();
  // The snapshot's own connection, closed after the suite.
  const inspector = new Redis(url);
  afterAll(() => inspector.quit());
  runConformance({
    name: 'redis (REDIS_URL)',
    // Each bundle opens (and closes) its own connection, like a separate process.
    create: () => createRedisPersistence({ url, keyPrefix }),
    snapshot: () => snapshotPrefix(inspector, keyPrefix),
    extraTests: snapshotTests,
    async teardown() {
      const client = new Redis(url);
      try {
        await deletePrefix(client, keyPrefix);
      } finally {
        await client.quit();
      }
    },
  });
});
