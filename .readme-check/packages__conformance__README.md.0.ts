import type { Persistence } from '@entelix/core';
import { runConformance } from '@entelix/conformance';
import { createMemoryDatabase, createMemoryPersistence } from '@entelix/memory';

// Replace with your own factory; here the memory backend stands in for it.
const database = createMemoryDatabase();
const createMyPersistence = async (): Promise<Persistence> => createMemoryPersistence({ database });

runConformance({
  name: 'my-backend',
  create: createMyPersistence,
  // Optional: close what create() opened (defaults to persistence.close()).
  destroy: (persistence) => persistence.close(),
  // Optional: runs once after the suite, e.g. to drop a test schema.
  teardown: async () => {},
  // Optional: skip a test by id, with a reason that shows in the title and the report.
  skip: {},
});

export {};
