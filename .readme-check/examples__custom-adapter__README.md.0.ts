import { Checkpoint, Namespace, ThreadKey, withSessionLock } from '@entelix/core';
import {
  createInMemoryKeyValueClient,
  createKeyValuePersistence,
} from '@entelix/example-custom-adapter';

const persistence = createKeyValuePersistence({ client: createInMemoryKeyValueClient() });
const key = ThreadKey.of('acme', 'thread-1');

await withSessionLock(persistence.lock, key, async (lease) => {
  const checkpointer = persistence.checkpointer<{ messages: string[] }>();
  await checkpointer.put(Checkpoint.create({ key, step: 0, state: { messages: ['hi'] } }), {
    fence: lease,
  });
  await persistence.sessionLog<string>().append(key, ['user said hi'], { fence: lease });
});

const memory = persistence.store<string>();
await memory.put(Namespace.of('acme', 'users', 'ada'), 'tone', 'brief', { ttlMs: 60_000 });
console.log(await memory.list(Namespace.of('acme', 'users', 'ada'))); // ['tone']

export {};
