import { createRedisPersistence } from '@entelix/redis';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { describeWithService } from '../../../test-support/services.js';
import { filterTests } from './filters.js';
import { deletePrefix } from './real-redis.js';
import { randomPrefix } from './support.js';

describeWithService('REDIS_URL', 'filters evaluated in Lua (Redis, Lua 5.1)', (url) => {
  let client: Redis;
  const keyPrefix = randomPrefix();
  beforeAll(() => {
    client = new Redis(url);
  });
  afterAll(async () => {
    await deletePrefix(client, keyPrefix);
    await client.quit();
  });
  filterTests(() => ({
    persistence: createRedisPersistence({ client, keyPrefix }),
    client,
    keyPrefix,
  }));
});
