import type { PGlite } from '@electric-sql/pglite';
import { runConformance } from '@entelix/conformance';
import { createPostgresPersistence } from '../src/index.js';
import { createPGliteAsAppRole } from './pglite-support.js';

// One PGlite for the whole lane, running as a non-superuser role so every test also
// runs under forced row-level security. Every bundle reaches the same database.
let pglite: Promise<PGlite> | undefined;

runConformance({
  name: 'postgres (PGlite)',
  async create() {
    pglite ??= createPGliteAsAppRole();
    return createPostgresPersistence({ pglite: await pglite, migrate: 'verify' });
  },
  async teardown() {
    await (await pglite)?.close();
  },
});
