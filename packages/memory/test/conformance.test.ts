import { runConformance } from '@entelix/conformance';
import { createMemoryDatabase, createMemoryPersistence } from '@entelix/memory';

const database = createMemoryDatabase();

runConformance({
  name: 'memory',
  create: () => createMemoryPersistence({ database }),
  // Every map of the database, rendered deterministically, so a refused call provably changed nothing.
  snapshot: async () =>
    JSON.stringify(database, (_key, value) => {
      if (value instanceof Map) return [...value.entries()];
      if (typeof value === 'bigint') return `${value}n`;
      return value;
    }),
});
