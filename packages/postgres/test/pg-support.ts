import type { ConformanceTarget } from '@entelix/conformance';
import pg from 'pg';
import {
  APP_ROLE,
  applicationGrants,
  ensureAppRole,
  urlForRole,
} from '../../../test-support/postgres-roles.js';
import { createPostgresPersistence } from '../src/index.js';
import { dumpSchema } from './snapshot.js';

/** A fresh schema migrated by the owner (the URL's role), usable by {@link APP_ROLE}. */
export interface TestSchema {
  schema: string;
  /** Connection string of the application role. */
  appUrl: string;
  /** A pool of the owner role, for setup and inspection. */
  ownerPool: pg.Pool;
  /** Drop the schema and end the owner pool. */
  drop(): Promise<void>;
}

export function randomSchemaName(): string {
  return `entelix_it_${crypto.randomUUID().replaceAll('-', '').slice(0, 16)}`;
}

/**
 * Grant the application role what docs/deploying-postgres.md tells operators to grant,
 * as the owner, after migrating: the schema, the tables' DML and EXECUTE (which PUBLIC
 * does not have), and the same for what later migrations create in the schema. The
 * guide's database-wide `ALTER DEFAULT PRIVILEGES ... REVOKE EXECUTE ... FROM PUBLIC` for
 * the owner role is left out: here the owner is the shared server's superuser, and the
 * change would outlive the test schema.
 */
export function grantsFor(schema: string): string {
  return `${applicationGrants(schema, APP_ROLE)}
    ALTER DEFAULT PRIVILEGES IN SCHEMA "${schema}"
      GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${APP_ROLE};
    ALTER DEFAULT PRIVILEGES IN SCHEMA "${schema}" GRANT EXECUTE ON FUNCTIONS TO ${APP_ROLE};`;
}

/**
 * A value that makes the test-only stall triggers of {@link installStallTriggers} hold
 * the statement writing it in `pg_sleep`, so a test can act while a write is in flight.
 */
export const STALL = 'stall-here';

/**
 * Test-only triggers in a test schema (the library's SQL is untouched): a row holding
 * {@link STALL} sleeps 30 s before it is written. They run in the caller's statement, so
 * the stall is inside the write's own transaction.
 */
export async function installStallTriggers(ownerPool: pg.Pool, schema: string): Promise<void> {
  const s = `"${schema}"`;
  await ownerPool.query(`
    CREATE FUNCTION ${s}.stall_marked_rows() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      IF strpos(row_to_json(NEW)::text, '${STALL}') > 0 THEN
        PERFORM pg_sleep(30);
      END IF;
      RETURN NEW;
    END $fn$;
    CREATE TRIGGER stall BEFORE INSERT ON ${s}.session_events
      FOR EACH ROW EXECUTE FUNCTION ${s}.stall_marked_rows();
    CREATE TRIGGER stall BEFORE INSERT ON ${s}.checkpoints
      FOR EACH ROW EXECUTE FUNCTION ${s}.stall_marked_rows();
    CREATE TRIGGER stall BEFORE INSERT OR UPDATE ON ${s}.store_items
      FOR EACH ROW EXECUTE FUNCTION ${s}.stall_marked_rows();
    -- As the migrations do (and doctor checks): a trigger fires without it.
    REVOKE EXECUTE ON FUNCTION ${s}.stall_marked_rows() FROM PUBLIC;`);
}

/** A pending write value or event that makes the gate triggers of {@link installWriteGates} wait. */
export const GATED = 'gated-here';

/**
 * Test-only triggers on `checkpoint_writes` and `session_events`: a write or event
 * holding {@link GATED} waits, inside its statement (after putWrites locked the
 * checkpoint FOR KEY SHARE, after an append moved the head), while the schema's gate
 * is closed (see {@link closeWriteGate}).
 */
export async function installWriteGates(ownerPool: pg.Pool, schema: string): Promise<void> {
  const s = `"${schema}"`;
  await ownerPool.query(`
    CREATE FUNCTION ${s}.wait_at_gate() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      IF strpos(row_to_json(NEW)::text, '${GATED}') > 0 THEN
        PERFORM pg_advisory_xact_lock_shared(hashtext('${schema}'));
      END IF;
      RETURN NEW;
    END $fn$;
    CREATE TRIGGER gate BEFORE INSERT ON ${s}.checkpoint_writes
      FOR EACH ROW EXECUTE FUNCTION ${s}.wait_at_gate();
    CREATE TRIGGER gate BEFORE INSERT ON ${s}.session_events
      FOR EACH ROW EXECUTE FUNCTION ${s}.wait_at_gate();
    REVOKE EXECUTE ON FUNCTION ${s}.wait_at_gate() FROM PUBLIC;`);
}

/**
 * Close the gate of {@link installWriteGates}: an advisory lock held on a connection of
 * its own until `open()`, so a test decides exactly when a gated putWrites may commit.
 */
export async function closeWriteGate(
  ownerPool: pg.Pool,
  schema: string,
): Promise<{ open(): Promise<void> }> {
  const holder = await ownerPool.connect();
  await holder.query('SELECT pg_advisory_lock(hashtext($1))', [schema]);
  return {
    async open() {
      try {
        await holder.query('SELECT pg_advisory_unlock(hashtext($1))', [schema]);
      } finally {
        holder.release();
      }
    },
  };
}

/**
 * Wait (polling; throws after 10 s) until a backend of `applicationName` waits for a
 * lock of `kind` (`advisory`, `tuple`, `transactionid`...), or of any kind but
 * advisory when omitted.
 */
export async function waitingForLock(
  ownerPool: pg.Pool,
  applicationName: string,
  kind?: string,
): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const { rows } = await ownerPool.query(
      `SELECT wait_event FROM pg_stat_activity
        WHERE application_name = $1 AND wait_event_type = 'Lock'`,
      [applicationName],
    );
    if (
      rows.some((row) =>
        kind === undefined ? row.wait_event !== 'advisory' : row.wait_event === kind,
      )
    ) {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`no backend of ${applicationName} came to wait for a lock`);
}

/**
 * The pids of the backends of `applicationName` that are stalled in a trigger, once
 * there are `count` of them (polling; throws after 10 s).
 */
export async function stalledBackends(
  ownerPool: pg.Pool,
  applicationName: string,
  count = 1,
): Promise<number[]> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const { rows } = await ownerPool.query(
      `SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event = 'PgSleep'`,
      [applicationName],
    );
    if (rows.length >= count) return rows.map((row) => row.pid as number);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`fewer than ${count} writes of ${applicationName} reached the stalling trigger`);
}

/** Terminate every backend of `applicationName` (only this test's own connections). */
export async function terminateBackends(ownerPool: pg.Pool, applicationName: string) {
  await ownerPool.query(
    `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`,
    [applicationName],
  );
}

/** Create, migrate (as the owner) and grant a fresh schema. */
export async function createTestSchema(url: string): Promise<TestSchema> {
  const schema = randomSchemaName();
  const ownerPool = new pg.Pool({ connectionString: url, max: 4 });
  await ensureAppRole(ownerPool);
  const owner = await createPostgresPersistence({ pool: ownerPool, schema });
  await owner.close();
  await ownerPool.query(grantsFor(schema));
  return {
    schema,
    appUrl: urlForRole(url, APP_ROLE),
    ownerPool,
    async drop() {
      await ownerPool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await ownerPool.end();
    },
  };
}

/**
 * A conformance target on a fresh schema of a real server, migrated as the owner at
 * `ownerUrl` and dropped by `teardown`. The suite connects at `appUrl(schema)` (by
 * default as the application role, directly), so forced row-level security is in
 * force; the snapshot reads as the owner, whom it does not bind, to see every tenant.
 */
export function realServerTarget(
  name: string,
  ownerUrl: string,
  appUrl: (schema: TestSchema) => string = (schema) => schema.appUrl,
  options: { preparedStatements?: boolean } = {},
): ConformanceTarget {
  let setup: Promise<{ schema: TestSchema; appPool: pg.Pool }> | undefined;
  const open = () => {
    setup ??= createTestSchema(ownerUrl).then((schema) => ({
      schema,
      appPool: new pg.Pool({ connectionString: appUrl(schema), max: 10 }),
    }));
    return setup;
  };
  return {
    name,
    async create() {
      const { schema, appPool } = await open();
      return createPostgresPersistence({
        pool: appPool,
        schema: schema.schema,
        migrate: 'verify',
        ...options,
      });
    },
    async snapshot() {
      const { schema } = await open();
      return dumpSchema((text, params) => schema.ownerPool.query(text, params), schema.schema);
    },
    async teardown() {
      if (setup === undefined) return;
      const { schema, appPool } = await setup;
      await appPool.end();
      await schema.drop();
    },
  };
}
