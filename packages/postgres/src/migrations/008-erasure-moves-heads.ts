/**
 * Migration 8: deleting a session thread, or purging its tenant, moves the thread's
 * head one past the last ordinal handed out. `s` is the quoted schema name.
 *
 * Both kept the head where it was, so an append conditional on a head read before the
 * erasure still matched it and wrote after it, bringing back what the writer had read
 * (an agent runtime's "remove the newest item" rewrites the item before it). The purge
 * now also ends the tenant's leases first, taking lock rows before anything else as a
 * fenced write does, so the two can never wait on each other. Two functions replaced
 * with the same arguments and results: nothing to re-grant, and a bundle of the
 * previous release keeps working on this schema, with the new behaviour.
 */
export function erasureMovesHeadsMigration(s: string): string {
  // As in migration 1: an assignment runs on PL/pgSQL's fast path, PERFORM does not.
  const setTenant = `p_tenant := set_config('entelix.tenant_id', p_tenant, true);`;
  const checkFence = `IF p_lock_key IS NOT NULL THEN
    PERFORM ${s}.check_fence(p_tenant, p_lock_key, p_fence);
  END IF;`;

  return `
-- The head moves first: its row lock waits for an append in progress, whose events the
-- delete (a statement of its own, with a new snapshot) then sees and deletes too, and
-- holds off the appends that come after until the deletion commits. A thread that never
-- held an event has no head row, and gets none.
CREATE OR REPLACE FUNCTION ${s}.log_delete_thread(
  p_tenant text, p_thread text, p_lock_key text, p_fence bigint)
RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
  deleted bigint;
BEGIN
  ${setTenant}
  ${checkFence}
  UPDATE ${s}.session_heads SET head = head + 1
   WHERE tenant_id = p_tenant AND thread_id = p_thread;
  DELETE FROM ${s}.session_events WHERE tenant_id = p_tenant AND thread_id = p_thread;
  GET DIAGNOSTICS deleted = ROW_COUNT;
  RETURN deleted;
END $fn$;

-- As in migration 3, with every session head of the tenant moved one past before its
-- events are deleted, as log_delete_thread moves one, and the lock rows first: a fenced
-- write locks its lock row (check_fence) before the head or checkpoint it writes, so
-- the purge takes them in the same order, or the two could wait on each other.
CREATE OR REPLACE FUNCTION ${s}.tenant_purge(p_tenant text)
RETURNS TABLE (purged_checkpoints bigint, purged_writes bigint, purged_store_items bigint,
               purged_events bigint)
LANGUAGE plpgsql AS $fn$
BEGIN
  ${setTenant}
  UPDATE ${s}.locks SET fence = fence + 1, expires_at = NULL WHERE tenant_id = p_tenant;
  DELETE FROM ${s}.checkpoints WHERE tenant_id = p_tenant;
  GET DIAGNOSTICS purged_checkpoints = ROW_COUNT;
  DELETE FROM ${s}.checkpoint_writes w
   WHERE w.tenant_id = p_tenant
     AND NOT EXISTS (
           SELECT 1 FROM ${s}.checkpoints c
            WHERE c.tenant_id = w.tenant_id AND c.thread_id = w.thread_id
              AND c.id = w.checkpoint_id AND c.ns = w.ns);
  GET DIAGNOSTICS purged_writes = ROW_COUNT;
  DELETE FROM ${s}.store_items WHERE tenant_id = p_tenant;
  GET DIAGNOSTICS purged_store_items = ROW_COUNT;
  UPDATE ${s}.session_heads SET head = head + 1 WHERE tenant_id = p_tenant;
  DELETE FROM ${s}.session_events WHERE tenant_id = p_tenant;
  GET DIAGNOSTICS purged_events = ROW_COUNT;
  RETURN NEXT;
END $fn$;
`;
}
