import { ConfigError, SchemaVersionMismatchError } from '@entelix/core';
import { describeValue } from '@entelix/core/adapter';
import {
  BACKEND,
  type Database,
  type Queryable,
  toSafeInteger,
  translateError,
} from '../queryable.js';
import { initialMigration } from './001-initial.js';
import { executeRightsMigration } from './002-execute-rights.js';
import { runtimePrimitivesMigration } from './003-runtime-primitives.js';
import { putWithWritesMigration } from './004-put-with-writes.js';
import { searchPlanMigration } from './005-search-plan.js';
import { valueEscapesMigration } from './006-value-escapes.js';
import { nullOperandsMigration } from './007-null-operands.js';
import { erasureMovesHeadsMigration } from './008-erasure-moves-heads.js';
import { threadListingPlanMigration } from './009-thread-listing-plan.js';
import { searchTokensMigration } from './010-search-tokens.js';

/** One numbered schema change. `sql` receives the quoted schema name. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  sql(quotedSchema: string): string;
}

/**
 * Every migration, in order. Versions are 1, 2, 3... with no gaps.
 *
 * A released migration never changes: deployed databases ran its exact text, and a
 * test pins each one by digest. The next change is the next file,
 * `011-<what it does>.ts`, appended here as version 11 (with its digest added to the
 * test); read the traps listed at the top of 003 and the revoke rule in 002 first.
 */
export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'initial', sql: initialMigration },
  { version: 2, name: 'execute rights', sql: executeRightsMigration },
  { version: 3, name: 'runtime primitives', sql: runtimePrimitivesMigration },
  { version: 4, name: 'put with writes', sql: putWithWritesMigration },
  { version: 5, name: 'search plan', sql: searchPlanMigration },
  { version: 6, name: 'value escapes', sql: valueEscapesMigration },
  { version: 7, name: 'null operands', sql: nullOperandsMigration },
  { version: 8, name: 'erasure moves heads', sql: erasureMovesHeadsMigration },
  { version: 9, name: 'thread listing plan', sql: threadListingPlanMigration },
  { version: 10, name: 'search tokens', sql: searchTokensMigration },
];

/** The schema version this code needs. */
export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** Default schema of every table and function. */
export const DEFAULT_SCHEMA = 'entelix';

// First key of the two-key advisory lock every migrating process takes; the second
// is the schema name's hash, so migrations of different schemas do not wait on each
// other. The value is arbitrary but must never change.
const MIGRATION_LOCK_CLASS = 0x656e74; // "ent"

/** Validate a schema name and return it quoted for SQL. */
export function quoteSchema(schema: unknown): string {
  if (typeof schema !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema)) {
    throw new ConfigError(
      'schema must be a SQL identifier: a letter or _, then letters, digits or _ (at most 63)',
      { backend: BACKEND },
    );
  }
  return `"${schema}"`;
}

function migrationsTableSql(s: string): string {
  return `CREATE SCHEMA IF NOT EXISTS ${s};
CREATE TABLE IF NOT EXISTS ${s}.schema_migrations (
  version    integer PRIMARY KEY,
  name       text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
);`;
}

/** Options of {@link renderMigrationSql}. */
export interface RenderMigrationOptions {
  /**
   * The schema version of the database the script is for: `0` (the default) for an
   * empty one, or a released version to upgrade from. The script then holds only the
   * later migrations, and refuses to run on a database at any other version.
   */
  from?: number;
}

/**
 * The DDL as one script, for teams that run migrations with their own tool: every
 * migration after `from`, in one transaction under the same advisory lock `migrate`
 * takes, recording each version in `schema_migrations` (so `migrate: 'verify'` accepts
 * the result). It first checks that the database is at version `from`.
 */
export function renderMigrationSql(
  schema: string = DEFAULT_SCHEMA,
  options: RenderMigrationOptions = {},
): string {
  const s = quoteSchema(schema);
  const from = readFromVersion(options);
  const versionCheck = `DO $entelix$ BEGIN
  IF (SELECT coalesce(max(version), 0) FROM ${s}.schema_migrations) <> ${from} THEN
    RAISE EXCEPTION 'schema ${s} is not at version ${from}: this script upgrades version ${from} only';
  END IF;
END $entelix$;`;
  const parts = [
    from === 0
      ? `-- @entelix/postgres schema version ${LATEST_SCHEMA_VERSION}, schema ${s}`
      : `-- @entelix/postgres schema version ${from} to ${LATEST_SCHEMA_VERSION}, schema ${s}`,
    'BEGIN;',
    `SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_CLASS}, hashtext('${schema}'));`,
    migrationsTableSql(s),
    versionCheck,
  ];
  for (const migration of MIGRATIONS) {
    if (migration.version <= from) continue;
    parts.push(`-- migration ${migration.version}: ${migration.name}`);
    parts.push(migration.sql(s).trim());
    parts.push(
      `INSERT INTO ${s}.schema_migrations (version, name) VALUES (${migration.version}, '${migration.name}');`,
    );
  }
  parts.push('COMMIT;');
  return `${parts.join('\n\n')}\n`;
}

function readFromVersion(options: RenderMigrationOptions): number {
  const from = options.from ?? 0;
  if (!Number.isSafeInteger(from) || from < 0 || from > LATEST_SCHEMA_VERSION) {
    throw new ConfigError(
      `from must be a schema version from 0 to ${LATEST_SCHEMA_VERSION}, got ${describeValue(from)}`,
      { backend: BACKEND },
    );
  }
  return from;
}

/** The version recorded in the schema, `0` when the schema or table does not exist. */
export async function readSchemaVersion(db: Queryable, schema: string): Promise<number> {
  const s = quoteSchema(schema);
  try {
    const exists = await db.query('SELECT to_regclass($1) IS NOT NULL AS present', [
      `${s}.schema_migrations`,
    ]);
    if (exists.rows[0]?.present !== true) return 0;
    const result = await db.query(
      `SELECT coalesce(max(version), 0) AS version FROM ${s}.schema_migrations`,
    );
    return toSafeInteger(result.rows[0]?.version, 'schema version');
  } catch (error) {
    throw translateError(error, 'reading the schema version');
  }
}

function assertNotAhead(version: number, schema: string): void {
  if (version > LATEST_SCHEMA_VERSION) {
    throw new SchemaVersionMismatchError(
      `schema "${schema}" is at version ${version}, this code knows up to ${LATEST_SCHEMA_VERSION}; upgrade @entelix/postgres`,
      { backend: BACKEND },
    );
  }
}

/** What {@link applyMigrations} did. */
export interface MigrationResult {
  /** Versions this call applied; empty when another process (or an earlier run) had. */
  applied: number[];
  /** The schema version afterwards. */
  version: number;
}

/**
 * Bring the schema up to date. Each pending migration runs in its own transaction
 * under a transaction-level advisory lock and re-reads the version after taking it,
 * so any number of processes may boot at once: one applies, the others find it done.
 */
export async function applyMigrations(db: Database, schema: string): Promise<MigrationResult> {
  const s = quoteSchema(schema);
  let version = await readSchemaVersion(db, schema);
  assertNotAhead(version, schema);
  const applied: number[] = [];
  for (const migration of MIGRATIONS) {
    if (migration.version <= version) continue;
    try {
      version = await db.transaction(async (tx) => {
        await tx.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [
          MIGRATION_LOCK_CLASS,
          schema,
        ]);
        await tx.exec(migrationsTableSql(s));
        const current = await readSchemaVersion(tx, schema);
        assertNotAhead(current, schema);
        if (current >= migration.version) return current;
        await tx.exec(migration.sql(s));
        await tx.query(`INSERT INTO ${s}.schema_migrations (version, name) VALUES ($1, $2)`, [
          migration.version,
          migration.name,
        ]);
        applied.push(migration.version);
        return migration.version;
      });
    } catch (error) {
      throw translateError(error, `applying migration ${migration.version} (${migration.name})`);
    }
  }
  return { applied, version };
}

/** Fail unless the schema is exactly at the version this code needs. */
export async function verifySchemaVersion(db: Queryable, schema: string): Promise<void> {
  const version = await readSchemaVersion(db, schema);
  assertNotAhead(version, schema);
  if (version < LATEST_SCHEMA_VERSION) {
    throw new SchemaVersionMismatchError(
      `schema "${schema}" is at version ${version}, this code needs ${LATEST_SCHEMA_VERSION}; run \`entelix-postgres migrate\` or use migrate: 'auto'`,
      { backend: BACKEND },
    );
  }
}
