import { runConformance } from '@entelix/conformance';
import { createRedisPersistence } from '@entelix/redis';
import { snapshotPrefix, snapshotTests } from './snapshot.js';
import { mockClient, randomPrefix } from './support.js';

// ioredis-mock instances with the same host and port share their data, so every
// bundle created here sees the same "server", like separate processes would.
const keyPrefix = randomPrefix();

runConformance({
  name: 'redis (ioredis-mock)',
  // Default options, as the README recommends for tests on the mock.
  create: () => createRedisPersistence({ client: mockClient(), keyPrefix }),
  snapshot: () => snapshotPrefix(mockClient(), keyPrefix),
  extraTests: snapshotTests,
});
