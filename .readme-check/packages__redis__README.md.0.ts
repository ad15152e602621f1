import { Redis } from 'ioredis';
import { Checkpoint, ThreadKey, withSessionLock } from '@entelix/core';
import { createRedisPersistence } from '@entelix/redis';

const client = new Redis(process.env.REDIS_URL!); // or new Redis.Cluster([...])
const persistence = createRedisPersistence({ client, keyPrefix: 'myapp' });
const key = ThreadKey.of('acme', 'thread-1');

await withSessionLock(persistence.lock, key, async (lease) => {
  const checkpointer = persistence.checkpointer<{ messages: string[] }>();
  const latest = await checkpointer.getLatest(key);
  const next = Checkpoint.create({ key, step: (latest?.step ?? -1) + 1, state: { messages: [] } });
  await checkpointer.put(next, { fence: lease });
});
await persistence.close(); // does not close `client`: it is yours

export {};
