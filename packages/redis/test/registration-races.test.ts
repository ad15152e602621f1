import { describe } from 'vitest';
import { keysUnderPrefix } from './real-redis.js';
import { registrationRaceTests } from './registration-races.js';
import { mockClient, mockPersistence, randomPrefix } from './support.js';

describe('store index registration races (ioredis-mock)', () => {
  registrationRaceTests(() => {
    const client = mockClient();
    const keyPrefix = randomPrefix();
    return {
      client,
      keyPrefix,
      persistence: (each) => mockPersistence(each, keyPrefix),
      keys: () => keysUnderPrefix(client as never, keyPrefix),
      fencedStoreWrites: true,
    };
  });
});
