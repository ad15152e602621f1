import { Checkpoint, Namespace, ThreadKey, withSessionLock } from '@entelix/core';
import { createMemoryPersistence } from '@entelix/memory';

const persistence = createMemoryPersistence();
const key = ThreadKey.of('acme', 'thread-1');

await withSessionLock(persistence.lock, key, async (lease) => {
  const checkpoints = persistence.checkpointer<{ step: string }>();
  await checkpoints.put(Checkpoint.create({ key, step: 0, state: { step: 'start' } }), {
    fence: lease,
  });
  await persistence.sessionLog<string>().append(key, ['started'], { fence: lease });
});

await persistence
  .store()
  .put(Namespace.of('acme', 'users', 'u1'), 'profile', { name: 'Ada' }, { ttlMs: 60_000 });

export {};
