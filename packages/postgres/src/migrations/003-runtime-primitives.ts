/**
 * Migration 3: what agent runtimes need. Checkpoint namespaces and metadata, pending
 * writes, retention and thread listing; conditional appends and tail removal on the
 * session log; store search and many-gets; erasing a tenant. `s` is the quoted schema.
 *
 * Traps for the next migration:
 * - `store_items.scope_key` is a generated column computed by the PL/pgSQL function
 *   `scope_key(text[])`: the function cannot change without rewriting the column.
 * - Migration 1's owner policies captured the migrating role's name; migration 2 bound
 *   the sweep's policies to the sweep function's owner. A new owner-only policy must do
 *   the same, and a change of the migrating role means re-creating them.
 * - Postgres lets PUBLIC execute every new function: revoke (see the end of this file).
 * - The functions of migration 1 that these replace stay, so processes still running
 *   the previous release keep working while this one rolls out; a later migration may
 *   drop them.
 *
 * Names: every function added here is `<contract>_<operation>`, the names the Redis
 * scripts use for the same operations.
 *
 * Filters: payloads and metadata stay `text` (the envelope text round-trips byte for
 * byte), and filters are evaluated on `filterable_json(text)`, a `jsonb` of the same
 * JSON. `jsonb` cannot hold `\u0000` or a lone surrogate, which JSON.stringify writes as
 * escapes, so those escapes become U+FFFD there, in the stored text and in the filter
 * alike: a filter cannot tell such strings apart from U+FFFD.
 */
export function runtimePrimitivesMigration(s: string): string {
  const tenantPolicy = `tenant_id = NULLIF(current_setting('entelix.tenant_id', true), '')`;
  const setTenant = `p_tenant := set_config('entelix.tenant_id', p_tenant, true);`;
  const checkFence = `IF p_lock_key IS NOT NULL THEN
    PERFORM ${s}.check_fence(p_tenant, p_lock_key, p_fence);
  END IF;`;
  // The columns every checkpoint read returns, its pending writes as one JSON array.
  const checkpointColumns = `c.tenant_id, c.thread_id::text, c.ns, c.id, c.parent_id, c.step, c.state,
           c.next_node, c.metadata, c.created_at,
           (SELECT coalesce(json_agg(json_build_array(w.task_id, w.task_path, w.idx, w.channel,
                                                      w.value)), '[]'::json)
              FROM ${s}.checkpoint_writes w
             WHERE w.tenant_id = c.tenant_id AND w.thread_id = c.thread_id AND w.ns = c.ns
               AND w.checkpoint_id = c.id)`;
  const checkpointRow = `cp_tenant_id text, cp_thread_id text, cp_ns text, cp_id uuid, cp_parent_id uuid,
  cp_step bigint, cp_state text, cp_next_node text, cp_metadata text, cp_created_at timestamptz,
  cp_writes json`;

  return `
-- Thread ids in code-point order, so thread listings page through an index.
ALTER TABLE ${s}.checkpoints ALTER COLUMN thread_id TYPE text COLLATE "C";
ALTER TABLE ${s}.session_heads ALTER COLUMN thread_id TYPE text COLLATE "C";
ALTER TABLE ${s}.session_events ALTER COLUMN thread_id TYPE text COLLATE "C";

-- A checkpoint is identified by (tenant, thread, ns, id); the key leads with the id so
-- that a lookup by id alone (history's "before") is an index search too.
ALTER TABLE ${s}.checkpoints ADD COLUMN ns text NOT NULL DEFAULT '';
ALTER TABLE ${s}.checkpoints ADD COLUMN metadata text NOT NULL DEFAULT '{}';
ALTER TABLE ${s}.checkpoints DROP CONSTRAINT checkpoints_pkey;
ALTER TABLE ${s}.checkpoints ADD PRIMARY KEY (tenant_id, thread_id, id, ns);
CREATE INDEX checkpoints_namespace_order ON ${s}.checkpoints (tenant_id, thread_id, ns, seq DESC);

CREATE TABLE ${s}.checkpoint_writes (
  tenant_id     text NOT NULL CHECK (tenant_id <> ''),
  thread_id     text COLLATE "C" NOT NULL,
  ns            text NOT NULL,
  checkpoint_id uuid NOT NULL,
  task_id       text NOT NULL,
  idx           bigint NOT NULL,
  task_path     text NOT NULL,
  channel       text NOT NULL,
  value         text NOT NULL,
  PRIMARY KEY (tenant_id, thread_id, ns, checkpoint_id, task_id, idx)
);
ALTER TABLE ${s}.checkpoint_writes ENABLE ROW LEVEL SECURITY;
ALTER TABLE ${s}.checkpoint_writes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON ${s}.checkpoint_writes
  USING (${tenantPolicy})
  WITH CHECK (${tenantPolicy});

-- Filters ---------------------------------------------------------------------------

-- The JSON text as jsonb, with the escapes jsonb refuses (\\u0000 and lone surrogates,
-- those not preceded by an odd run of backslashes) made U+FFFD first. Almost every text
-- has no \\u escape at all and is cast directly.
CREATE FUNCTION ${s}.filterable_json(p_json text)
RETURNS jsonb LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $fn$
  SELECT CASE
    WHEN strpos(p_json, '\\u') = 0 THEN p_json::jsonb
    ELSE regexp_replace(p_json, '(?<!\\\\)((?:\\\\\\\\)*)\\\\u(?:0000|[dD][89abAB][0-9a-fA-F]{2})',
                        '\\1\\\\ufffd', 'g')::jsonb
  END
$fn$;

-- Every key of the filter is in the metadata with a JSON-equal value.
CREATE FUNCTION ${s}.metadata_matches(p_metadata jsonb, p_filter jsonb)
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
  SELECT NOT EXISTS (
    SELECT 1 FROM jsonb_each(p_filter) f
     WHERE NOT coalesce(p_metadata -> f.key = f.value, false))
$fn$;

-- One condition of a store filter on a value's top-level field. Ordering compares
-- numbers with numbers and strings with strings (code points); an absent field, or a
-- value that is not an object, matches only $ne and $nin.
CREATE FUNCTION ${s}.store_condition_holds(p_value jsonb, p_field text, p_op text, p_operand jsonb)
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
  SELECT CASE p_op
    WHEN '$eq' THEN present AND actual = p_operand
    WHEN '$ne' THEN NOT (present AND actual = p_operand)
    WHEN '$in' THEN present AND EXISTS (SELECT 1 FROM jsonb_array_elements(p_operand) e WHERE e = actual)
    WHEN '$nin' THEN NOT (present AND EXISTS (SELECT 1 FROM jsonb_array_elements(p_operand) e WHERE e = actual))
    ELSE present AND CASE
      WHEN jsonb_typeof(actual) = 'number' AND jsonb_typeof(p_operand) = 'number' THEN
        CASE p_op
          WHEN '$gt' THEN actual::numeric > p_operand::numeric
          WHEN '$gte' THEN actual::numeric >= p_operand::numeric
          WHEN '$lt' THEN actual::numeric < p_operand::numeric
          WHEN '$lte' THEN actual::numeric <= p_operand::numeric
        END
      WHEN jsonb_typeof(actual) = 'string' AND jsonb_typeof(p_operand) = 'string' THEN
        CASE p_op
          WHEN '$gt' THEN (actual #>> '{}') COLLATE "C" > (p_operand #>> '{}') COLLATE "C"
          WHEN '$gte' THEN (actual #>> '{}') COLLATE "C" >= (p_operand #>> '{}') COLLATE "C"
          WHEN '$lt' THEN (actual #>> '{}') COLLATE "C" < (p_operand #>> '{}') COLLATE "C"
          WHEN '$lte' THEN (actual #>> '{}') COLLATE "C" <= (p_operand #>> '{}') COLLATE "C"
        END
      ELSE false
    END
  END
  FROM (SELECT jsonb_typeof(p_value) = 'object' AND p_value ? p_field AS present,
               p_value -> p_field AS actual) field
$fn$;

-- Every condition, a JSON array of [field, op, operand], holds.
CREATE FUNCTION ${s}.store_value_matches(p_value jsonb, p_conditions jsonb)
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
  SELECT NOT EXISTS (
    SELECT 1 FROM jsonb_array_elements(p_conditions) c
     WHERE NOT coalesce(${s}.store_condition_holds(p_value, c ->> 0, c ->> 1, c -> 2), false))
$fn$;

-- Checkpointer ---------------------------------------------------------------------

CREATE FUNCTION ${s}.checkpoint_put(
  p_tenant text, p_thread text, p_ns text, p_id uuid, p_parent uuid, p_step bigint,
  p_state text, p_next_node text, p_metadata text, p_created_at timestamptz,
  p_lock_key text, p_fence bigint)
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  ${setTenant}
  ${checkFence}
  INSERT INTO ${s}.checkpoints
    (tenant_id, thread_id, ns, id, parent_id, step, state, next_node, metadata, created_at)
  VALUES (p_tenant, p_thread, p_ns, p_id, p_parent, p_step, p_state, p_next_node, p_metadata,
          p_created_at);
END $fn$;

CREATE FUNCTION ${s}.checkpoint_latest(p_tenant text, p_thread text, p_ns text)
RETURNS TABLE (${checkpointRow}) LANGUAGE plpgsql AS $fn$
BEGIN
  ${setTenant}
  RETURN QUERY
    SELECT ${checkpointColumns}
      FROM ${s}.checkpoints c
     WHERE c.tenant_id = p_tenant AND c.thread_id = p_thread AND c.ns = p_ns
     ORDER BY c.seq DESC
     LIMIT 1;
END $fn$;

CREATE FUNCTION ${s}.checkpoint_get(p_tenant text, p_thread text, p_ns text, p_id uuid)
RETURNS TABLE (${checkpointRow}) LANGUAGE plpgsql AS $fn$
BEGIN
  ${setTenant}
  RETURN QUERY
    SELECT ${checkpointColumns}
      FROM ${s}.checkpoints c
     WHERE c.tenant_id = p_tenant AND c.thread_id = p_thread AND c.id = p_id AND c.ns = p_ns;
END $fn$;

-- Newest first, written before p_before (a checkpoint of the thread in any namespace;
-- ENN02 when there is none), only p_ns when given, the metadata filter before the limit.
CREATE FUNCTION ${s}.checkpoint_list(
  p_tenant text, p_thread text, p_ns text, p_before uuid, p_filter text, p_limit integer)
RETURNS TABLE (${checkpointRow}) LANGUAGE plpgsql AS $fn$
DECLARE
  before_seq bigint := 9223372036854775807;
  metadata_filter jsonb := ${s}.filterable_json(p_filter);
BEGIN
  ${setTenant}
  IF p_before IS NOT NULL THEN
    SELECT min(c.seq) INTO before_seq FROM ${s}.checkpoints c
     WHERE c.tenant_id = p_tenant AND c.thread_id = p_thread AND c.id = p_before;
    IF before_seq IS NULL THEN
      RAISE EXCEPTION 'checkpoint % is not on this thread', p_before USING ERRCODE = 'ENN02';
    END IF;
  END IF;
  -- Two queries rather than "p_ns IS NULL OR ...": each searches its own index.
  IF p_ns IS NULL THEN
    RETURN QUERY
      SELECT ${checkpointColumns}
        FROM ${s}.checkpoints c
       WHERE c.tenant_id = p_tenant AND c.thread_id = p_thread AND c.seq < before_seq
         AND (metadata_filter IS NULL
              OR ${s}.metadata_matches(${s}.filterable_json(c.metadata), metadata_filter))
       ORDER BY c.seq DESC
       LIMIT p_limit;
  ELSE
    RETURN QUERY
      SELECT ${checkpointColumns}
        FROM ${s}.checkpoints c
       WHERE c.tenant_id = p_tenant AND c.thread_id = p_thread AND c.ns = p_ns
         AND c.seq < before_seq
         AND (metadata_filter IS NULL
              OR ${s}.metadata_matches(${s}.filterable_json(c.metadata), metadata_filter))
       ORDER BY c.seq DESC
       LIMIT p_limit;
  END IF;
END $fn$;

-- ENN01 (NOT_FOUND) when the parent is not in (thread, ns).
CREATE FUNCTION ${s}.checkpoint_fork(
  p_tenant text, p_thread text, p_ns text, p_parent uuid, p_id uuid, p_state text,
  p_metadata text, p_created_at timestamptz, p_lock_key text, p_fence bigint)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  parent_step bigint;
  parent_next_node text;
BEGIN
  ${setTenant}
  ${checkFence}
  SELECT step, next_node INTO parent_step, parent_next_node FROM ${s}.checkpoints
   WHERE tenant_id = p_tenant AND thread_id = p_thread AND id = p_parent AND ns = p_ns;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'parent checkpoint % not found', p_parent USING ERRCODE = 'ENN01';
  END IF;
  INSERT INTO ${s}.checkpoints
    (tenant_id, thread_id, ns, id, parent_id, step, state, next_node, metadata, created_at)
  VALUES (p_tenant, p_thread, p_ns, p_id, p_parent, parent_step + 1, p_state, parent_next_node,
          p_metadata, p_created_at);
END $fn$;

-- The checkpoints go first: a concurrent checkpoint_put_writes holds its checkpoint
-- with FOR KEY SHARE, so the DELETE waits for it; the writes go in a later statement,
-- whose fresh snapshot sees what that call committed meanwhile.
CREATE FUNCTION ${s}.checkpoint_delete_thread(
  p_tenant text, p_thread text, p_lock_key text, p_fence bigint)
RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
  deleted bigint;
BEGIN
  ${setTenant}
  ${checkFence}
  DELETE FROM ${s}.checkpoints WHERE tenant_id = p_tenant AND thread_id = p_thread;
  GET DIAGNOSTICS deleted = ROW_COUNT;
  DELETE FROM ${s}.checkpoint_writes WHERE tenant_id = p_tenant AND thread_id = p_thread;
  RETURN deleted;
END $fn$;

-- First write wins for idx >= 0, the last for idx < 0. ENN02 when the checkpoint does
-- not exist; FOR KEY SHARE keeps it from being deleted until this commits.
CREATE FUNCTION ${s}.checkpoint_put_writes(
  p_tenant text, p_thread text, p_ns text, p_checkpoint uuid, p_task_id text,
  p_task_path text, p_idxs bigint[], p_channels text[], p_values text[],
  p_lock_key text, p_fence bigint)
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  ${setTenant}
  ${checkFence}
  PERFORM 1 FROM ${s}.checkpoints
   WHERE tenant_id = p_tenant AND thread_id = p_thread AND id = p_checkpoint AND ns = p_ns
   FOR KEY SHARE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'checkpoint % is not on this thread', p_checkpoint USING ERRCODE = 'ENN02';
  END IF;
  INSERT INTO ${s}.checkpoint_writes AS w
    (tenant_id, thread_id, ns, checkpoint_id, task_id, idx, task_path, channel, value)
  SELECT p_tenant, p_thread, p_ns, p_checkpoint, p_task_id, batch.idx, p_task_path,
         batch.channel, batch.value
    FROM unnest(p_idxs, p_channels, p_values) AS batch(idx, channel, value)
  ON CONFLICT (tenant_id, thread_id, ns, checkpoint_id, task_id, idx) DO UPDATE
    SET task_path = EXCLUDED.task_path, channel = EXCLUDED.channel, value = EXCLUDED.value
    WHERE EXCLUDED.idx < 0;
END $fn$;

-- Keeps the newest p_keep of each namespace (or of p_ns); returns how many went.
CREATE FUNCTION ${s}.checkpoint_prune(
  p_tenant text, p_thread text, p_ns text, p_keep integer, p_lock_key text, p_fence bigint)
RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
  doomed_ids uuid[];
  doomed_ns text[];
BEGIN
  ${setTenant}
  ${checkFence}
  WITH ranked AS (
    SELECT c.id, c.ns, row_number() OVER (PARTITION BY c.ns ORDER BY c.seq DESC) AS newest
      FROM ${s}.checkpoints c
     WHERE c.tenant_id = p_tenant AND c.thread_id = p_thread AND (p_ns IS NULL OR c.ns = p_ns)
  ), doomed AS (
    DELETE FROM ${s}.checkpoints c USING ranked r
     WHERE c.tenant_id = p_tenant AND c.thread_id = p_thread AND c.id = r.id AND c.ns = r.ns
       AND r.newest > p_keep
    RETURNING c.id, c.ns
  )
  SELECT array_agg(d.id), array_agg(d.ns) INTO doomed_ids, doomed_ns FROM doomed d;
  -- A later statement, as in checkpoint_delete_thread.
  DELETE FROM ${s}.checkpoint_writes w
   USING unnest(doomed_ids, doomed_ns) AS d(id, ns)
   WHERE w.tenant_id = p_tenant AND w.thread_id = p_thread AND w.ns = d.ns
     AND w.checkpoint_id = d.id;
  RETURN coalesce(cardinality(doomed_ids), 0);
END $fn$;

-- Threads holding a checkpoint after p_after, in code-point order: a skip scan, one
-- index probe per thread listed, however many checkpoints each holds.
CREATE FUNCTION ${s}.checkpoint_threads(p_tenant text, p_after text, p_limit integer)
RETURNS SETOF text LANGUAGE plpgsql AS $fn$
DECLARE
  past text := p_after;
  thread text;
  listed integer := 0;
BEGIN
  ${setTenant}
  LOOP
    SELECT c.thread_id INTO thread FROM ${s}.checkpoints c
     WHERE c.tenant_id = p_tenant AND c.thread_id > past
     ORDER BY c.thread_id
     LIMIT 1;
    EXIT WHEN NOT FOUND;
    RETURN NEXT thread;
    listed := listed + 1;
    EXIT WHEN listed >= p_limit;
    past := thread;
  END LOOP;
END $fn$;

-- Session log ------------------------------------------------------------------------

-- The head row is locked first, so the condition, the truncation, the new events and
-- the new head are one step; ENC01 (CONFLICT) when the head is not p_expected_head.
CREATE FUNCTION ${s}.log_append(
  p_tenant text, p_thread text, p_events text[], p_expected_head bigint,
  p_truncate_after bigint, p_lock_key text, p_fence bigint)
RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
  batch_size integer := coalesce(cardinality(p_events), 0);
  current_head bigint;
  new_head bigint;
BEGIN
  ${setTenant}
  ${checkFence}
  SELECT head INTO current_head FROM ${s}.session_heads
   WHERE tenant_id = p_tenant AND thread_id = p_thread
   FOR UPDATE;
  IF p_expected_head IS NOT NULL AND coalesce(current_head, 0) <> p_expected_head THEN
    RAISE EXCEPTION 'the head is not %', p_expected_head USING ERRCODE = 'ENC01';
  END IF;
  IF p_truncate_after IS NOT NULL THEN
    DELETE FROM ${s}.session_events
     WHERE tenant_id = p_tenant AND thread_id = p_thread AND seq > p_truncate_after;
  END IF;
  IF batch_size = 0 THEN
    RETURN coalesce(current_head, 0);
  END IF;
  IF current_head IS NULL THEN
    -- A first append racing another: with a condition, the other one won.
    INSERT INTO ${s}.session_heads AS h (tenant_id, thread_id, head)
    VALUES (p_tenant, p_thread, batch_size)
    ON CONFLICT (tenant_id, thread_id) DO UPDATE SET head = h.head + EXCLUDED.head
      WHERE p_expected_head IS NULL
    RETURNING h.head INTO new_head;
    IF new_head IS NULL THEN
      RAISE EXCEPTION 'the head is not %', p_expected_head USING ERRCODE = 'ENC01';
    END IF;
  ELSE
    UPDATE ${s}.session_heads SET head = head + batch_size
     WHERE tenant_id = p_tenant AND thread_id = p_thread
    RETURNING head INTO new_head;
  END IF;
  INSERT INTO ${s}.session_events (tenant_id, thread_id, seq, event)
  SELECT p_tenant, p_thread, new_head - batch_size + batch.ordinal, batch.event
    FROM unnest(p_events) WITH ORDINALITY AS batch(event, ordinal);
  RETURN new_head;
END $fn$;

CREATE FUNCTION ${s}.log_load_latest(p_tenant text, p_thread text, p_limit integer)
RETURNS TABLE (ev_tenant_id text, ev_seq bigint, ev_event text, ev_ts timestamptz)
LANGUAGE plpgsql AS $fn$
BEGIN
  ${setTenant}
  RETURN QUERY
    SELECT newest.tenant_id, newest.seq, newest.event, newest.ts FROM (
      SELECT e.tenant_id, e.seq, e.event, e.ts FROM ${s}.session_events e
       WHERE e.tenant_id = p_tenant AND e.thread_id = p_thread
       ORDER BY e.seq DESC
       LIMIT p_limit) newest
     ORDER BY newest.seq;
END $fn$;

-- Deletes seq > p_seq and keeps the head; with p_expected_head, only while the head is it.
CREATE FUNCTION ${s}.log_truncate_after(
  p_tenant text, p_thread text, p_seq bigint, p_expected_head bigint,
  p_lock_key text, p_fence bigint)
RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
  current_head bigint;
  deleted bigint;
BEGIN
  ${setTenant}
  ${checkFence}
  IF p_expected_head IS NOT NULL THEN
    SELECT head INTO current_head FROM ${s}.session_heads
     WHERE tenant_id = p_tenant AND thread_id = p_thread
     FOR UPDATE;
    IF coalesce(current_head, 0) <> p_expected_head THEN
      RAISE EXCEPTION 'the head is not %', p_expected_head USING ERRCODE = 'ENC01';
    END IF;
  END IF;
  DELETE FROM ${s}.session_events
   WHERE tenant_id = p_tenant AND thread_id = p_thread AND seq > p_seq;
  GET DIAGNOSTICS deleted = ROW_COUNT;
  RETURN deleted;
END $fn$;

-- Threads that ever held an event (their head row stays), after p_after.
CREATE FUNCTION ${s}.log_threads(p_tenant text, p_after text, p_limit integer)
RETURNS SETOF text LANGUAGE plpgsql AS $fn$
BEGIN
  ${setTenant}
  RETURN QUERY
    SELECT h.thread_id::text FROM ${s}.session_heads h
     WHERE h.tenant_id = p_tenant AND h.thread_id > p_after
     ORDER BY h.thread_id
     LIMIT p_limit;
END $fn$;

-- Store ----------------------------------------------------------------------------

-- One row per ref that names a live item, with the ref's position (from 0). Refs are
-- a JSON array of [scope parts, key].
CREATE FUNCTION ${s}.store_get_many(p_tenant text, p_refs jsonb)
RETURNS TABLE (ref_index integer, item_tenant_id text, item_value text,
               item_created_at timestamptz, item_updated_at timestamptz,
               item_expires_at timestamptz)
LANGUAGE plpgsql AS $fn$
BEGIN
  ${setTenant}
  RETURN QUERY
    SELECT (r.position - 1)::integer, i.tenant_id, i.value, i.created_at, i.updated_at,
           i.expires_at
      FROM jsonb_array_elements(p_refs) WITH ORDINALITY AS r(ref, position)
      JOIN ${s}.store_items i
        ON i.tenant_id = p_tenant
       AND i.scope_key = ${s}.scope_key(ARRAY(SELECT jsonb_array_elements_text(r.ref -> 0))) COLLATE "C"
       AND i.key = (r.ref ->> 1) COLLATE "C"
     WHERE i.expires_at IS NULL OR i.expires_at > now();
END $fn$;

-- Live items under a whole-part scope prefix, in (scope, key) order after the cursor,
-- the filter (a JSON array of [field, op, operand]) applied to each value before the limit.
CREATE FUNCTION ${s}.store_search(
  p_tenant text, p_prefix text[], p_after_scope text[], p_after_key text, p_filter text,
  p_limit integer)
RETURNS TABLE (item_tenant_id text, item_scope text[], item_key text, item_value text,
               item_created_at timestamptz, item_updated_at timestamptz,
               item_expires_at timestamptz)
LANGUAGE plpgsql AS $fn$
DECLARE
  prefix_key text := ${s}.scope_key(p_prefix);
  -- Above every key under the prefix; none for an empty prefix, the whole tenant.
  prefix_end text := CASE WHEN prefix_key <> '' THEN left(prefix_key, -1) || E'\\x02' END;
  after_scope_key text := coalesce(${s}.scope_key(p_after_scope), '');
  after_key text := coalesce(p_after_key, '');
  conditions jsonb := ${s}.filterable_json(p_filter);
BEGIN
  ${setTenant}
  RETURN QUERY
    SELECT i.tenant_id, i.scope, i.key::text, i.value, i.created_at, i.updated_at, i.expires_at
      FROM ${s}.store_items i
     WHERE i.tenant_id = p_tenant
       AND i.scope_key >= greatest(prefix_key, after_scope_key) COLLATE "C"
       AND (prefix_end IS NULL OR i.scope_key < prefix_end COLLATE "C")
       AND (i.scope_key > after_scope_key COLLATE "C" OR i.key > after_key COLLATE "C")
       AND (i.expires_at IS NULL OR i.expires_at > now())
       AND (conditions IS NULL
            OR ${s}.store_value_matches(${s}.filterable_json(i.value) -> 'state', conditions))
     ORDER BY i.scope_key, i.key
     LIMIT p_limit;
END $fn$;

-- Erasing a tenant ---------------------------------------------------------------------

-- Everything of the tenant but its session heads (ordinals are never handed out twice)
-- and its lock rows, whose fences move past every grant and whose leases end, so a
-- lease granted before never passes fencing after.
CREATE FUNCTION ${s}.tenant_purge(p_tenant text)
RETURNS TABLE (checkpoints bigint, writes bigint, store_items bigint, events bigint)
LANGUAGE plpgsql AS $fn$
BEGIN
  ${setTenant}
  DELETE FROM ${s}.checkpoints c WHERE c.tenant_id = p_tenant;
  GET DIAGNOSTICS checkpoints = ROW_COUNT;
  DELETE FROM ${s}.checkpoint_writes w WHERE w.tenant_id = p_tenant;
  GET DIAGNOSTICS writes = ROW_COUNT;
  DELETE FROM ${s}.store_items i WHERE i.tenant_id = p_tenant;
  GET DIAGNOSTICS store_items = ROW_COUNT;
  DELETE FROM ${s}.session_events e WHERE e.tenant_id = p_tenant;
  GET DIAGNOSTICS events = ROW_COUNT;
  UPDATE ${s}.locks l SET fence = l.fence + 1, expires_at = NULL WHERE l.tenant_id = p_tenant;
  RETURN NEXT;
END $fn$;

REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA ${s} FROM PUBLIC;
`;
}
