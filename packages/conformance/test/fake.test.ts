import { runConformance } from '@entelix/conformance';
import { Namespace, ThreadKey } from '@entelix/core';
import { expect } from 'vitest';
import { createFakePersistence, createFakeStorage, snapshotFakeStorage } from './fake.js';

// The correct reference adapter must pass everything, so each mutant's failures come
// from its flaw alone.
const storage = createFakeStorage();
runConformance({
  name: 'reference adapter',
  create: () => createFakePersistence(storage),
  snapshot: async () => snapshotFakeStorage(storage),
  extraTests: ({ test }) => [
    test(
      'snapshot-sees-writes',
      'the snapshot changes with every kind of write, so comparing it proves something',
      async ({ a, snapshot }) => {
        const key = ThreadKey.of(`tenant-${crypto.randomUUID()}`, 'thread');
        const writes = [
          () => a.checkpointer().put(a.checkpointer().create({ key, step: 0, state: 1 })),
          () => a.store().put(Namespace.of(key.tenantId, 'scope'), 'k', 1),
          () => a.sessionLog().append(key, [1]),
          async () => (await a.lock.tryAcquire(key, { ttlMs: 10_000 }))?.release(),
        ];
        for (const write of writes) {
          const before = await snapshot?.();
          await write();
          expect(await snapshot?.()).not.toBe(before);
        }
      },
    ),
  ],
});
