/**
 * Migration 3: what agent runtimes need (checkpoint namespaces and metadata, pending
 * writes, filters, store search and many gets, conditional appends and tail removal,
 * thread listing, retention, tenant purge), and one name per operation. `s` is the
 * quoted schema name.
 *
 * Traps this migration works around, and the next one will meet too:
 *
 * - `store_items.scope_key` is a generated column computed by the PL/pgSQL function
 *   `scope_key(text[])`. The column depends on the function, so it cannot be dropped,
 *   and `CREATE OR REPLACE` with another encoding would leave every stored key encoded
 *   the old way while lookups compute the new one: the index would answer wrongly and
 *   nothing would fail. A new encoding needs a new function and a new column (and
 *   index), filled and swapped in one migration. The function runs as the role that
 *   writes the row, which is why the application role needs EXECUTE on it.
 * - Two kinds of policy are bound to a role, not to everyone: `owner_writes_version` on
 *   `schema_migrations` (the role that ran migration 1) and `evict_all_expired_*` on
 *   `store_items` (the owner of `store_evict_all_expired()`). A migration run by another
 *   role that is not a superuser cannot record its version under forced row-level
 *   security; one that re-creates the sweep (or any SECURITY DEFINER function whose
 *   owner the policies must follow) re-binds the policies to the function's owner, read
 *   from `pg_proc` as migration 2 does, never to `current_user`. This migration creates
 *   no SECURITY DEFINER function: `tenant_purge` runs as its caller, under row-level
 *   security like every other operation.
 * - Postgres lets PUBLIC execute every function it creates. This migration ends with
 *   `REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA ... FROM PUBLIC`, so the application role
 *   needs the deploying guide's `GRANT EXECUTE ... ON ALL FUNCTIONS` (and the table grant
 *   for `checkpoint_writes`) again, unless the guide's default privileges are set.
 *   Renamed functions keep their grants.
 *
 * Names: every function is `<contract>_<operation>`, the words of the Redis scripts.
 * Those whose name already said so and whose behaviour is unchanged keep it
 * (`store_put`, `log_head`...); the lock's and the log's are renamed (their grants go
 * with them); the checkpoint functions and the log's append change their arguments and
 * results, so the old ones are dropped and the new ones created. No thin wrappers keep
 * the old names: a bundle of the previous release refuses this schema at start-up (it
 * is ahead of the code), and one left running would, through wrappers, read a thread's
 * subgraph checkpoints as its root ones. Migrate with the previous release stopped; the
 * collation change below also rebuilds the checkpoint and session indexes under an
 * exclusive lock.
 */
export function runtimePrimitivesMigration(s: string): string {
  const tenantPolicy = `tenant_id = NULLIF(current_setting('entelix.tenant_id', true), '')`;
  // As in migration 1: an assignment runs on PL/pgSQL's fast path, PERFORM does not.
  const setTenant = `p_tenant := set_config('entelix.tenant_id', p_tenant, true);`;
  const checkFence = `IF p_lock_key IS NOT NULL THEN
    PERFORM ${s}.check_fence(p_tenant, p_lock_key, p_fence);
  END IF;`;
  const isolate = (table: string) => `
ALTER TABLE ${s}.${table} ENABLE ROW LEVEL SECURITY;
ALTER TABLE ${s}.${table} FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON ${s}.${table}
  USING (${tenantPolicy})
  WITH CHECK (${tenantPolicy});
`;

  // A checkpoint as every read returns it, with its pending writes in one json array of
  // [task_id, task_path, idx, channel, value]: one primary-key probe of checkpoint_writes
  // per checkpoint, in the same statement. The page is chosen first (a subquery with
  // its own ORDER BY and LIMIT), so writes are gathered for the checkpoints returned only.
  const checkpointColumns = `cp_tenant_id text, cp_thread_id text, cp_ns text, cp_id uuid,
               cp_parent_id uuid, cp_step bigint, cp_state text, cp_next_node text,
               cp_metadata text, cp_created_at timestamptz, cp_writes json`;
  const withWrites = (page: string) => `
    SELECT page.tenant_id, page.thread_id::text, page.ns::text, page.id, page.parent_id,
           page.step, page.state, page.next_node, page.metadata, page.created_at,
           (SELECT json_agg(json_build_array(w.task_id, w.task_path, w.idx, w.channel, w.value))
              FROM ${s}.checkpoint_writes w
             WHERE w.tenant_id = page.tenant_id AND w.thread_id = page.thread_id
               AND w.ns = page.ns AND w.checkpoint_id = page.id)
      FROM (${page}) page
     ORDER BY page.seq DESC`;
  // A metadata filter in two parts, computed once per call: its scalar values, which
  // jsonb containment (@>) compares exactly as JSON equality does, in one operator; and
  // its object and array values, where containment is not equality, compared key by key.
  // A filter of scalars alone (the usual one) parses each row's metadata once, right
  // in the condition; with structured values the metadata is parsed once per row in a
  // subquery (OFFSET 0 keeps the planner from copying the call into each condition),
  // which costs more per row than the containment alone.
  const historyPage = (where: string, filter: 'none' | 'scalars' | 'any') => {
    const parsed =
      filter === 'any'
        ? `CROSS JOIN LATERAL (SELECT ${s}.filterable_json(c.metadata) AS metadata OFFSET 0) parsed`
        : '';
    const matches = {
      none: '',
      scalars: `AND ${s}.filterable_json(c.metadata) @> wanted_scalars`,
      any: `AND (wanted_scalars IS NULL OR parsed.metadata @> wanted_scalars)
         AND NOT EXISTS (
               SELECT 1 FROM jsonb_each(wanted_structures) AS wanted(key, value)
                WHERE parsed.metadata -> wanted.key IS DISTINCT FROM wanted.value)`,
    }[filter];
    return `
      SELECT c.* FROM ${s}.checkpoints c ${parsed}
       WHERE c.tenant_id = p_tenant AND c.thread_id = p_thread AND c.seq < before_seq
         ${where} ${matches}
       ORDER BY c.seq DESC
       LIMIT p_limit`;
  };

  // Writes whose checkpoint is gone. Deleting checkpoints takes their row locks, so it
  // waits for every putWrites holding one (FOR KEY SHARE) to commit; a later statement,
  // with its own snapshot, then sees those writes too and deletes them. In the same
  // statement (a CTE) they would be invisible and stay behind as orphans; and deleting
  // "every write of the thread" would take those of a checkpoint written meanwhile.
  const deleteOrphanWrites = (scope: string) => `
    DELETE FROM ${s}.checkpoint_writes w
     WHERE ${scope}
       AND NOT EXISTS (
             SELECT 1 FROM ${s}.checkpoints c
              WHERE c.tenant_id = w.tenant_id AND c.thread_id = w.thread_id
                AND c.id = w.checkpoint_id AND c.ns = w.ns);`;

  const live = (item: string) => `(${item}.expires_at IS NULL OR ${item}.expires_at > now())`;
  // A page of store search: live items in (scope, key) order between the bounds, with
  // a filter's parsed value and conditions when there are any, as for metadata.
  const searchPage = (parsed: string, matches: string) => `
      SELECT i.tenant_id, i.scope::text[], i.key::text, i.value, i.created_at,
             i.updated_at, i.expires_at
        FROM ${s}.store_items i ${parsed}
       WHERE i.tenant_id = p_tenant
         AND (i.scope_key, i.key) > (from_scope_key COLLATE "C", from_key COLLATE "C")
         AND i.scope_key < until_scope_key COLLATE "C"
         AND ${live('i')}
         ${matches}
       ORDER BY i.scope_key, i.key
       LIMIT p_limit`;
  const storeItemColumns = `item_tenant_id text, item_value text, item_created_at timestamptz,
               item_updated_at timestamptz, item_expires_at timestamptz`;

  // jsonb refuses \u0000 and lone-surrogate escapes, which JSON.stringify writes for NUL
  // and unpaired surrogates: such an escape that is not itself escaped (an even run of
  // backslashes before it) becomes \ufffd before the cast.
  const refusedEscape = String.raw`(?<!\\)((?:\\\\)*)\\u(0000|[dD][89a-fA-F][0-9a-fA-F]{2})`;
  const replacement = String.raw`\1\\ufffd`;

  return `
-- Names -------------------------------------------------------------------------------

ALTER FUNCTION ${s}.try_acquire_lock(text, text, bigint) RENAME TO lock_try_acquire;
ALTER FUNCTION ${s}.extend_lock(text, text, bigint, bigint) RENAME TO lock_extend;
ALTER FUNCTION ${s}.release_lock(text, text, bigint) RENAME TO lock_release;
ALTER FUNCTION ${s}.events_since(text, text, bigint, integer) RENAME TO log_load_since;
ALTER FUNCTION ${s}.archive_events(text, text, bigint, text, bigint) RENAME TO log_archive_before;
ALTER FUNCTION ${s}.delete_events(text, text, text, bigint) RENAME TO log_delete_thread;
DROP FUNCTION ${s}.append_events(text, text, text[], text, bigint);
DROP FUNCTION ${s}.put_checkpoint(text, text, uuid, uuid, bigint, text, text, timestamptz, text, bigint);
DROP FUNCTION ${s}.latest_checkpoint(text, text);
DROP FUNCTION ${s}.checkpoint_by_id(text, text, uuid);
DROP FUNCTION ${s}.checkpoint_history(text, text, integer, uuid);
DROP FUNCTION ${s}.fork_checkpoint(text, text, uuid, uuid, text, timestamptz, text, bigint);
DROP FUNCTION ${s}.delete_checkpoints(text, text, text, bigint);

-- Tables ------------------------------------------------------------------------------

-- COLLATE "C" on thread ids: listThreads orders by code point, and its keyset bound
-- (thread_id > after) searches the primary key, under row-level security too.
ALTER TABLE ${s}.checkpoints DROP CONSTRAINT checkpoints_pkey;
ALTER TABLE ${s}.checkpoints
  ALTER COLUMN thread_id TYPE text COLLATE "C",
  -- The checkpoint's namespace within its thread: '' is a runtime's root graph.
  ADD COLUMN ns text COLLATE "C" NOT NULL DEFAULT '',
  -- The metadata object as the exact JSON text given (text, not jsonb: see filterable_json).
  ADD COLUMN metadata text NOT NULL DEFAULT '{}';
-- Identified by (tenant, thread, ns, id); id before ns, so finding a checkpoint by id
-- in any namespace (listHistory's before) is a search of this key too.
ALTER TABLE ${s}.checkpoints ADD PRIMARY KEY (tenant_id, thread_id, id, ns);
-- getLatest and listHistory of one namespace, beside checkpoints_write_order for all.
CREATE INDEX checkpoints_namespace_write_order
  ON ${s}.checkpoints (tenant_id, thread_id, ns, seq DESC);

ALTER TABLE ${s}.session_heads ALTER COLUMN thread_id TYPE text COLLATE "C";
ALTER TABLE ${s}.session_events ALTER COLUMN thread_id TYPE text COLLATE "C";

-- A task's output attached to a checkpoint, before the next checkpoint exists. No
-- foreign key: its check is one more lookup of the checkpoint per write (measured as
-- the application role, commits not flushed: a putWrites of 20 writes 24-29% slower
-- than with the single FOR KEY SHARE check below, of one write 1-9%), and its cascade
-- one delete per checkpoint. The functions that delete checkpoints delete their writes
-- in a second statement instead (see checkpoint_delete_thread).
CREATE TABLE ${s}.checkpoint_writes (
  tenant_id     text NOT NULL CHECK (tenant_id <> ''),
  thread_id     text COLLATE "C" NOT NULL,
  ns            text COLLATE "C" NOT NULL,
  checkpoint_id uuid NOT NULL,
  task_id       text COLLATE "C" NOT NULL,
  -- Negative for a runtime's special channels (error, interrupt...), where the last
  -- write wins; otherwise the first does.
  idx           bigint NOT NULL,
  task_path     text NOT NULL,
  channel       text NOT NULL,
  value         text NOT NULL,
  PRIMARY KEY (tenant_id, thread_id, ns, checkpoint_id, task_id, idx)
);
${isolate('checkpoint_writes')}

-- Filters -----------------------------------------------------------------------------

-- The jsonb that filters compare: the text cast directly when it holds no \\u escape
-- (a quick strpos, the common case); otherwise every \\u0000 and lone-surrogate escape
-- (\\ud800-\\udfff), which jsonb refuses, first becomes \\ufffd. Filter values go through
-- the same function, so a filter string holding NUL or a lone surrogate matches a
-- stored string that had the same replacement: one such character equals another, and
-- U+FFFD itself. Payloads are never stored this way, only compared.
CREATE FUNCTION ${s}.filterable_json(p_json text)
RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
  SELECT CASE WHEN strpos(p_json, '\\u') = 0 THEN p_json::jsonb
              ELSE regexp_replace(p_json, '${refusedEscape}', '${replacement}', 'g')::jsonb END
$fn$;

-- True when p_value equals (as JSON, not by containment) an element of the array
-- p_candidates: $in and $nin of a store filter.
CREATE FUNCTION ${s}.store_filter_in(p_candidates jsonb, p_value jsonb)
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
  SELECT EXISTS (SELECT 1 FROM jsonb_array_elements(p_candidates) AS candidate(value)
                  WHERE candidate.value = p_value)
$fn$;

-- One store filter condition, exactly as matchesStoreFilter in @entelix/core:
-- p_actual is the field's value, NULL when the field is absent (or the value is not an
-- object); an absent field equals nothing, so it matches only $ne and $nin; ordering
-- compares numbers with numbers (as numeric: the shortest round-trip decimals JSON
-- holds keep the order of the doubles) and strings with strings by code point, and is
-- false for any other pair. One expression with no subquery, so Postgres inlines it
-- into the search instead of calling it for each row.
CREATE FUNCTION ${s}.store_filter_holds(p_actual jsonb, p_op text, p_operand jsonb)
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
  SELECT CASE p_op
    WHEN '$eq' THEN coalesce(p_actual = p_operand, false)
    WHEN '$ne' THEN p_actual IS NULL OR p_actual <> p_operand
    WHEN '$in' THEN p_actual IS NOT NULL AND ${s}.store_filter_in(p_operand, p_actual)
    WHEN '$nin' THEN p_actual IS NULL OR NOT ${s}.store_filter_in(p_operand, p_actual)
    ELSE coalesce(
      CASE
        WHEN jsonb_typeof(p_actual) = 'number' AND jsonb_typeof(p_operand) = 'number' THEN
          CASE p_op
            WHEN '$gt' THEN p_actual::numeric > p_operand::numeric
            WHEN '$gte' THEN p_actual::numeric >= p_operand::numeric
            WHEN '$lt' THEN p_actual::numeric < p_operand::numeric
            WHEN '$lte' THEN p_actual::numeric <= p_operand::numeric
          END
        WHEN jsonb_typeof(p_actual) = 'string' AND jsonb_typeof(p_operand) = 'string' THEN
          CASE p_op
            WHEN '$gt' THEN (p_actual #>> '{}') > (p_operand #>> '{}') COLLATE "C"
            WHEN '$gte' THEN (p_actual #>> '{}') >= (p_operand #>> '{}') COLLATE "C"
            WHEN '$lt' THEN (p_actual #>> '{}') < (p_operand #>> '{}') COLLATE "C"
            WHEN '$lte' THEN (p_actual #>> '{}') <= (p_operand #>> '{}') COLLATE "C"
          END
      END, false)
  END
$fn$;

-- Checkpointer ------------------------------------------------------------------------

CREATE FUNCTION ${s}.checkpoint_put(
  p_tenant text, p_thread text, p_ns text, p_id uuid, p_parent uuid, p_step bigint,
  p_state text, p_next_node text, p_metadata text, p_created_at timestamptz,
  p_lock_key text, p_fence bigint)
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  ${setTenant}
  ${checkFence}
  -- A checkpoint is immutable: an existing (thread, ns, id) is a unique violation, CONFLICT.
  INSERT INTO ${s}.checkpoints
    (tenant_id, thread_id, ns, id, parent_id, step, state, next_node, metadata, created_at)
  VALUES (p_tenant, p_thread, p_ns, p_id, p_parent, p_step, p_state, p_next_node,
          p_metadata, p_created_at);
END $fn$;

CREATE FUNCTION ${s}.checkpoint_latest(p_tenant text, p_thread text, p_ns text)
RETURNS TABLE (${checkpointColumns}) LANGUAGE plpgsql AS $fn$
BEGIN
  ${setTenant}
  RETURN QUERY ${withWrites(`
      SELECT c.* FROM ${s}.checkpoints c
       WHERE c.tenant_id = p_tenant AND c.thread_id = p_thread AND c.ns = p_ns
       ORDER BY c.seq DESC
       LIMIT 1`)};
END $fn$;

CREATE FUNCTION ${s}.checkpoint_get(p_tenant text, p_thread text, p_ns text, p_id uuid)
RETURNS TABLE (${checkpointColumns}) LANGUAGE plpgsql AS $fn$
BEGIN
  ${setTenant}
  RETURN QUERY ${withWrites(`
      SELECT c.* FROM ${s}.checkpoints c
       WHERE c.tenant_id = p_tenant AND c.thread_id = p_thread AND c.id = p_id
         AND c.ns = p_ns`)};
END $fn$;

-- Newest first: of one namespace, or (p_ns NULL) of every namespace in one write order;
-- written before p_before (a checkpoint of the thread in any namespace, ENN01 otherwise);
-- with p_filter (JSON text of top-level metadata keys, each JSON-equal), applied before
-- the limit. Each combination is its own statement, so each cached plan searches its
-- index with bounds that are always there; without a cursor the bound is the largest
-- bigint.
CREATE FUNCTION ${s}.checkpoint_history(
  p_tenant text, p_thread text, p_ns text, p_before uuid, p_filter text, p_limit integer)
RETURNS TABLE (${checkpointColumns}) LANGUAGE plpgsql AS $fn$
DECLARE
  before_seq bigint := 9223372036854775807;
  wanted_metadata jsonb := ${s}.filterable_json(p_filter);
  wanted_scalars jsonb;
  wanted_structures jsonb;
BEGIN
  ${setTenant}
  SELECT jsonb_object_agg(wanted.key, wanted.value)
           FILTER (WHERE jsonb_typeof(wanted.value) NOT IN ('object', 'array')),
         jsonb_object_agg(wanted.key, wanted.value)
           FILTER (WHERE jsonb_typeof(wanted.value) IN ('object', 'array'))
    INTO wanted_scalars, wanted_structures
    FROM jsonb_each(wanted_metadata) AS wanted(key, value);
  IF p_before IS NOT NULL THEN
    SELECT min(c.seq) INTO before_seq FROM ${s}.checkpoints c
     WHERE c.tenant_id = p_tenant AND c.thread_id = p_thread AND c.id = p_before;
    IF before_seq IS NULL THEN
      RAISE EXCEPTION 'checkpoint % is not on this thread', p_before USING ERRCODE = 'ENN01';
    END IF;
  END IF;
  IF p_ns IS NULL AND wanted_metadata IS NULL THEN
    RETURN QUERY ${withWrites(historyPage('', 'none'))};
  ELSIF p_ns IS NULL AND wanted_structures IS NULL THEN
    RETURN QUERY ${withWrites(historyPage('', 'scalars'))};
  ELSIF p_ns IS NULL THEN
    RETURN QUERY ${withWrites(historyPage('', 'any'))};
  ELSIF wanted_metadata IS NULL THEN
    RETURN QUERY ${withWrites(historyPage('AND c.ns = p_ns', 'none'))};
  ELSIF wanted_structures IS NULL THEN
    RETURN QUERY ${withWrites(historyPage('AND c.ns = p_ns', 'scalars'))};
  ELSE
    RETURN QUERY ${withWrites(historyPage('AND c.ns = p_ns', 'any'))};
  END IF;
END $fn$;

-- The fork of updateState: in the parent's namespace, step + 1, the parent's next node.
-- ENN01 (NOT_FOUND) when the parent is not in (thread, ns).
CREATE FUNCTION ${s}.checkpoint_update_state(
  p_tenant text, p_thread text, p_ns text, p_parent uuid, p_id uuid, p_state text,
  p_metadata text, p_created_at timestamptz, p_lock_key text, p_fence bigint)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  parent_step bigint;
  parent_next_node text;
BEGIN
  ${setTenant}
  ${checkFence}
  SELECT c.step, c.next_node INTO parent_step, parent_next_node FROM ${s}.checkpoints c
   WHERE c.tenant_id = p_tenant AND c.thread_id = p_thread AND c.id = p_parent
     AND c.ns = p_ns;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'parent checkpoint % not found', p_parent USING ERRCODE = 'ENN01';
  END IF;
  INSERT INTO ${s}.checkpoints
    (tenant_id, thread_id, ns, id, parent_id, step, state, next_node, metadata, created_at)
  VALUES (p_tenant, p_thread, p_ns, p_id, p_parent, parent_step + 1, p_state,
          parent_next_node, p_metadata, p_created_at);
END $fn$;

-- Every namespace of the thread, and then their writes; returns the checkpoints' count.
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
  IF deleted > 0 THEN
    ${deleteOrphanWrites('w.tenant_id = p_tenant AND w.thread_id = p_thread')}
  END IF;
  RETURN deleted;
END $fn$;

-- A task's writes, given as parallel arrays. The checkpoint must exist (ENN01) and stays
-- locked (FOR KEY SHARE) until the writes commit, so a concurrent delete of it waits
-- and then removes them too. The first write of an idx >= 0 wins; for idx < 0 the last.
CREATE FUNCTION ${s}.checkpoint_put_writes(
  p_tenant text, p_thread text, p_ns text, p_checkpoint uuid, p_task_id text,
  p_task_path text, p_idx bigint[], p_channels text[], p_values text[],
  p_lock_key text, p_fence bigint)
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  ${setTenant}
  ${checkFence}
  PERFORM 1 FROM ${s}.checkpoints c
   WHERE c.tenant_id = p_tenant AND c.thread_id = p_thread AND c.id = p_checkpoint
     AND c.ns = p_ns
   FOR KEY SHARE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'checkpoint % does not exist', p_checkpoint USING ERRCODE = 'ENN01';
  END IF;
  INSERT INTO ${s}.checkpoint_writes AS pw
    (tenant_id, thread_id, ns, checkpoint_id, task_id, idx, task_path, channel, value)
  SELECT p_tenant, p_thread, p_ns, p_checkpoint, p_task_id, batch.idx, p_task_path,
         batch.channel, batch.value
    FROM unnest(p_idx, p_channels, p_values) AS batch(idx, channel, value)
  ON CONFLICT (tenant_id, thread_id, ns, checkpoint_id, task_id, idx) DO UPDATE
    SET task_path = EXCLUDED.task_path, channel = EXCLUDED.channel, value = EXCLUDED.value
    WHERE EXCLUDED.idx < 0;
END $fn$;

-- Keep the newest p_keep_latest checkpoints of each namespace (p_ns NULL) or of p_ns;
-- delete the rest, then their writes; returns how many checkpoints.
CREATE FUNCTION ${s}.checkpoint_prune(
  p_tenant text, p_thread text, p_ns text, p_keep_latest bigint, p_lock_key text,
  p_fence bigint)
RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
  deleted bigint;
BEGIN
  ${setTenant}
  ${checkFence}
  IF p_ns IS NULL THEN
    DELETE FROM ${s}.checkpoints c
     USING (SELECT ranked.id, ranked.ns FROM (
              SELECT k.id, k.ns,
                     row_number() OVER (PARTITION BY k.ns ORDER BY k.seq DESC) AS newest_first
                FROM ${s}.checkpoints k
               WHERE k.tenant_id = p_tenant AND k.thread_id = p_thread) ranked
             WHERE ranked.newest_first > p_keep_latest) doomed
     WHERE c.tenant_id = p_tenant AND c.thread_id = p_thread
       AND c.id = doomed.id AND c.ns = doomed.ns;
  ELSE
    DELETE FROM ${s}.checkpoints c
     USING (SELECT k.id FROM ${s}.checkpoints k
             WHERE k.tenant_id = p_tenant AND k.thread_id = p_thread AND k.ns = p_ns
             ORDER BY k.seq DESC
            OFFSET p_keep_latest) doomed
     WHERE c.tenant_id = p_tenant AND c.thread_id = p_thread
       AND c.id = doomed.id AND c.ns = p_ns;
  END IF;
  GET DIAGNOSTICS deleted = ROW_COUNT;
  IF deleted > 0 THEN
    ${deleteOrphanWrites('w.tenant_id = p_tenant AND w.thread_id = p_thread')}
  END IF;
  RETURN deleted;
END $fn$;

-- Thread ids holding a checkpoint, after p_after ('' for the first page: no thread id
-- is empty), in code-point order. A skip scan of the primary key: each step is one
-- index probe for the first thread id past the last one listed, however many
-- checkpoints each thread holds.
CREATE FUNCTION ${s}.checkpoint_threads(p_tenant text, p_after text, p_limit integer)
RETURNS TABLE (listed_thread_id text) LANGUAGE plpgsql AS $fn$
BEGIN
  ${setTenant}
  RETURN QUERY
    WITH RECURSIVE listed(thread_id) AS (
        (SELECT c.thread_id FROM ${s}.checkpoints c
          WHERE c.tenant_id = p_tenant AND c.thread_id > p_after COLLATE "C"
          ORDER BY c.thread_id
          LIMIT 1)
      UNION ALL
        SELECT (SELECT c.thread_id FROM ${s}.checkpoints c
                 WHERE c.tenant_id = p_tenant AND c.thread_id > listed.thread_id
                 ORDER BY c.thread_id
                 LIMIT 1)
          FROM listed
         WHERE listed.thread_id IS NOT NULL)
    SELECT listed.thread_id::text FROM listed
     WHERE listed.thread_id IS NOT NULL
     LIMIT p_limit;
END $fn$;

-- Store -------------------------------------------------------------------------------

-- One row per ref of p_refs (a JSON array of [scope, key]), in order; NULL columns for
-- an absent or expired item. The refs become plain arrays first: a join condition that
-- computed the scope key from the JSON would not be leakproof, and under row-level
-- security Postgres does not search an index with it.
CREATE FUNCTION ${s}.store_get_many(p_tenant text, p_refs jsonb)
RETURNS TABLE (${storeItemColumns}) LANGUAGE plpgsql AS $fn$
DECLARE
  scope_keys text[];
  item_keys text[];
BEGIN
  ${setTenant}
  SELECT array_agg(${s}.scope_key(ARRAY(SELECT jsonb_array_elements_text(ref.value -> 0)))
                   ORDER BY ref.ordinal),
         array_agg(ref.value ->> 1 ORDER BY ref.ordinal)
    INTO scope_keys, item_keys
    FROM jsonb_array_elements(p_refs) WITH ORDINALITY AS ref(value, ordinal);
  RETURN QUERY
    SELECT i.tenant_id, i.value, i.created_at, i.updated_at, i.expires_at
      FROM unnest(scope_keys, item_keys) WITH ORDINALITY AS wanted(scope_key, key, ordinal)
      LEFT JOIN ${s}.store_items i
        ON i.tenant_id = p_tenant AND i.scope_key = wanted.scope_key AND i.key = wanted.key
       AND ${live('i')}
     ORDER BY wanted.ordinal;
END $fn$;

-- Live items in (scope, key) order under a whole-part prefix (p_prefix '{}': the whole
-- tenant), after the cursor (p_after_scope, p_after_key) when given, filtered before the
-- limit by p_filter (JSON text of [{field, op, value}], on the envelope's state).
-- The prefix is the scope-key range [prefix key, prefix key with its last U+0001 raised);
-- the whole tenant ends below 65 x U+10FFFF, above every scope key (a part holds at most
-- 64 code points of four bytes). With the cursor folded into the lower bound, both bounds
-- are always there, so the cached plans search the primary key with them.
CREATE FUNCTION ${s}.store_search(
  p_tenant text, p_prefix text[], p_after_scope text[], p_after_key text, p_filter text,
  p_limit integer)
RETURNS TABLE (item_tenant_id text, item_scope text[], item_key text, item_value text,
               item_created_at timestamptz, item_updated_at timestamptz,
               item_expires_at timestamptz)
LANGUAGE plpgsql AS $fn$
DECLARE
  prefix_key text := ${s}.scope_key(p_prefix);
  until_scope_key text := CASE WHEN prefix_key = '' THEN repeat(chr(1114111), 65)
                               ELSE left(prefix_key, -1) || E'\\x02' END;
  after_scope_key text := ${s}.scope_key(p_after_scope);
  from_scope_key text := prefix_key;
  -- No key is empty: from ('', prefix) every item of the prefix's first scope is after.
  from_key text := '';
  conditions jsonb := ${s}.filterable_json(p_filter);
  -- As for metadata: the $eq conditions on scalars as one object for containment (false
  -- for a value that is not an object: it has no fields), the others one by one.
  equal_scalars jsonb;
  other_conditions jsonb;
BEGIN
  ${setTenant}
  SELECT jsonb_object_agg(cond.value ->> 'field', cond.value -> 'value')
           FILTER (WHERE cond.value ->> 'op' = '$eq'
                     AND jsonb_typeof(cond.value -> 'value') NOT IN ('object', 'array')),
         jsonb_agg(cond.value)
           FILTER (WHERE cond.value ->> 'op' <> '$eq'
                      OR jsonb_typeof(cond.value -> 'value') IN ('object', 'array'))
    INTO equal_scalars, other_conditions
    FROM jsonb_array_elements(conditions) AS cond(value);
  IF after_scope_key >= prefix_key COLLATE "C" THEN
    from_scope_key := after_scope_key;
    from_key := p_after_key;
  END IF;
  IF conditions IS NULL THEN
    RETURN QUERY ${searchPage('', '')};
  ELSIF other_conditions IS NULL THEN
    RETURN QUERY ${searchPage('', `AND ${s}.filterable_json(i.value) -> 'state' @> equal_scalars`)};
  ELSE
    -- A value that is not an object has no fields: -> of a field then gives NULL, as
    -- for an absent one.
    RETURN QUERY ${searchPage(
      `CROSS JOIN LATERAL (SELECT ${s}.filterable_json(i.value) -> 'state' AS state OFFSET 0) doc`,
      `AND (equal_scalars IS NULL OR doc.state @> equal_scalars)
         AND NOT EXISTS (
               SELECT 1 FROM jsonb_to_recordset(other_conditions)
                               AS cond(field text, op text, value jsonb)
                WHERE NOT ${s}.store_filter_holds(doc.state -> cond.field, cond.op, cond.value))`,
    )};
  END IF;
END $fn$;

-- Session log ---------------------------------------------------------------------------

-- One atomic step: with p_expected_head, ENC01 (CONFLICT) and nothing written unless the
-- head is that ordinal; with p_truncate_after, the events after it are deleted first;
-- then the batch gets the next ordinals. The head row is bumped by the batch size, so
-- concurrent appenders queue on it and ordinals stay consecutive and never reused. A
-- thread without a head row has head 0: its first append inserts the row, and a racing
-- first append then finds the row on conflict and is checked against its new head.
CREATE FUNCTION ${s}.log_append(
  p_tenant text, p_thread text, p_events text[], p_expected_head bigint,
  p_truncate_after bigint, p_lock_key text, p_fence bigint)
RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
  batch_size integer := coalesce(cardinality(p_events), 0);
  new_head bigint;
BEGIN
  ${setTenant}
  ${checkFence}
  IF batch_size = 0 THEN
    -- A conditional truncation: the head stays, and a thread that never held an event
    -- gets no head row. FOR UPDATE holds off appends until it commits.
    SELECT h.head INTO new_head FROM ${s}.session_heads h
     WHERE h.tenant_id = p_tenant AND h.thread_id = p_thread
     FOR UPDATE;
    new_head := coalesce(new_head, 0);
    IF p_expected_head IS NOT NULL AND new_head <> p_expected_head THEN
      RAISE EXCEPTION 'the head is not %', p_expected_head USING ERRCODE = 'ENC01';
    END IF;
  ELSE
    INSERT INTO ${s}.session_heads AS h (tenant_id, thread_id, head)
    VALUES (p_tenant, p_thread, batch_size)
    ON CONFLICT (tenant_id, thread_id) DO UPDATE SET head = h.head + EXCLUDED.head
      WHERE p_expected_head IS NULL OR h.head = p_expected_head
    RETURNING h.head INTO new_head;
    -- No row: the update's condition failed. An inserted row had head 0 before.
    IF p_expected_head IS NOT NULL
       AND (new_head IS NULL OR new_head - batch_size <> p_expected_head) THEN
      RAISE EXCEPTION 'the head is not %', p_expected_head USING ERRCODE = 'ENC01';
    END IF;
  END IF;
  IF p_truncate_after IS NOT NULL THEN
    DELETE FROM ${s}.session_events
     WHERE tenant_id = p_tenant AND thread_id = p_thread AND seq > p_truncate_after;
  END IF;
  IF batch_size > 0 THEN
    INSERT INTO ${s}.session_events (tenant_id, thread_id, seq, event)
    SELECT p_tenant, p_thread, new_head - batch_size + batch.ordinal, batch.event
      FROM unnest(p_events) WITH ORDINALITY AS batch(event, ordinal);
  END IF;
  RETURN new_head;
END $fn$;

-- The newest p_limit events, ascending: a backward scan of the primary key.
CREATE FUNCTION ${s}.log_load_latest(p_tenant text, p_thread text, p_limit integer)
RETURNS TABLE (ev_tenant_id text, ev_seq bigint, ev_event text, ev_ts timestamptz)
LANGUAGE plpgsql AS $fn$
BEGIN
  ${setTenant}
  RETURN QUERY
    SELECT newest.tenant_id, newest.seq, newest.event, newest.ts
      FROM (SELECT e.tenant_id, e.seq, e.event, e.ts FROM ${s}.session_events e
             WHERE e.tenant_id = p_tenant AND e.thread_id = p_thread
             ORDER BY e.seq DESC
             LIMIT p_limit) newest
     ORDER BY newest.seq;
END $fn$;

-- Deletes seq > p_seq and keeps the head. With p_expected_head, ENC01 and nothing
-- deleted unless the head is that ordinal; the head row is locked (FOR UPDATE) so no
-- append moves it between the check and the delete, and a thread without one keeps
-- having none.
CREATE FUNCTION ${s}.log_truncate_after(
  p_tenant text, p_thread text, p_seq bigint, p_expected_head bigint, p_lock_key text,
  p_fence bigint)
RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
  current_head bigint;
  deleted bigint;
BEGIN
  ${setTenant}
  ${checkFence}
  IF p_expected_head IS NOT NULL THEN
    SELECT h.head INTO current_head FROM ${s}.session_heads h
     WHERE h.tenant_id = p_tenant AND h.thread_id = p_thread
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

-- Threads that ever held an event (their head row stays), after p_after ('' for the
-- first page), in code-point order: one head row per thread, so a range of the key.
CREATE FUNCTION ${s}.log_threads(p_tenant text, p_after text, p_limit integer)
RETURNS TABLE (listed_thread_id text) LANGUAGE plpgsql AS $fn$
BEGIN
  ${setTenant}
  RETURN QUERY
    SELECT h.thread_id::text FROM ${s}.session_heads h
     WHERE h.tenant_id = p_tenant AND h.thread_id > p_after COLLATE "C"
     ORDER BY h.thread_id
     LIMIT p_limit;
END $fn$;

-- Tenant ------------------------------------------------------------------------------

-- Everything the tenant holds, as its caller under row-level security: checkpoints,
-- then their writes (in a statement of their own, as above), store items (expired ones
-- too) and events; the counts of each. Session heads stay, so ordinals never repeat.
-- Lock rows stay too, every lease ended and each fence moved past its newest grant, so
-- a lease granted before the purge never passes fencing after it. A second call finds
-- nothing to delete.
CREATE FUNCTION ${s}.tenant_purge(p_tenant text)
RETURNS TABLE (purged_checkpoints bigint, purged_writes bigint, purged_store_items bigint,
               purged_events bigint)
LANGUAGE plpgsql AS $fn$
BEGIN
  ${setTenant}
  DELETE FROM ${s}.checkpoints WHERE tenant_id = p_tenant;
  GET DIAGNOSTICS purged_checkpoints = ROW_COUNT;
  ${deleteOrphanWrites('w.tenant_id = p_tenant')}
  GET DIAGNOSTICS purged_writes = ROW_COUNT;
  DELETE FROM ${s}.store_items WHERE tenant_id = p_tenant;
  GET DIAGNOSTICS purged_store_items = ROW_COUNT;
  DELETE FROM ${s}.session_events WHERE tenant_id = p_tenant;
  GET DIAGNOSTICS purged_events = ROW_COUNT;
  UPDATE ${s}.locks SET fence = fence + 1, expires_at = NULL WHERE tenant_id = p_tenant;
  RETURN NEXT;
END $fn$;

REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA ${s} FROM PUBLIC;
`;
}
