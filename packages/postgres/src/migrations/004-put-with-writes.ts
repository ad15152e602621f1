/**
 * Migration 4: a checkpoint and its parent's pending writes in one statement, so a
 * runtime that ends each step with its tasks' writes and the next checkpoint commits
 * once per step instead of twice. `s` is the quoted schema name.
 *
 * It only adds a function: `checkpoint_put` and `checkpoint_put_writes` stay as they
 * are, and a bundle of the previous release keeps working on this schema until it is
 * stopped (it refuses the schema only at its next start-up, being behind it). The new
 * function is revoked from PUBLIC at the end, so the application role needs the
 * deploying guide's `GRANT EXECUTE ... ON ALL FUNCTIONS` again, unless the guide's
 * default privileges are set.
 */
export function putWithWritesMigration(s: string): string {
  return `
-- checkpoint_put_writes for the parent, then checkpoint_put, in one atomic step: the
-- parent must exist in the namespace (ENN01, before the insert's unique violation) and
-- stays locked (FOR KEY SHARE) until the commit, so a concurrent delete of it waits and
-- then removes the writes too. The writes come as parallel arrays, one element per
-- write, at most one per (task_id, idx): the first of an idx >= 0 wins, for idx < 0
-- the last.
CREATE FUNCTION ${s}.checkpoint_put_with_writes(
  p_tenant text, p_thread text, p_ns text, p_id uuid, p_parent uuid, p_step bigint,
  p_state text, p_next_node text, p_metadata text, p_created_at timestamptz,
  p_task_ids text[], p_task_paths text[], p_idx bigint[], p_channels text[],
  p_values text[], p_lock_key text, p_fence bigint)
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  -- As in migration 1: an assignment runs on PL/pgSQL's fast path, PERFORM does not.
  p_tenant := set_config('entelix.tenant_id', p_tenant, true);
  IF p_lock_key IS NOT NULL THEN
    PERFORM ${s}.check_fence(p_tenant, p_lock_key, p_fence);
  END IF;
  PERFORM 1 FROM ${s}.checkpoints c
   WHERE c.tenant_id = p_tenant AND c.thread_id = p_thread AND c.id = p_parent
     AND c.ns = p_ns
   FOR KEY SHARE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'checkpoint % does not exist', p_parent USING ERRCODE = 'ENN01';
  END IF;
  INSERT INTO ${s}.checkpoint_writes AS pw
    (tenant_id, thread_id, ns, checkpoint_id, task_id, idx, task_path, channel, value)
  SELECT p_tenant, p_thread, p_ns, p_parent, batch.task_id, batch.idx, batch.task_path,
         batch.channel, batch.value
    FROM unnest(p_task_ids, p_task_paths, p_idx, p_channels, p_values)
           AS batch(task_id, task_path, idx, channel, value)
  ON CONFLICT (tenant_id, thread_id, ns, checkpoint_id, task_id, idx) DO UPDATE
    SET task_path = EXCLUDED.task_path, channel = EXCLUDED.channel, value = EXCLUDED.value
    WHERE EXCLUDED.idx < 0;
  -- A checkpoint is immutable: an existing (thread, ns, id) is a unique violation, CONFLICT.
  INSERT INTO ${s}.checkpoints
    (tenant_id, thread_id, ns, id, parent_id, step, state, next_node, metadata, created_at)
  VALUES (p_tenant, p_thread, p_ns, p_id, p_parent, p_step, p_state, p_next_node,
          p_metadata, p_created_at);
END $fn$;

REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA ${s} FROM PUBLIC;
`;
}
