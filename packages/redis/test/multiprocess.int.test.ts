import type { Persistence, ThreadKey } from '@entelix/core';
import { createRedisPersistence } from '@entelix/redis';
import { Redis } from 'ioredis';
import { afterAll } from 'vitest';
import { describeWithService } from '../../../test-support/services.js';
import { multiProcessTests } from '../../../test-support/workers/multiprocess-tests.js';
import type { WorkerJob } from '../../../test-support/workers/processes.js';
import { deletePrefix } from './real-redis.js';
import { randomPrefix } from './support.js';

const OPENER = new URL('./workers/open.mjs', import.meta.url).href;

// Separate OS processes (child_process.fork of workers/worker.mjs, which imports the
// published entry from dist), each with its own connection, under a fresh key prefix
// deleted afterwards.
describeWithService('REDIS_URL', 'redis across processes', (url) => {
  const keyPrefix = randomPrefix();
  const persistence: Persistence = createRedisPersistence({ url, keyPrefix });

  afterAll(async () => {
    await persistence.close();
    const client = new Redis(url);
    await deletePrefix(client, keyPrefix);
    await client.quit();
  });

  const jobFor = (name: WorkerJob['name'], key: ThreadKey, extra: object = {}): WorkerJob => ({
    name,
    opener: OPENER,
    url,
    keyPrefix,
    tenantId: key.tenantId,
    threadId: key.threadId,
    ...extra,
  });

  multiProcessTests({ persistence: () => persistence, jobFor });
});
