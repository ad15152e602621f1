import type { PostgresConnectionOptions } from './connection.js';
import { openDatabase } from './connection.js';
import {
  DEFAULT_SCHEMA,
  LATEST_SCHEMA_VERSION,
  quoteSchema,
  readSchemaVersion,
} from './migrations/index.js';
import { type Queryable, translateError } from './queryable.js';

/** Every table the migrations create; each must have row-level security forced. */
export const TABLES = [
  'schema_migrations',
  'checkpoints',
  'store_items',
  'session_heads',
  'session_events',
  'locks',
] as const;

/** The tables that hold tenant data: row-level security must bind every statement on them. */
export const TENANT_TABLES = TABLES.filter((table) => table !== 'schema_migrations');

// row_security_active() answers for the current role and settings: false for a
// superuser, a BYPASSRLS role, the owner of a table whose row-level security is not
// forced, and a table without it. The tables are found in pg_class by name, which needs
// no privilege on the schema.
const ROW_SECURITY_SQL = `
SELECT count(*) = cardinality($2::text[])
       AND coalesce(bool_and(row_security_active(c.oid)), false) AS in_force
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = $1 AND c.relname = ANY($2::text[]) AND c.relkind = 'r'`;

/**
 * Whether forced row-level security binds the connected role on every tenant table of
 * `schema`: what `capabilities.rls` reports. False when a table is missing.
 */
export async function rowSecurityInForce(db: Queryable, schema: string): Promise<boolean> {
  try {
    const { rows } = await db.query(ROW_SECURITY_SQL, [schema, [...TENANT_TABLES]]);
    return rows[0]?.in_force === true;
  } catch (error) {
    throw translateError(error, 'checking row-level security');
  }
}

/** What {@link checkPostgresDeployment} found. */
export interface DoctorReport {
  /** True when `problems` is empty. */
  ok: boolean;
  /** One line per problem, for people to read. */
  problems: string[];
  /** The role the checks ran as. */
  role: string;
  /** The schema version found, `0` when not migrated. */
  schemaVersion: number;
}

const TABLES_SQL = `
SELECT wanted.name,
       c.oid IS NOT NULL AS present,
       coalesce(c.relrowsecurity, false) AS rls_enabled,
       coalesce(c.relforcerowsecurity, false) AS rls_forced,
       coalesce(pg_has_role(current_user, c.relowner, 'MEMBER'), false) AS owned
  FROM unnest($1::text[]) AS wanted(name)
  LEFT JOIN pg_class c ON c.oid = to_regclass(quote_ident($2) || '.' || quote_ident(wanted.name))`;

const ROLE_SQL = `
SELECT current_user AS role, rolsuper AS superuser, rolbypassrls AS bypass_rls
  FROM pg_roles WHERE rolname = current_user`;

/**
 * Check a deployment as the role the application connects with: the schema version,
 * row-level security enabled and forced on every table, and a role that cannot
 * bypass it (not superuser, no BYPASSRLS, not the tables' owner).
 */
export async function inspectDeployment(db: Queryable, schema: string): Promise<DoctorReport> {
  quoteSchema(schema);
  const problems: string[] = [];
  const schemaVersion = await readSchemaVersion(db, schema);
  if (schemaVersion !== LATEST_SCHEMA_VERSION) {
    problems.push(
      `schema "${schema}" is at version ${schemaVersion}, this code needs ${LATEST_SCHEMA_VERSION}`,
    );
  }
  let role = '';
  try {
    const roleRow = (await db.query(ROLE_SQL)).rows[0];
    role = String(roleRow?.role ?? '');
    if (roleRow?.superuser === true) {
      problems.push(`role "${role}" is a superuser: row-level security does not apply to it`);
    }
    if (roleRow?.bypass_rls === true) {
      problems.push(`role "${role}" has BYPASSRLS: row-level security does not apply to it`);
    }
    if (schemaVersion > 0) {
      const tables = await db.query(TABLES_SQL, [[...TABLES], schema]);
      for (const table of tables.rows) {
        const name = `${schema}.${table.name}`;
        if (table.present !== true) {
          problems.push(`table ${name} is missing`);
          continue;
        }
        if (table.rls_enabled !== true)
          problems.push(`table ${name}: row-level security is not enabled`);
        if (table.rls_forced !== true)
          problems.push(`table ${name}: row-level security is not forced`);
        if (table.owned === true) {
          problems.push(
            `table ${name} is owned by role "${role}" (or a role it belongs to): connect the application as a role that does not own the tables`,
          );
        }
      }
    }
  } catch (error) {
    throw translateError(error, 'doctor');
  }
  return { ok: problems.length === 0, problems, role, schemaVersion };
}

/**
 * Open a connection the way {@link createPostgresPersistence} would (without
 * migrating), run the deployment checks, and close what was opened.
 *
 * @example
 * ```ts
 * const report = await checkPostgresDeployment({ connectionString: process.env.DATABASE_URL });
 * if (!report.ok) console.error(report.problems.join('\n'));
 * ```
 */
export async function checkPostgresDeployment(
  options: PostgresConnectionOptions = {},
): Promise<DoctorReport> {
  const db = await openDatabase(options);
  try {
    return await inspectDeployment(db, options.schema ?? DEFAULT_SCHEMA);
  } finally {
    await db.close();
  }
}
