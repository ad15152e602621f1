import { describe } from 'vitest';
import { footprintTests } from './footprint.js';
import { keysUnderPrefix } from './real-redis.js';
import { mockClient, mockPersistence, randomPrefix } from './support.js';

describe('what stays after everything is deleted (ioredis-mock)', () => {
  footprintTests(() => {
    const client = mockClient();
    const keyPrefix = randomPrefix();
    return {
      persistence: mockPersistence(client, keyPrefix),
      keyPrefix,
      keys: () => keysUnderPrefix(client as never, keyPrefix),
    };
  });
});
