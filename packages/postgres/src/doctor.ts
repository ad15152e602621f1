import { Checkpoint, EntelixError, Namespace, ThreadKey } from '@entelix/core';
import { createPersistence } from '@entelix/core/adapter';
import type { PostgresConnectionOptions } from './connection.js';
import { openDatabase } from './connection.js';
import { createPostgresDriver } from './driver.js';
import {
  DEFAULT_SCHEMA,
  LATEST_SCHEMA_VERSION,
  quoteSchema,
  readSchemaVersion,
} from './migrations/index.js';
import { type Database, type Queryable, translateError } from './queryable.js';

/** Every table the migrations create; each must have row-level security forced. */
export const TABLES = [
  'schema_migrations',
  'checkpoints',
  'checkpoint_writes',
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

/** What a {@link DoctorFinding} is about; stable, unlike the message. */
export type DoctorCheck =
  /** The schema does not exist: nothing was migrated into it. */
  | 'schema-missing'
  /** The role has no USAGE on the schema. */
  | 'schema-usage'
  /** The schema is not at the version this code needs. */
  | 'schema-version'
  /** The role is a superuser: row-level security never applies to it. */
  | 'superuser'
  /** The role has BYPASSRLS. */
  | 'bypass-rls'
  /** The role belongs (directly or not) to a superuser or BYPASSRLS role: SET ROLE escapes. */
  | 'privileged-membership'
  /** A table the migrations create is missing. */
  | 'table-missing'
  /** A table's row-level security is not enabled. */
  | 'rls-disabled'
  /** A table's row-level security is not forced. */
  | 'rls-not-forced'
  /** The role owns a table, or belongs to its owner. */
  | 'table-owner'
  /** The role may TRUNCATE a table, which ignores row-level security. */
  | 'truncate'
  /** A function of the schema is executable by PUBLIC. */
  | 'public-execute'
  /** A contract operation fails for the role: a privilege it needs is missing. */
  | 'contract-privileges';

/** One problem {@link checkPostgresDeployment} found. */
export interface DoctorFinding {
  readonly check: DoctorCheck;
  /** For people to read: what is wrong and how to fix it. */
  readonly message: string;
}

/** What {@link checkPostgresDeployment} found. */
export interface DoctorReport {
  /** True when `problems` is empty. */
  ok: boolean;
  /** One line per problem, for people to read (the findings' messages). */
  problems: string[];
  /** The same problems, each with the check that found it. */
  findings: DoctorFinding[];
  /** The role the checks ran as. */
  role: string;
  /** The schema version found, `0` when not migrated (or not readable). */
  schemaVersion: number;
}

const ROLE_SQL = `
SELECT current_user AS role, rolsuper AS superuser, rolbypassrls AS bypass_rls
  FROM pg_roles WHERE rolname = current_user`;

const SCHEMA_SQL = `
SELECT has_schema_privilege(n.oid, 'USAGE') AS usage FROM pg_namespace n WHERE n.nspname = $1`;

// Membership at any depth (pg_has_role MEMBER follows the whole chain), in roles whose
// attributes row-level security yields to. Attributes are not inherited, but SET ROLE
// reaches them.
const PRIVILEGED_MEMBERSHIPS_SQL = `
SELECT r.rolname AS name, r.rolsuper AS superuser
  FROM pg_roles r
 WHERE (r.rolsuper OR r.rolbypassrls) AND r.rolname <> current_user
   AND pg_has_role(current_user, r.oid, 'MEMBER')
 ORDER BY r.rolname COLLATE "C"`;

const TABLES_SQL = `
SELECT wanted.name,
       c.oid IS NOT NULL AS present,
       coalesce(c.relrowsecurity, false) AS rls_enabled,
       coalesce(c.relforcerowsecurity, false) AS rls_forced,
       pg_get_userbyid(c.relowner) AS owner,
       coalesce(pg_has_role(current_user, c.relowner, 'MEMBER'), false) AS owned,
       coalesce(has_table_privilege(current_user, c.oid, 'TRUNCATE'), false) AS truncate
  FROM unnest($1::text[]) AS wanted(name)
  LEFT JOIN (pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = $2)
    ON c.relname = wanted.name AND c.relkind = 'r'
 ORDER BY wanted.name COLLATE "C"`;

// The function's own ACL, or the default one (PUBLIC may execute) while it has none.
const PUBLIC_FUNCTIONS_SQL = `
SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS signature
  FROM pg_proc p
  JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = $1
   AND EXISTS (SELECT 1 FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) acl
                WHERE acl.grantee = 0 AND acl.privilege_type = 'EXECUTE')
 ORDER BY 1`;

const EVICT_ALL_EXECUTABLE_SQL = `
SELECT has_function_privilege(p.oid, 'EXECUTE') AS executable
  FROM pg_proc p
  JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = $1 AND p.proname = 'store_evict_all_expired'`;

/**
 * Check a deployment as the role the application connects with: the schema exists at
 * the code's version; row-level security is enabled and forced on every table; the
 * role cannot bypass it (not superuser, no BYPASSRLS, no membership in such a role, not
 * the tables' owner nor a member of it, no TRUNCATE); no function is executable by
 * PUBLIC; and every contract operation works for the role, each probed in one
 * transaction that is rolled back.
 */
export async function inspectDeployment(db: Database, schema: string): Promise<DoctorReport> {
  const quoted = quoteSchema(schema);
  const findings: DoctorFinding[] = [];
  const report = (check: DoctorCheck, message: string) => findings.push({ check, message });
  let role = '';
  let schemaVersion = 0;
  try {
    const roleRow = (await db.query(ROLE_SQL)).rows[0];
    role = String(roleRow?.role ?? '');
    const superuser = roleRow?.superuser === true;
    if (superuser) {
      report(
        'superuser',
        `role "${role}" is a superuser: row-level security does not apply to it; connect the application as a role without SUPERUSER`,
      );
    }
    // A superuser usually has BYPASSRLS too; saying so twice would fix nothing more.
    if (!superuser && roleRow?.bypass_rls === true) {
      report(
        'bypass-rls',
        `role "${role}" has BYPASSRLS: row-level security does not apply to it; ALTER ROLE ${sqlName(role)} NOBYPASSRLS`,
      );
    }
    // A superuser is a member of every role and holds every privilege: those checks
    // would only repeat that it is a superuser.
    if (!superuser) {
      for (const granted of (await db.query(PRIVILEGED_MEMBERSHIPS_SQL)).rows) {
        report(
          'privileged-membership',
          `role "${role}" is a member of role "${granted.name}", which ${granted.superuser === true ? 'is a superuser' : 'has BYPASSRLS'}: after SET ROLE it reads every tenant; REVOKE ${sqlName(granted.name)} (or the role it comes through) FROM ${sqlName(role)}`,
        );
      }
    }

    const schemaRow = (await db.query(SCHEMA_SQL, [schema])).rows[0];
    if (schemaRow === undefined) {
      report(
        'schema-missing',
        `schema "${schema}" does not exist: run \`entelix-postgres migrate --schema ${schema}\` as the owner role`,
      );
      return done();
    }
    const usage = superuser || schemaRow.usage === true;
    if (!usage) {
      report(
        'schema-usage',
        `role "${role}" has no USAGE on schema "${schema}": GRANT USAGE ON SCHEMA ${quoted} TO ${sqlName(role)}`,
      );
    } else {
      const version = await readVersion(db, schema, role, report);
      schemaVersion = version ?? 0;
      if (version !== undefined && version !== LATEST_SCHEMA_VERSION) {
        report(
          'schema-version',
          version === 0
            ? `schema "${schema}" holds no migrations: run \`entelix-postgres migrate --schema ${schema}\` as the owner role`
            : `schema "${schema}" is at version ${version}, this code needs ${LATEST_SCHEMA_VERSION}`,
        );
      }
    }

    for (const table of (await db.query(TABLES_SQL, [[...TABLES], schema])).rows) {
      const name = `${schema}.${table.name}`;
      if (table.present !== true) {
        report('table-missing', `table ${name} is missing: run the migrations as the owner role`);
        continue;
      }
      if (table.rls_enabled !== true) {
        report(
          'rls-disabled',
          `table ${name}: row-level security is not enabled; ALTER TABLE ${quoted}.${table.name} ENABLE ROW LEVEL SECURITY`,
        );
      }
      if (table.rls_forced !== true) {
        report(
          'rls-not-forced',
          `table ${name}: row-level security is not forced; ALTER TABLE ${quoted}.${table.name} FORCE ROW LEVEL SECURITY`,
        );
      }
      if (superuser) continue;
      if (table.owned === true) {
        const through = table.owner === role ? '' : `, which role "${role}" is a member of`;
        report(
          'table-owner',
          `table ${name} is owned by role "${table.owner}"${through}: connect the application as a role that neither owns the tables nor belongs to their owner`,
        );
      } else if (table.truncate === true) {
        report(
          'truncate',
          `role "${role}" may TRUNCATE table ${name}, which ignores row-level security: REVOKE TRUNCATE ON ${quoted}.${table.name} FROM ${sqlName(role)} (and from PUBLIC or any role it holds it through)`,
        );
      }
    }

    const publicFunctions = (await db.query(PUBLIC_FUNCTIONS_SQL, [schema])).rows.map(
      (row) => row.signature as string,
    );
    if (publicFunctions.length > 0) {
      report(
        'public-execute',
        `PUBLIC may execute ${publicFunctions.join(', ')} in schema "${schema}", so any role with USAGE on it may call them: REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA ${quoted} FROM PUBLIC, then GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA ${quoted} TO the application role`,
      );
    }

    if (!superuser && usage && schemaVersion === LATEST_SCHEMA_VERSION) {
      for (const [reason, operations] of await probeContracts(db, schema)) {
        report(
          'contract-privileges',
          `role "${role}" cannot run ${operations.join(', ')}: ${reason}; as the owner, GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${quoted} TO ${sqlName(role)}; GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA ${quoted} TO ${sqlName(role)}`,
        );
      }
      const evictAll = (await db.query(EVICT_ALL_EXECUTABLE_SQL, [schema])).rows[0];
      if (evictAll?.executable !== true) {
        report(
          'contract-privileges',
          `role "${role}" cannot run store evictExpired() for every tenant: no EXECUTE on ${schema}.store_evict_all_expired(); as the owner, GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA ${quoted} TO ${sqlName(role)}`,
        );
      }
    }
  } catch (error) {
    throw translateError(error, 'doctor');
  }
  return done();

  function done(): DoctorReport {
    const problems = findings.map((finding) => finding.message);
    return { ok: problems.length === 0, problems, findings, role, schemaVersion };
  }
}

/** The schema version, or `undefined` (and a finding) when the role may not read it. */
async function readVersion(
  db: Queryable,
  schema: string,
  role: string,
  report: (check: DoctorCheck, message: string) => void,
): Promise<number | undefined> {
  try {
    return await readSchemaVersion(db, schema);
  } catch (error) {
    const cause = EntelixError.isInstance(error) ? error.cause : error;
    if ((cause as { code?: unknown } | null)?.code !== SQLSTATE_INSUFFICIENT_PRIVILEGE) {
      throw error;
    }
    report(
      'contract-privileges',
      `role "${role}" cannot read ${schema}.schema_migrations (${(cause as Error).message}): as the owner, GRANT SELECT ON ${quoteSchema(schema)}.schema_migrations TO ${sqlName(role)}`,
    );
    return undefined;
  }
}

const SQLSTATE_INSUFFICIENT_PRIVILEGE = '42501';

/** A role name as SQL would need it in the GRANT and REVOKE statements we suggest. */
function sqlName(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : `"${name.replaceAll('"', '""')}"`;
}

/**
 * Run every contract operation once as the connected role, for a tenant no one uses,
 * in one transaction that is rolled back, so nothing stays behind. Each operation runs
 * in a savepoint of its own, so one failure does not hide the others. Returns the
 * failed operations grouped by the database's reason. The all-tenant sweep is not run
 * (it would lock every tenant's expired items): its EXECUTE right is checked instead.
 */
async function probeContracts(db: Database, schema: string): Promise<Map<string, string[]>> {
  const failures = new Map<string, string[]>();
  const tenant = `entelix-doctor-${crypto.randomUUID()}`;
  const key = ThreadKey.of(tenant, 'probe');
  const ns = Namespace.of(tenant, 'probe');
  await db
    .transaction(async (tx) => {
      const capabilities = { multiProcess: false, rls: true, ttl: true, fencing: true };
      const persistence = createPersistence(
        createPostgresDriver({ db: tx, schema: quoteSchema(schema) }, capabilities, async () => {
          // The transaction is the doctor's, ended below.
        }),
      );
      const checkpointer = persistence.checkpointer();
      const store = persistence.store();
      const log = persistence.sessionLog();
      const probe = async (operation: string, run: () => Promise<unknown>) => {
        await tx.query('SAVEPOINT entelix_doctor_probe');
        try {
          await run();
          await tx.query('RELEASE SAVEPOINT entelix_doctor_probe');
        } catch (error) {
          await tx.query('ROLLBACK TO SAVEPOINT entelix_doctor_probe');
          const cause = EntelixError.isInstance(error) ? error.cause : error;
          const reason = cause instanceof Error ? cause.message : String(cause);
          failures.set(reason, [...(failures.get(reason) ?? []), operation]);
        }
      };
      const checkpoint = Checkpoint.create({ key, step: 0, state: 'probe' });
      const filter = { filter: { probe: true } };
      await probe('checkpoint put', () => checkpointer.put(checkpoint));
      await probe('checkpoint putWrites', () =>
        checkpointer.putWrites(key, { checkpointId: checkpoint.id, taskId: 'probe' }, [
          { idx: 0, channel: 'probe', value: 1 },
        ]),
      );
      await probe('checkpoint getLatest', () => checkpointer.getLatest(key));
      await probe('checkpoint getById', () => checkpointer.getById(key, checkpoint.id));
      await probe('checkpoint listHistory', () =>
        checkpointer.listHistory(key, { limit: 1, ...filter }),
      );
      await probe('checkpoint listThreads', () => checkpointer.listThreads(tenant, { limit: 1 }));
      await probe('checkpoint updateState', () => checkpointer.updateState(key, checkpoint.id, 1));
      await probe('checkpoint prune', () => checkpointer.prune(key, { keepLatest: 1 }));
      await probe('checkpoint deleteThread', () => checkpointer.deleteThread(key));
      await probe('store put', () => store.put(ns, 'probe', 1, { ttlMs: 60_000 }));
      await probe('store get', () => store.get(ns, 'probe'));
      await probe('store getMany', () => store.getMany([{ namespace: ns, key: 'probe' }]));
      await probe('store list', () => store.list(ns));
      await probe('store listNamespaces', () => store.listNamespaces(tenant));
      await probe('store search', () => store.search(tenant, { limit: 1, ...filter }));
      await probe('store delete', () => store.delete(ns, 'probe'));
      await probe('store evictExpired(tenant)', () => store.evictExpired(tenant));
      await probe('sessionLog append', () => log.append(key, ['probe'], { expectedHead: 0 }));
      await probe('sessionLog loadSince', () => log.loadSince(key, 0));
      await probe('sessionLog loadLatest', () => log.loadLatest(key, { limit: 1 }));
      await probe('sessionLog head', () => log.head(key));
      await probe('sessionLog listThreads', () => log.listThreads(tenant, { limit: 1 }));
      await probe('sessionLog truncateAfter', () => log.truncateAfter(key, 0));
      await probe('sessionLog archiveBefore', () => log.archiveBefore(key, 1));
      await probe('sessionLog deleteThread', () => log.deleteThread(key));
      await probe('lock and fenced writes', async () => {
        const lease = await persistence.lock.tryAcquire(key, { ttlMs: 60_000 });
        if (lease === undefined) throw new Error('the probe lock was not granted');
        await log.append(key, ['fenced'], { fence: lease });
        await lease.extend(60_000);
        await lease.release();
      });
      await probe('purgeTenant', () => persistence.purgeTenant(tenant));
      throw new ProbeDone();
    })
    .catch((error: unknown) => {
      if (!(error instanceof ProbeDone)) throw error;
    });
  return failures;
}

/** Thrown to end the probe transaction with a rollback. */
class ProbeDone extends Error {}

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
