import { describe } from 'vitest';
import { indexEntryTests } from './index-entries.js';
import { mockClient, mockPersistence, randomPrefix } from './support.js';

describe('malformed index entries (ioredis-mock)', () => {
  indexEntryTests(() => {
    const client = mockClient();
    const keyPrefix = randomPrefix();
    return { client, keyPrefix, persistence: mockPersistence(client, keyPrefix) };
  }, false);
});
