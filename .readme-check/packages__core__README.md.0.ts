import {
  Checkpoint,
  ConflictError,
  EntelixError,
  Namespace,
  ThreadKey,
  type Persistence,
  withSessionLock,
} from '@entelix/core';

declare const persistence: Persistence;

const key = ThreadKey.of('acme', 'thread-1'); // throws INVALID_ID for '' or bad ids
const ns = Namespace.of('acme', 'users', 'u:1');
console.log(Namespace.parse(ns.render()).scope); // ['users', 'u:1']

try {
  await withSessionLock(persistence.lock, key, async (lease) => {
    await persistence
      .checkpointer()
      .put(Checkpoint.create({ key, step: 0, state: {} }), { fence: lease });
  });
} catch (error) {
  if (ConflictError.isInstance(error)) console.log('already written');
  else if (EntelixError.isInstance(error)) console.log(error.code);
  else throw error;
}

export {};
