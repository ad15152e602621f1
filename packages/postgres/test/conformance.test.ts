import type { PGlite } from '@electric-sql/pglite';
import { runConformance } from '@entelix/conformance';
import { createPostgresPersistence } from '../src/index.js';
import { createPGliteAsAppRole } from './pglite-support.js';
import { dumpSchema } from './snapshot.js';

// One PGlite for the whole lane, running as a non-superuser role so every test also
// runs under forced row-level security. Every bundle reaches the same database.
let pglite: Promise<PGlite> | undefined;

runConformance({
  name: 'postgres (PGlite)',
  async create() {
    pglite ??= createPGliteAsAppRole();
    return createPostgresPersistence({ pglite: await pglite, migrate: 'verify' });
  },
  // PGlite's session user is a superuser: become it for one transaction (SET LOCAL ends
  // with it), so the dump sees every tenant while nothing else can run in between.
  async snapshot() {
    pglite ??= createPGliteAsAppRole();
    return (await pglite).transaction(async (tx) => {
      await tx.query('SET LOCAL ROLE postgres');
      return dumpSchema((text, params) => tx.query(text, params), 'entelix');
    });
  },
  async teardown() {
    await (await pglite)?.close();
  },
});
