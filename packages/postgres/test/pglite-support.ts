import type { PGlite } from '@electric-sql/pglite';
import { freshPGlite } from '../../../test-support/pglite.js';
import { applicationGrants } from '../../../test-support/postgres-roles.js';
import { createPostgresPersistence } from '../src/index.js';

/** A non-superuser role: PGlite's default user is a superuser, which RLS never binds. */
export const APP_ROLE = 'entelix_app';

/**
 * An in-memory PGlite, migrated in `schema` by the default (superuser, owning) role,
 * then switched for good to a NOLOGIN application role so row-level security is
 * really enforced on everything that follows.
 */
export async function createPGliteAsAppRole(schema = 'entelix'): Promise<PGlite> {
  const pglite = await freshPGlite();
  const owner = await createPostgresPersistence({ pglite, schema });
  await owner.close();
  await pglite.exec(`
    CREATE ROLE ${APP_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS;
    ${applicationGrants(schema, APP_ROLE)}
    SET ROLE ${APP_ROLE};
  `);
  return pglite;
}
