import { runConformance } from '@entelix/conformance';
import { createInMemoryKeyValueClient, createKeyValuePersistence } from '../src/index.js';

// One client shared by every bundle the suite opens: they see each other's writes,
// as two handles on one storage should.
const client = createInMemoryKeyValueClient();

runConformance({
  name: 'custom key/value adapter',
  create: () => createKeyValuePersistence({ client }),
  // Every key and value, in key order: the suite compares it around refused calls to
  // prove they changed nothing at all.
  snapshot: async () => JSON.stringify([...client.keys('')].map((key) => [key, client.get(key)])),
});
