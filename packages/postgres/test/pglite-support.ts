import { PGlite } from '@electric-sql/pglite';
import { createPostgresPersistence } from '../src/index.js';

/** A non-superuser role: PGlite's default user is a superuser, which RLS never binds. */
export const APP_ROLE = 'entelix_app';

/**
 * An in-memory PGlite, migrated in `schema` by the default (superuser, owning) role,
 * then switched for good to a NOLOGIN application role so row-level security is
 * really enforced on everything that follows.
 */
export async function createPGliteAsAppRole(schema = 'entelix'): Promise<PGlite> {
  const pglite = await PGlite.create();
  const owner = await createPostgresPersistence({ pglite, schema });
  await owner.close();
  await pglite.exec(`
    CREATE ROLE ${APP_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS;
    GRANT USAGE ON SCHEMA "${schema}" TO ${APP_ROLE};
    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "${schema}" TO ${APP_ROLE};
    GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA "${schema}" TO ${APP_ROLE};
    SET ROLE ${APP_ROLE};
  `);
  return pglite;
}
