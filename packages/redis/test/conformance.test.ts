import { runConformance } from '@entelix/conformance';
import type { Persistence } from '@entelix/core';
import { createRedisPersistence, type RedisClient } from '@entelix/redis';
import { afterAll } from 'vitest';
import { snapshotPrefix, snapshotTests } from './snapshot.js';
import { mockClient, randomPrefix } from './support.js';

// ioredis-mock instances with the same host and port share their data, so every
// bundle created here sees the same "server", like separate processes would.
const keyPrefix = randomPrefix();
// The snapshot's own client, and each bundle's, disconnected when done with: a mock
// client stays subscribed to the shared data's changes until it disconnects.
const inspector = mockClient();
afterAll(() => inspector.disconnect());
const clientOf = new WeakMap<Persistence, RedisClient>();

runConformance({
  name: 'redis (ioredis-mock)',
  // Default options, as the README recommends for tests on the mock.
  create: () => {
    const client = mockClient();
    const persistence = createRedisPersistence({ client, keyPrefix });
    clientOf.set(persistence, client);
    return persistence;
  },
  async destroy(persistence) {
    await persistence.close();
    clientOf.get(persistence)?.disconnect();
  },
  snapshot: () => snapshotPrefix(inspector, keyPrefix),
  skip: {
    'hostile-input/prototype-names':
      'ioredis-mock keeps a hash in a plain object, so HGET of a field named like an Object.prototype member returns that member (redis.test.ts pins it); real Redis passes this test on every other lane',
  },
  extraTests: snapshotTests,
});
