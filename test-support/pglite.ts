import { PGlite } from '@electric-sql/pglite';
import { applicationGrants } from './postgres-roles.js';

let pristine: Promise<Blob> | undefined;

/**
 * A new in-memory PGlite, empty as `PGlite.create()` makes it. The first one in a test
 * file runs initdb (seconds); the rest start from a copy of its data directory taken
 * before anything was written (about half a second), so a file can afford a fresh
 * database per test.
 */
export async function freshPGlite(): Promise<PGlite> {
  pristine ??= PGlite.create().then(async (template) => {
    try {
      return await template.dumpDataDir('none');
    } finally {
      await template.close();
    }
  });
  return PGlite.create({ loadDataDir: await pristine });
}

/** PGlite's application role: its default user is a superuser, which RLS never binds. */
export const PGLITE_APP_ROLE = 'entelix_app';

/**
 * `createPostgresPersistence`, from the package's source (its own tests) or its build
 * (every other suite): whichever the caller tests is the one that migrates.
 */
export type MigratingFactory<P = PGlite> = (options: {
  pglite: P;
  schema: string;
}) => Promise<{ close(): Promise<void> }>;

/**
 * A fresh PGlite, migrated in `schema` by its default (superuser, owning) role, then
 * switched for good to the NOLOGIN {@link PGLITE_APP_ROLE}, granted what the deploying
 * guide grants, so row-level security binds everything that follows.
 */
export async function freshPGliteAsAppRole(
  createPostgresPersistence: MigratingFactory,
  schema: string,
): Promise<PGlite> {
  return migrateAsAppRole(await freshPGlite(), createPostgresPersistence, schema);
}

/**
 * {@link freshPGliteAsAppRole} on a PGlite of any supported release, new: its default
 * role migrates, then the instance stays {@link PGLITE_APP_ROLE} for good.
 */
export async function migrateAsAppRole<P extends { exec(sql: string): Promise<unknown> }>(
  pglite: P,
  createPostgresPersistence: MigratingFactory<P>,
  schema: string,
): Promise<P> {
  await (await createPostgresPersistence({ pglite, schema })).close();
  await pglite.exec(`
    CREATE ROLE ${PGLITE_APP_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS;
    ${applicationGrants(schema, PGLITE_APP_ROLE)}
    SET ROLE ${PGLITE_APP_ROLE};`);
  return pglite;
}
