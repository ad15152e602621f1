import { createRedisPersistence } from '@entelix/redis';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { describeWithService } from '../../../test-support/services.js';
import { indexEntryTests } from './index-entries.js';
import { deletePrefix } from './real-redis.js';
import { randomPrefix } from './support.js';

describeWithService('REDIS_URL', 'redis: malformed index entries', (url) => {
  let client: Redis;
  const prefixes: string[] = [];

  beforeAll(() => {
    client = new Redis(url);
  });
  afterAll(async () => {
    for (const keyPrefix of prefixes) await deletePrefix(client, keyPrefix);
    await client.quit();
  });

  indexEntryTests(() => {
    const keyPrefix = randomPrefix();
    prefixes.push(keyPrefix);
    return { client, keyPrefix, persistence: createRedisPersistence({ client, keyPrefix }) };
  }, true);
});
