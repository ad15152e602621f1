import { ConfigError, SchemaVersionMismatchError } from '@entelix/core';
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

/** One numbered schema change. `sql` receives the quoted schema name. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  sql(quotedSchema: string): string;
}

/**
 * Every migration, in order. Versions are 1, 2, 3... with no gaps. A released migration
 * never changes (a test pins each one's SQL by digest): the next change is migration 4,
 * a new file beside these, appended here.
 */
export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'initial', sql: initialMigration },
  { version: 2, name: 'execute rights', sql: executeRightsMigration },
  { version: 3, name: 'runtime primitives', sql: runtimePrimitivesMigration },
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

/**
 * The whole DDL as one script, for teams that run migrations with their own tool.
 * It records the version in `schema_migrations`, so `migrate: 'verify'` accepts it.
 */
export function renderMigrationSql(schema: string = DEFAULT_SCHEMA): string {
  const s = quoteSchema(schema);
  const parts = [
    `-- @entelix/postgres schema version ${LATEST_SCHEMA_VERSION}, schema ${s}`,
    'BEGIN;',
    migrationsTableSql(s),
  ];
  for (const migration of MIGRATIONS) {
    parts.push(`-- migration ${migration.version}: ${migration.name}`);
    parts.push(migration.sql(s).trim());
    parts.push(
      `INSERT INTO ${s}.schema_migrations (version, name) VALUES (${migration.version}, '${migration.name}');`,
    );
  }
  parts.push('COMMIT;');
  return `${parts.join('\n\n')}\n`;
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
