import type { PGlite } from '@electric-sql/pglite';
import { freshPGliteAsAppRole, PGLITE_APP_ROLE } from '../../../test-support/pglite.js';
import { createPostgresPersistence } from '../src/index.js';

export const APP_ROLE = PGLITE_APP_ROLE;

/**
 * An in-memory PGlite migrated in `schema` by this package's source, then bound by
 * row-level security as {@link APP_ROLE} for good.
 */
export function createPGliteAsAppRole(schema = 'entelix'): Promise<PGlite> {
  return freshPGliteAsAppRole(createPostgresPersistence, schema);
}
