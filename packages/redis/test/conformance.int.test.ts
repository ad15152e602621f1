import { runConformance } from '@entelix/conformance';
import { createRedisPersistence } from '@entelix/redis';
import { Redis } from 'ioredis';
import { describeWithService } from '../../../test-support/services.js';
import { deletePrefix } from './real-redis.js';
import { randomPrefix } from './support.js';

describeWithService('REDIS_URL', 'redis conformance on a real server', (url) => {
  const keyPrefix = randomPrefix();
  runConformance({
    name: 'redis (REDIS_URL)',
    // Each bundle opens (and closes) its own connection, like a separate process.
    create: () => createRedisPersistence({ url, keyPrefix }),
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
