import { runConformance } from '@entelix/conformance';
import { createMemoryDatabase, createMemoryPersistence } from '@entelix/memory';

// Your factory and storage here; the memory backend stands in for them.
const database = createMemoryDatabase();

runConformance({
  name: 'acme-kv',
  // Every call must reach the same storage: the suite opens two bundles per group and
  // expects writes through one to be visible through the other.
  create: () => createMemoryPersistence({ database }),
  // Optional: close a bundle from create(); defaults to persistence.close().
  destroy: (persistence) => persistence.close(),
  // Optional: a byte-exact dump of everything stored, compared around refused calls.
  snapshot: async () => JSON.stringify([...database.store.keys()]),
  // Optional: only to claim less than persistence.capabilities, never more.
  capabilities: { rls: false },
  // Optional: multiply TTLs and waits (about 150 ms) for a coarse clock.
  timeScale: 1,
});

export {};
