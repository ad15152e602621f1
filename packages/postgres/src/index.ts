import { type Capabilities, ConfigError, type Persistence } from '@entelix/core';
import { createPersistence, describeValue } from '@entelix/core/adapter';
import { openDatabase, type PostgresConnectionOptions } from './connection.js';
import type { PostgresContext } from './context.js';
import { rowSecurityInForce } from './doctor.js';
import { createPostgresDriver } from './driver.js';
import {
  applyMigrations,
  DEFAULT_SCHEMA,
  quoteSchema,
  verifySchemaVersion,
} from './migrations/index.js';
import { BACKEND, translateError } from './queryable.js';
import { keptTableUpkeep } from './upkeep.js';

export type { PostgresConnectionOptions } from './connection.js';
export {
  checkPostgresDeployment,
  type DoctorCheck,
  type DoctorFinding,
  type DoctorReport,
} from './doctor.js';
export {
  LATEST_SCHEMA_VERSION,
  type MigrationResult,
  type RenderMigrationOptions,
  renderMigrationSql,
} from './migrations/index.js';
export type { PGliteLike, PGliteQueryLike, PgPoolClientLike, PgPoolLike } from './queryable.js';

/** Options of {@link createPostgresPersistence}. */
export interface PostgresPersistenceOptions extends PostgresConnectionOptions {
  /**
   * `auto` (default) applies pending migrations at start-up (safe when many processes
   * start at once); `verify` fails with `SCHEMA_VERSION_MISMATCH` unless the schema is
   * exactly up to date; `off` checks nothing.
   */
  migrate?: 'auto' | 'verify' | 'off';
}

/**
 * Open the persistence bundle on Postgres (through `pg`) or PGlite.
 *
 * Every table is tenant-isolated by forced row-level security; each operation is one
 * SQL function call that sets the tenant for its own transaction only.
 *
 * @example
 * ```ts
 * import pg from 'pg';
 * import { ThreadKey } from '@entelix/core';
 * import { createPostgresPersistence } from '@entelix/postgres';
 *
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
 * // Idle connections the server ends (a restart, a failover) are reported here.
 * pool.on('error', (error) => console.warn(`idle Postgres connection lost: ${error.message}`));
 * const persistence = await createPostgresPersistence({ pool, migrate: 'verify' });
 * const log = persistence.sessionLog<{ type: string }>();
 * await log.append(ThreadKey.of('acme', 'thread-1'), [{ type: 'user-message' }]);
 * await persistence.close(); // the pool is yours: end it yourself
 * await pool.end();
 * ```
 *
 * @example
 * ```ts
 * // No options: an in-memory PGlite, created, migrated and closed by the bundle.
 * const persistence = await createPostgresPersistence();
 * ```
 */
export async function createPostgresPersistence(
  options?: PostgresPersistenceOptions,
): Promise<Persistence> {
  if (
    options !== undefined &&
    (typeof options !== 'object' || options === null || Array.isArray(options))
  ) {
    throw new ConfigError(`options must be an object, got ${describeValue(options)}`, {
      backend: BACKEND,
    });
  }
  const opts: PostgresPersistenceOptions = options ?? {};
  const migrate = opts.migrate ?? 'auto';
  if (migrate !== 'auto' && migrate !== 'verify' && migrate !== 'off') {
    throw new ConfigError(
      `migrate must be 'auto', 'verify' or 'off', got ${describeValue(migrate)}`,
      { backend: BACKEND },
    );
  }
  const schemaName = opts.schema ?? DEFAULT_SCHEMA;
  const schema = quoteSchema(schemaName);
  const db = await openDatabase(opts);

  let rls: boolean;
  try {
    if (migrate === 'auto') await applyMigrations(db, schemaName);
    else if (migrate === 'verify') await verifySchemaVersion(db, schemaName);
    // Once, for the role this bundle connects as: a superuser, a BYPASSRLS role or the
    // owner of a table that is not forced reads every tenant with plain SQL.
    rls = await rowSecurityInForce(db, schemaName);
  } catch (error) {
    await db.close().catch(() => {
      // The start-up error is what the caller needs to see.
    });
    throw error;
  }

  // PGlite has no autovacuum: the bundle analyzes and vacuums its tables itself.
  const upkeep = db.driver === 'pglite' ? keptTableUpkeep(db, schema) : undefined;
  await upkeep?.opened();
  const context: PostgresContext = { db, schema, upkeep };
  const capabilities: Capabilities = {
    multiProcess: db.driver === 'pg',
    rls,
    ttl: true,
    fencing: true,
  };
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= db.close().catch((error: unknown) => {
      throw translateError(error, 'close');
    });
    return closing;
  };
  return createPersistence(createPostgresDriver(context, capabilities, close));
}
