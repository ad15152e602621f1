import { runConformance } from '@entelix/conformance';
import { PGlite as PGlite05 } from 'pglite05';
import { expect, it } from 'vitest';
import { migrateAsAppRole } from '../../../test-support/pglite.js';
import { createPostgresPersistence } from '../src/index.js';
import { dumpSchema } from './snapshot.js';

// The peer range takes PGlite 0.5 (PostgreSQL 18) and 0.6 (PostgreSQL 19); this lane
// runs the suite on PGlite 0.5 (installed under the alias `pglite05`), the other PGlite
// lanes on 0.6. As there, one database for the lane, bound by row-level security.
let pglite: Promise<PGlite05> | undefined;

function pgliteAsAppRole(): Promise<PGlite05> {
  pglite ??= PGlite05.create().then((db) =>
    migrateAsAppRole(db, createPostgresPersistence, 'entelix'),
  );
  return pglite;
}

it('the lane runs on PGlite 0.5, PostgreSQL 18', async () => {
  const { rows } = await (await pgliteAsAppRole()).query<{ version: string }>('SELECT version()');
  expect(rows[0]?.version).toMatch(/^PostgreSQL 18\.\d+ \(PGlite 0\.5\.\d+\)/);
});

runConformance({
  name: 'postgres (PGlite 0.5)',
  async create() {
    return createPostgresPersistence({ pglite: await pgliteAsAppRole(), migrate: 'verify' });
  },
  async snapshot() {
    return (await pgliteAsAppRole()).transaction(async (tx) => {
      await tx.query('SET LOCAL ROLE postgres');
      return dumpSchema((text, params) => tx.query(text, params), 'entelix');
    });
  },
  async teardown() {
    await (await pglite)?.close();
  },
});
