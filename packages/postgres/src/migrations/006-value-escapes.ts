/**
 * Migration 6: a filtered store search casts each item's value to jsonb directly unless
 * the value holds a `\u` escape, which the item's put recorded, instead of looking for
 * one in every value it reads. `s` is the quoted schema name.
 *
 * A new nullable column (no rewrite of the table) and two functions replaced with the
 * same arguments and results: nothing to re-grant, and a bundle of the previous release
 * keeps working on this schema (its puts record nothing, which reads as "not known").
 */
export function valueEscapesMigration(s: string): string {
  const live = (item: string) => `(${item}.expires_at IS NULL OR ${item}.expires_at > now())`;
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
  // Only a \u escape can hold what jsonb refuses (see filterable_json); a value known to
  // have none is cast as it is.
  const state = `(CASE WHEN i.value_has_escape IS FALSE THEN i.value::jsonb
                 ELSE ${s}.filterable_json(i.value) END) -> 'state'`;

  return `
-- True when the value's JSON text holds a \\u escape; NULL for an item last written
-- before this migration, which filters read as if it held one. Filters read the value
-- through filterable_json only then: looking for the escape in every value read was a
-- fifth of a filtered search (0.54 against 0.44 ms for 100 of 200 items of 256 bytes).
ALTER TABLE ${s}.store_items ADD COLUMN value_has_escape boolean;

CREATE OR REPLACE FUNCTION ${s}.store_put(
  p_tenant text, p_scope text[], p_key text, p_value text, p_ttl_ms bigint,
  p_lock_key text, p_fence bigint)
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  p_tenant := set_config('entelix.tenant_id', p_tenant, true);
  IF p_lock_key IS NOT NULL THEN
    PERFORM ${s}.check_fence(p_tenant, p_lock_key, p_fence);
  END IF;
  INSERT INTO ${s}.store_items AS item
    (tenant_id, scope, key, value, value_has_escape, created_at, updated_at, expires_at)
  VALUES (p_tenant, p_scope, p_key, p_value, strpos(p_value, '\\u') > 0, now(), now(),
          now() + p_ttl_ms * interval '1 millisecond')
  ON CONFLICT (tenant_id, scope_key, key) DO UPDATE
    SET value = EXCLUDED.value,
        value_has_escape = EXCLUDED.value_has_escape,
        updated_at = EXCLUDED.updated_at,
        expires_at = EXCLUDED.expires_at,
        -- An expired item is gone even if not yet evicted: replacing it starts anew.
        created_at = CASE WHEN item.expires_at <= now() THEN EXCLUDED.created_at
                          ELSE item.created_at END;
END $fn$;

-- As in migration 3, with the value read through value_has_escape, and with the plan
-- setting of migration 5, which CREATE OR REPLACE would drop if not given again.
CREATE OR REPLACE FUNCTION ${s}.store_search(
  p_tenant text, p_prefix text[], p_after_scope text[], p_after_key text, p_filter text,
  p_limit integer)
RETURNS TABLE (item_tenant_id text, item_scope text[], item_key text, item_value text,
               item_created_at timestamptz, item_updated_at timestamptz,
               item_expires_at timestamptz)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $fn$
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
  p_tenant := set_config('entelix.tenant_id', p_tenant, true);
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
    RETURN QUERY ${searchPage('', `AND ${state} @> equal_scalars`)};
  ELSE
    -- A value that is not an object has no fields: -> of a field then gives NULL, as
    -- for an absent one.
    RETURN QUERY ${searchPage(
      `CROSS JOIN LATERAL (SELECT ${state} AS state OFFSET 0) doc`,
      `AND (equal_scalars IS NULL OR doc.state @> equal_scalars)
         AND NOT EXISTS (
               SELECT 1 FROM jsonb_to_recordset(other_conditions)
                               AS cond(field text, op text, value jsonb)
                WHERE NOT ${s}.store_filter_holds(doc.state -> cond.field, cond.op, cond.value))`,
    )};
  END IF;
END $fn$;
`;
}
