/**
 * Migration 1: every table, row-level security, and the SQL functions the contracts
 * call. `s` is the quoted schema name.
 *
 * Why functions: each unit of work must set the tenant transaction-locally and then
 * act under row-level security. One function call per operation does both in a single
 * statement, so an operation costs one round trip (no BEGIN / set_config / COMMIT),
 * and the implicit transaction of that statement drops the tenant when it ends. The
 * functions are SECURITY INVOKER (the default): row-level security applies to the
 * calling role exactly as if it had sent the statements itself.
 *
 * Why `text` for payloads: the envelope JSON text round-trips byte for byte, including
 * `\u0000` and lone-surrogate escapes that `jsonb` rejects or rewrites.
 */
export function initialMigration(s: string): string {
  const tenantPolicy = `tenant_id = NULLIF(current_setting('entelix.tenant_id', true), '')`;
  // An assignment, not PERFORM: PL/pgSQL evaluates a plain expression on its fast path,
  // where PERFORM runs a whole query through the executor (about 10% of a small write's
  // server time). set_config returns the value it set, so p_tenant keeps its value.
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

  return `
-- The migrations table holds no tenant data: everyone who may use the schema may read
-- the version; only the role that ran the migrations may change it.
ALTER TABLE ${s}.schema_migrations ENABLE ROW LEVEL SECURITY;
ALTER TABLE ${s}.schema_migrations FORCE ROW LEVEL SECURITY;
CREATE POLICY read_version ON ${s}.schema_migrations FOR SELECT USING (true);
DO $entelix$ BEGIN
  EXECUTE format(
    'CREATE POLICY owner_writes_version ON ${s}.schema_migrations TO %I USING (true) WITH CHECK (true)',
    current_user);
END $entelix$;

CREATE TABLE ${s}.checkpoints (
  tenant_id  text NOT NULL CHECK (tenant_id <> ''),
  thread_id  text NOT NULL,
  id         uuid NOT NULL,
  -- Write order: "latest" and history are by seq, never by step or a client clock.
  seq        bigint GENERATED ALWAYS AS IDENTITY,
  parent_id  uuid,
  step       bigint NOT NULL CHECK (step >= 0),
  state      text NOT NULL,
  next_node  text,
  created_at timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, thread_id, id)
);
CREATE INDEX checkpoints_write_order ON ${s}.checkpoints (tenant_id, thread_id, seq DESC);
${isolate('checkpoints')}

-- A scope as one text that sorts, under COLLATE "C", exactly as the text[] does part by
-- part, and where "starts with these whole parts" is a text range. Each part ends with
-- U+0001, and U+0001 / U+0002 inside a part become U+0002 U+0001 / U+0002 U+0002, so a
-- part's end sorts before anything that could follow in a longer part.
--
-- Why not the text[] itself: array comparison is not leakproof, and under row-level
-- security Postgres may not use a non-leakproof condition to search an index. With
-- "scope = $1" every store lookup would read all of the tenant's items.
CREATE FUNCTION ${s}.scope_key(p_scope text[])
RETURNS text LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $fn$
DECLARE
  part text;
  encoded text := '';
BEGIN
  FOREACH part IN ARRAY p_scope LOOP
    encoded := encoded
      || replace(replace(part, E'\\x02', E'\\x02\\x02'), E'\\x01', E'\\x02\\x01') || E'\\x01';
  END LOOP;
  RETURN encoded;
END $fn$;

CREATE TABLE ${s}.store_items (
  tenant_id  text NOT NULL CHECK (tenant_id <> ''),
  -- COLLATE "C": keys and scopes order by code point, and prefix ranges are exact.
  scope      text[] COLLATE "C" NOT NULL CHECK (cardinality(scope) > 0),
  scope_key  text COLLATE "C" NOT NULL GENERATED ALWAYS AS (${s}.scope_key(scope)) STORED,
  key        text COLLATE "C" NOT NULL,
  value      text NOT NULL,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  expires_at timestamptz,
  PRIMARY KEY (tenant_id, scope_key, key)
);
CREATE INDEX store_items_expiry ON ${s}.store_items (tenant_id, expires_at)
  WHERE expires_at IS NOT NULL;
${isolate('store_items')}
-- evictExpired() without a tenant runs as the migrating (owning) role through
-- sweep_all_expired(); under FORCE ROW LEVEL SECURITY the owner needs its own policies,
-- and they reach only rows that have already expired.
DO $entelix$ BEGIN
  EXECUTE format(
    'CREATE POLICY owner_reads_expired ON ${s}.store_items FOR SELECT TO %I USING (expires_at <= now())',
    current_user);
  EXECUTE format(
    'CREATE POLICY owner_evicts_expired ON ${s}.store_items FOR DELETE TO %I USING (expires_at <= now())',
    current_user);
END $entelix$;

CREATE TABLE ${s}.session_heads (
  tenant_id text NOT NULL CHECK (tenant_id <> ''),
  thread_id text NOT NULL,
  -- The last ordinal handed out. Kept when events are archived or deleted, so
  -- ordinals are never reused.
  head      bigint NOT NULL CHECK (head >= 0),
  PRIMARY KEY (tenant_id, thread_id)
);
${isolate('session_heads')}

CREATE TABLE ${s}.session_events (
  tenant_id text NOT NULL CHECK (tenant_id <> ''),
  thread_id text NOT NULL,
  seq       bigint NOT NULL CHECK (seq > 0),
  event     text NOT NULL,
  ts        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, thread_id, seq)
);
${isolate('session_events')}

CREATE TABLE ${s}.locks (
  tenant_id  text NOT NULL CHECK (tenant_id <> ''),
  lock_key   text NOT NULL,
  -- The newest grant's fence. The row outlives release and expiry, so fences
  -- strictly increase per key across every grant.
  fence      bigint NOT NULL CHECK (fence > 0),
  -- NULL once released; a lease is live while expires_at is in the future.
  expires_at timestamptz,
  PRIMARY KEY (tenant_id, lock_key)
);
${isolate('locks')}

-- Raise FENCED (SQLSTATE ENF01) unless p_fence is the newest grant for the lock key.
-- FOR SHARE holds off a new grant until the caller's write commits.
CREATE FUNCTION ${s}.check_fence(p_tenant text, p_lock_key text, p_fence bigint)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  newest bigint;
BEGIN
  SELECT fence INTO newest FROM ${s}.locks
   WHERE tenant_id = p_tenant AND lock_key = p_lock_key
   FOR SHARE;
  IF newest IS DISTINCT FROM p_fence THEN
    RAISE EXCEPTION 'fence % is not the newest grant (%)', p_fence, coalesce(newest, 0)
      USING ERRCODE = 'ENF01';
  END IF;
END $fn$;

-- Checkpointer ---------------------------------------------------------------------

CREATE FUNCTION ${s}.put_checkpoint(
  p_tenant text, p_thread text, p_id uuid, p_parent uuid, p_step bigint, p_state text,
  p_next_node text, p_created_at timestamptz, p_lock_key text, p_fence bigint)
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  ${setTenant}
  ${checkFence}
  INSERT INTO ${s}.checkpoints
    (tenant_id, thread_id, id, parent_id, step, state, next_node, created_at)
  VALUES (p_tenant, p_thread, p_id, p_parent, p_step, p_state, p_next_node, p_created_at);
END $fn$;

CREATE FUNCTION ${s}.latest_checkpoint(p_tenant text, p_thread text)
RETURNS SETOF ${s}.checkpoints LANGUAGE plpgsql AS $fn$
BEGIN
  ${setTenant}
  RETURN QUERY
    SELECT * FROM ${s}.checkpoints
     WHERE tenant_id = p_tenant AND thread_id = p_thread
     ORDER BY seq DESC
     LIMIT 1;
END $fn$;

CREATE FUNCTION ${s}.checkpoint_by_id(p_tenant text, p_thread text, p_id uuid)
RETURNS SETOF ${s}.checkpoints LANGUAGE plpgsql AS $fn$
BEGIN
  ${setTenant}
  RETURN QUERY
    SELECT * FROM ${s}.checkpoints
     WHERE tenant_id = p_tenant AND thread_id = p_thread AND id = p_id;
END $fn$;

CREATE FUNCTION ${s}.checkpoint_history(
  p_tenant text, p_thread text, p_limit integer, p_before uuid)
RETURNS SETOF ${s}.checkpoints LANGUAGE plpgsql AS $fn$
DECLARE
  before_seq bigint;
BEGIN
  ${setTenant}
  IF p_before IS NULL THEN
    RETURN QUERY
      SELECT * FROM ${s}.checkpoints
       WHERE tenant_id = p_tenant AND thread_id = p_thread
       ORDER BY seq DESC
       LIMIT p_limit;
    RETURN;
  END IF;
  SELECT seq INTO before_seq FROM ${s}.checkpoints
   WHERE tenant_id = p_tenant AND thread_id = p_thread AND id = p_before;
  -- A cursor that is not on this thread pages to nothing.
  IF NOT FOUND THEN
    RETURN;
  END IF;
  RETURN QUERY
    SELECT * FROM ${s}.checkpoints
     WHERE tenant_id = p_tenant AND thread_id = p_thread AND seq < before_seq
     ORDER BY seq DESC
     LIMIT p_limit;
END $fn$;

-- Raise ENN01 (NOT_FOUND) when the parent is missing.
CREATE FUNCTION ${s}.fork_checkpoint(
  p_tenant text, p_thread text, p_parent uuid, p_id uuid, p_state text,
  p_created_at timestamptz, p_lock_key text, p_fence bigint)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  parent_step bigint;
  parent_next_node text;
BEGIN
  ${setTenant}
  ${checkFence}
  SELECT step, next_node INTO parent_step, parent_next_node FROM ${s}.checkpoints
   WHERE tenant_id = p_tenant AND thread_id = p_thread AND id = p_parent;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'parent checkpoint % not found', p_parent USING ERRCODE = 'ENN01';
  END IF;
  INSERT INTO ${s}.checkpoints
    (tenant_id, thread_id, id, parent_id, step, state, next_node, created_at)
  VALUES (p_tenant, p_thread, p_id, p_parent, parent_step + 1, p_state, parent_next_node,
          p_created_at);
END $fn$;

CREATE FUNCTION ${s}.delete_checkpoints(
  p_tenant text, p_thread text, p_lock_key text, p_fence bigint)
RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
  deleted bigint;
BEGIN
  ${setTenant}
  ${checkFence}
  DELETE FROM ${s}.checkpoints WHERE tenant_id = p_tenant AND thread_id = p_thread;
  GET DIAGNOSTICS deleted = ROW_COUNT;
  RETURN deleted;
END $fn$;

-- Store ----------------------------------------------------------------------------

CREATE FUNCTION ${s}.store_put(
  p_tenant text, p_scope text[], p_key text, p_value text, p_ttl_ms bigint,
  p_lock_key text, p_fence bigint)
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  ${setTenant}
  ${checkFence}
  INSERT INTO ${s}.store_items AS item
    (tenant_id, scope, key, value, created_at, updated_at, expires_at)
  VALUES (p_tenant, p_scope, p_key, p_value, now(), now(),
          now() + p_ttl_ms * interval '1 millisecond')
  ON CONFLICT (tenant_id, scope_key, key) DO UPDATE
    SET value = EXCLUDED.value,
        updated_at = EXCLUDED.updated_at,
        expires_at = EXCLUDED.expires_at,
        -- An expired item is gone even if not yet evicted: replacing it starts anew.
        created_at = CASE WHEN item.expires_at <= now() THEN EXCLUDED.created_at
                          ELSE item.created_at END;
END $fn$;

-- Not the scope and key: the caller has them, and arrays are costly to parse.
CREATE FUNCTION ${s}.store_get(p_tenant text, p_scope text[], p_key text)
RETURNS TABLE (item_tenant_id text, item_value text, item_created_at timestamptz,
               item_updated_at timestamptz, item_expires_at timestamptz)
LANGUAGE plpgsql AS $fn$
DECLARE
  item_scope_key text := ${s}.scope_key(p_scope);
BEGIN
  ${setTenant}
  RETURN QUERY
    SELECT tenant_id, value, created_at, updated_at, expires_at FROM ${s}.store_items
     WHERE tenant_id = p_tenant AND scope_key = item_scope_key COLLATE "C" AND key = p_key COLLATE "C"
       AND (expires_at IS NULL OR expires_at > now());
END $fn$;

-- True only when a live item was deleted; an expired one is swept all the same.
CREATE FUNCTION ${s}.store_delete(
  p_tenant text, p_scope text[], p_key text, p_lock_key text, p_fence bigint)
RETURNS boolean LANGUAGE plpgsql AS $fn$
DECLARE
  item_scope_key text := ${s}.scope_key(p_scope);
  was_live boolean;
BEGIN
  ${setTenant}
  ${checkFence}
  DELETE FROM ${s}.store_items
   WHERE tenant_id = p_tenant AND scope_key = item_scope_key COLLATE "C" AND key = p_key COLLATE "C"
  RETURNING expires_at IS NULL OR expires_at > now() INTO was_live;
  RETURN coalesce(was_live, false);
END $fn$;

-- Keyset page of live keys in [p_from, p_until): the caller turns the prefix and the
-- cursor into these two bounds, and neither is optional, so that the plan PL/pgSQL
-- caches for the statement searches the index with both ("p IS NULL OR key >= p"
-- would leave the search to a filter over the whole namespace).
CREATE FUNCTION ${s}.store_list(
  p_tenant text, p_scope text[], p_from text, p_until text, p_limit integer)
RETURNS TABLE (item_tenant_id text, item_key text) LANGUAGE plpgsql AS $fn$
DECLARE
  item_scope_key text := ${s}.scope_key(p_scope);
BEGIN
  ${setTenant}
  RETURN QUERY
    SELECT item.tenant_id, item.key::text FROM ${s}.store_items item
     WHERE item.tenant_id = p_tenant AND item.scope_key = item_scope_key COLLATE "C"
       AND item.key >= p_from COLLATE "C" AND item.key < p_until COLLATE "C"
       AND (item.expires_at IS NULL OR item.expires_at > now())
     ORDER BY item.key
     LIMIT p_limit;
END $fn$;

-- Namespaces with a live item: whole-part prefix, truncated to p_max_depth, distinct,
-- ordered part by part (text[] comparison under COLLATE "C"), keyset after p_after.
--
-- A skip scan over scope keys, which sort like the scopes: each step reads the first
-- live item at or after next_key, lists its (truncated) scope, then jumps past every
-- item that would list the same scope. So a call reads about one index entry per
-- namespace it returns, however many items each holds.
--   - The scopes starting with p_prefix have keys from prefix_key up to prefix_key with
--     its last U+0001 raised to U+0002.
--   - Past one scope key K: K || U+0002. Every longer key starting with K continues
--     with U+0002 or higher (a part is never empty, and U+0001 in a part is escaped).
--   - Past everything truncating to the same scope T: T's key, last U+0001 raised.
CREATE FUNCTION ${s}.store_namespaces(
  p_tenant text, p_prefix text[], p_max_depth integer, p_after text[], p_limit integer)
RETURNS TABLE (ns_tenant_id text, ns_scope text[]) LANGUAGE plpgsql AS $fn$
DECLARE
  prefix_key text := ${s}.scope_key(p_prefix);
  prefix_end text := CASE WHEN prefix_key <> '' THEN left(prefix_key, -1) || E'\\x02' END;
  -- The first key after the cursor's own (NULL without a cursor).
  past_cursor text := ${s}.scope_key(p_after) || E'\\x02';
  next_key text := prefix_key;
  item record;
  listed integer := 0;
BEGIN
  ${setTenant}
  IF past_cursor > next_key COLLATE "C" THEN
    next_key := past_cursor;
  END IF;
  LOOP
    -- The end of the prefix range is checked here, not in the query: a cached generic
    -- plan cannot search the index with an optional bound ("bound IS NULL OR ...").
    SELECT i.tenant_id, i.scope, i.scope_key INTO item FROM ${s}.store_items i
     WHERE i.tenant_id = p_tenant
       AND i.scope_key >= next_key COLLATE "C"
       AND (i.expires_at IS NULL OR i.expires_at > now())
     ORDER BY i.scope_key
     LIMIT 1;
    EXIT WHEN NOT FOUND OR item.scope_key >= prefix_end COLLATE "C";
    IF p_max_depth IS NOT NULL AND cardinality(item.scope) >= p_max_depth THEN
      ns_scope := item.scope[1:p_max_depth];
      next_key := left(${s}.scope_key(ns_scope), -1) || E'\\x02';
    ELSE
      ns_scope := item.scope;
      next_key := item.scope_key || E'\\x02';
    END IF;
    -- Only a truncated scope can fall at or before the cursor: its full scope is after it.
    CONTINUE WHEN p_after IS NOT NULL AND ns_scope <= p_after COLLATE "C";
    ns_tenant_id := item.tenant_id;
    RETURN NEXT;
    listed := listed + 1;
    EXIT WHEN listed = p_limit;
  END LOOP;
END $fn$;

CREATE FUNCTION ${s}.store_evict_expired(p_tenant text)
RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
  deleted bigint;
BEGIN
  ${setTenant}
  DELETE FROM ${s}.store_items WHERE tenant_id = p_tenant AND expires_at <= now();
  GET DIAGNOSTICS deleted = ROW_COUNT;
  RETURN deleted;
END $fn$;

-- Every tenant's expired items. SECURITY DEFINER: runs as the owning role, whose
-- owner_*_expired policies reach expired rows only, so the application role can sweep
-- without seeing any live row of another tenant.
CREATE FUNCTION ${s}.store_evict_all_expired()
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  deleted bigint;
BEGIN
  DELETE FROM ${s}.store_items WHERE expires_at <= now();
  GET DIAGNOSTICS deleted = ROW_COUNT;
  RETURN deleted;
END $fn$;

-- Session log ------------------------------------------------------------------------

-- The head row is bumped by the batch size in the same transaction as the insert, so
-- concurrent appenders queue on that row and ordinals are gap-free and consecutive.
CREATE FUNCTION ${s}.append_events(
  p_tenant text, p_thread text, p_events text[], p_lock_key text, p_fence bigint)
RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
  batch_size integer := coalesce(cardinality(p_events), 0);
  new_head bigint;
BEGIN
  ${setTenant}
  ${checkFence}
  IF batch_size = 0 THEN
    SELECT head INTO new_head FROM ${s}.session_heads
     WHERE tenant_id = p_tenant AND thread_id = p_thread;
    RETURN coalesce(new_head, 0);
  END IF;
  INSERT INTO ${s}.session_heads AS h (tenant_id, thread_id, head)
  VALUES (p_tenant, p_thread, batch_size)
  ON CONFLICT (tenant_id, thread_id) DO UPDATE SET head = h.head + EXCLUDED.head
  RETURNING h.head INTO new_head;
  INSERT INTO ${s}.session_events (tenant_id, thread_id, seq, event)
  SELECT p_tenant, p_thread, new_head - batch_size + batch.ordinal, batch.event
    FROM unnest(p_events) WITH ORDINALITY AS batch(event, ordinal);
  RETURN new_head;
END $fn$;

CREATE FUNCTION ${s}.events_since(
  p_tenant text, p_thread text, p_cursor bigint, p_limit integer)
RETURNS TABLE (ev_tenant_id text, ev_seq bigint, ev_event text, ev_ts timestamptz)
LANGUAGE plpgsql AS $fn$
BEGIN
  ${setTenant}
  RETURN QUERY
    SELECT e.tenant_id, e.seq, e.event, e.ts FROM ${s}.session_events e
     WHERE e.tenant_id = p_tenant AND e.thread_id = p_thread AND e.seq > p_cursor
     ORDER BY e.seq
     LIMIT p_limit;
END $fn$;

CREATE FUNCTION ${s}.log_head(p_tenant text, p_thread text)
RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
  current_head bigint;
BEGIN
  ${setTenant}
  SELECT head INTO current_head FROM ${s}.session_heads
   WHERE tenant_id = p_tenant AND thread_id = p_thread;
  RETURN coalesce(current_head, 0);
END $fn$;

-- Deletes seq < watermark, the watermark clamped to head + 1.
CREATE FUNCTION ${s}.archive_events(
  p_tenant text, p_thread text, p_watermark bigint, p_lock_key text, p_fence bigint)
RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
  current_head bigint;
  deleted bigint;
BEGIN
  ${setTenant}
  ${checkFence}
  SELECT head INTO current_head FROM ${s}.session_heads
   WHERE tenant_id = p_tenant AND thread_id = p_thread;
  DELETE FROM ${s}.session_events
   WHERE tenant_id = p_tenant AND thread_id = p_thread
     AND seq < least(p_watermark, coalesce(current_head, 0) + 1);
  GET DIAGNOSTICS deleted = ROW_COUNT;
  RETURN deleted;
END $fn$;

-- Deletes the events but keeps the head row: ordinals are never reused.
CREATE FUNCTION ${s}.delete_events(
  p_tenant text, p_thread text, p_lock_key text, p_fence bigint)
RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
  deleted bigint;
BEGIN
  ${setTenant}
  ${checkFence}
  DELETE FROM ${s}.session_events WHERE tenant_id = p_tenant AND thread_id = p_thread;
  GET DIAGNOSTICS deleted = ROW_COUNT;
  RETURN deleted;
END $fn$;

-- Lock -------------------------------------------------------------------------------

-- The new fence, or NULL while another live lease holds the key. ON CONFLICT locks
-- the row and re-checks expiry on its newest version, so racers get one grant.
-- clock_timestamp(): the database clock, not the caller's and not transaction start.
CREATE FUNCTION ${s}.try_acquire_lock(p_tenant text, p_lock_key text, p_ttl_ms bigint)
RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
  granted bigint;
BEGIN
  ${setTenant}
  INSERT INTO ${s}.locks AS l (tenant_id, lock_key, fence, expires_at)
  VALUES (p_tenant, p_lock_key, 1, clock_timestamp() + p_ttl_ms * interval '1 millisecond')
  ON CONFLICT (tenant_id, lock_key) DO UPDATE
    SET fence = l.fence + 1, expires_at = EXCLUDED.expires_at
    WHERE l.expires_at IS NULL OR l.expires_at <= clock_timestamp()
  RETURNING l.fence INTO granted;
  RETURN granted;
END $fn$;

CREATE FUNCTION ${s}.extend_lock(
  p_tenant text, p_lock_key text, p_fence bigint, p_ttl_ms bigint)
RETURNS boolean LANGUAGE plpgsql AS $fn$
BEGIN
  ${setTenant}
  UPDATE ${s}.locks
     SET expires_at = clock_timestamp() + p_ttl_ms * interval '1 millisecond'
   WHERE tenant_id = p_tenant AND lock_key = p_lock_key AND fence = p_fence
     AND expires_at > clock_timestamp();
  RETURN FOUND;
END $fn$;

-- Keeps the row (and its fence counter); only the lease ends.
CREATE FUNCTION ${s}.release_lock(p_tenant text, p_lock_key text, p_fence bigint)
RETURNS boolean LANGUAGE plpgsql AS $fn$
BEGIN
  ${setTenant}
  UPDATE ${s}.locks SET expires_at = NULL
   WHERE tenant_id = p_tenant AND lock_key = p_lock_key AND fence = p_fence
     AND expires_at > clock_timestamp();
  RETURN FOUND;
END $fn$;
`;
}
