/**
 * Migration 2: EXECUTE is granted, never assumed, and the all-tenant sweep's reach ends
 * with the sweep. `s` is the quoted schema name.
 *
 * Why revoke: Postgres lets PUBLIC execute every function it creates, so until this
 * migration any role with USAGE on the schema could run every function, the SECURITY
 * DEFINER store_evict_all_expired() included, and the GRANT EXECUTE of the deploying
 * guide changed nothing. From here on only the owner and the roles granted EXECUTE
 * (the guide's application role) may call them.
 *
 * What a later migration that creates a function must do: revoke it from PUBLIC in the
 * same migration, `REVOKE EXECUTE ON FUNCTION <schema>.<name>(<argument types>) FROM
 * PUBLIC;` (or `REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA <schema> FROM PUBLIC;` at its
 * end),
 * and say in the changeset that the application role needs the guide's GRANT EXECUTE
 * re-run, unless the deployment set the guide's default privileges. A test fails while
 * any function of the latest schema is executable by PUBLIC, and `doctor` reports it.
 *
 * Why not ALTER DEFAULT PRIVILEGES here: PUBLIC's EXECUTE is a global default, and a
 * per-schema `ALTER DEFAULT PRIVILEGES IN SCHEMA ... REVOKE` only takes back what a
 * per-schema default granted, so it changes nothing. The global form would change every
 * function the migrating role creates anywhere in the database, which is the operator's
 * call (the deploying guide shows it for a dedicated owner role), not a migration's.
 *
 * Why the sweep policies change: migration 1 let the owning role read and delete every
 * tenant's expired items in any of its sessions. Now the two policies hold only while
 * store_evict_all_expired() deletes: the function turns entelix.evict_all_expired on
 * for that one statement and off again, and the policies ask for it. (A function-level
 * SET would say it more simply, but only a superuser may attach a custom setting to a
 * function.) They stay bound to the function's owner: another role that turns the
 * setting on gains nothing. If the DELETE fails, the transaction or savepoint that
 * rolls back also restores the setting.
 */
export function executeRightsMigration(s: string): string {
  const duringSweep = `expires_at <= now() AND current_setting(''entelix.evict_all_expired'', true) = ''on''`;
  return `
CREATE OR REPLACE FUNCTION ${s}.store_evict_all_expired()
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  deleted bigint;
BEGIN
  PERFORM set_config('entelix.evict_all_expired', 'on', true);
  DELETE FROM ${s}.store_items WHERE expires_at <= now();
  GET DIAGNOSTICS deleted = ROW_COUNT;
  PERFORM set_config('entelix.evict_all_expired', '', true);
  RETURN deleted;
END $fn$;

DROP POLICY owner_reads_expired ON ${s}.store_items;
DROP POLICY owner_evicts_expired ON ${s}.store_items;
DO $entelix$
DECLARE
  sweeper name := (SELECT r.rolname FROM pg_proc p JOIN pg_roles r ON r.oid = p.proowner
                    WHERE p.oid = '${s}.store_evict_all_expired()'::regprocedure);
BEGIN
  EXECUTE format(
    'CREATE POLICY evict_all_expired_reads ON ${s}.store_items FOR SELECT TO %I USING (${duringSweep})',
    sweeper);
  EXECUTE format(
    'CREATE POLICY evict_all_expired_deletes ON ${s}.store_items FOR DELETE TO %I USING (${duringSweep})',
    sweeper);
END $entelix$;

REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA ${s} FROM PUBLIC;
`;
}
