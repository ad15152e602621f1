import { createRedisPersistence } from '@entelix/redis';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { describeWithService } from '../../../test-support/services.js';
import { deletePrefix } from './real-redis.js';
import { storeExpiryTests } from './store-expiry.js';
import { randomPrefix } from './support.js';

describeWithService('REDIS_URL', 'redis store records with a TTL (server clock)', (url) => {
  const keyPrefix = randomPrefix();
  let client: Redis;

  beforeAll(() => {
    client = new Redis(url);
  });
  afterAll(async () => {
    await deletePrefix(client, keyPrefix);
    await client.quit();
  });

  storeExpiryTests(() => ({
    persistence: createRedisPersistence({ client, keyPrefix }),
    client,
    keyPrefix,
  }));
});
