import { createRedisPersistence } from '@entelix/redis';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { describeWithService } from '../../../test-support/services.js';
import { limitTests } from './limits.js';
import { deletePrefix } from './real-redis.js';
import { randomPrefix } from './support.js';

describeWithService('REDIS_URL', 'redis page and batch sizes beyond Lua limits', (url) => {
  const keyPrefix = randomPrefix();
  let client: Redis;

  beforeAll(() => {
    client = new Redis(url);
  });
  afterAll(async () => {
    await deletePrefix(client, keyPrefix);
    await client.quit();
  });

  limitTests(() => createRedisPersistence({ client, keyPrefix }), {
    checkpoints: 10_000,
    events: 100_000,
    writes: 20_000,
  });
});
