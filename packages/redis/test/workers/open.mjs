// Opener for test-support/workers/worker.mjs: the bundle from the published entry,
// with its own client under the job's key prefix.
import { createRedisPersistence } from '@entelix/redis';

export async function open(job) {
  const persistence = createRedisPersistence({ url: job.url, keyPrefix: job.keyPrefix });
  return { persistence, close: () => persistence.close() };
}
