/** What a test needs to run queries as a role: `pg.Pool` or a checked-out client. */
interface Queries {
  query(text: string): Promise<unknown>;
}

/** The application role of the suites on a real server: not superuser, no BYPASSRLS, owns nothing. */
export const APP_ROLE = 'entelix_app_test';

/** Create {@link APP_ROLE} if missing; concurrent test files may race to do so. */
export async function ensureAppRole(owner: Queries): Promise<void> {
  try {
    await owner.query(`
      DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${APP_ROLE}') THEN
          CREATE ROLE ${APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS;
        END IF;
      END $$`);
  } catch (error) {
    // 42710 duplicate_object / 23505: another file created it between check and create.
    const code = (error as { code?: string }).code;
    if (code !== '42710' && code !== '23505') throw error;
  }
}

/**
 * What docs/deploying-postgres.md tells operators to grant the application role on a
 * migrated schema: the schema, the tables' DML and EXECUTE (which PUBLIC does not have).
 */
export function applicationGrants(schema: string, role: string): string {
  return `
    GRANT USAGE ON SCHEMA "${schema}" TO ${role};
    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "${schema}" TO ${role};
    GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA "${schema}" TO ${role};`;
}

/** The same database as `url`, connecting as `role` (trust auth: no password). */
export function urlForRole(url: string, role: string): string {
  const parsed = new URL(url);
  parsed.username = role;
  parsed.password = '';
  return parsed.toString();
}
