import { runConformance } from '@entelix/conformance';
import { createMemoryDatabase, createMemoryPersistence } from '@entelix/memory';

const database = createMemoryDatabase();

runConformance({
  name: 'memory',
  create: () => createMemoryPersistence({ database }),
});
