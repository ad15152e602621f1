import { describe } from 'vitest';
import { filterTests } from './filters.js';
import { mockClient, mockPersistence, randomPrefix } from './support.js';

describe('filters evaluated in Lua (ioredis-mock, Lua 5.3)', () => {
  filterTests(() => {
    const client = mockClient();
    const keyPrefix = randomPrefix();
    return { persistence: mockPersistence(client, keyPrefix), client, keyPrefix };
  });
});
