import { Checkpoint, Namespace, ThreadKey, withSessionLock } from '@entelix/core';
import { createPostgresPersistence } from '@entelix/postgres';

const persistence = await createPostgresPersistence(); // in-memory PGlite; or { pool }, { connectionString }
const checkpoints = persistence.checkpointer<{ messages: string[] }>();
const events = persistence.sessionLog<{ type: string }>();
const key = ThreadKey.of('acme', 'thread-1');

await withSessionLock(persistence.lock, key, async (lease) => {
  const latest = await checkpoints.getLatest(key);
  const messages = [...(latest?.state.messages ?? []), 'hello'];
  await checkpoints.put(
    Checkpoint.create({
      key,
      step: (latest?.step ?? -1) + 1,
      state: { messages },
      parentId: latest?.id,
    }),
    { fence: lease }, // rejected with FENCED if another worker took the lock meanwhile
  );
  await events.append(key, [{ type: 'message_added' }], { fence: lease });
});

await persistence
  .store()
  .put(Namespace.of('acme', 'users', 'u1'), 'tone', 'formal', { ttlMs: 86_400_000 });
console.log((await checkpoints.getLatest(key))?.state.messages); // ['hello']
await persistence.close();

export {};
