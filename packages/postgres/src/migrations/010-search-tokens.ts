/**
 * Migration 10: a filtered store search skips, without parsing it, an item whose value
 * cannot hold a string its filter requires. `s` is the quoted schema name.
 *
 * One function replaced with the same arguments and results: nothing to re-grant, and a
 * bundle of the previous release keeps working on this schema, with the new plan.
 */
export function searchTokensMigration(s: string): string {
  const live = (item: string) => `(${item}.expires_at IS NULL OR ${item}.expires_at > now())`;
  // An item whose value is known to hold no \u escape and lacks the token is no match:
  // read before the cast to jsonb, which costs several times more per item.
  const holdsToken = `(required_token IS NULL OR i.value_has_escape IS NOT FALSE
              OR strpos(i.value, required_token) > 0)`;
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
-- As in migration 7, with a token: the first $eq condition on a string that JSON writes
-- only one way without a \\u escape (no quote, backslash, slash or control character:
-- those have short escapes too), quoted as JSON writes it. A value holding that string
-- anywhere as a JSON string holds the token, so a value without it (and without a \\u
-- escape, as its put recorded) is skipped before it is parsed; the other values are
-- parsed and compared as before. And with the plan setting of migration 5, which CREATE
-- OR REPLACE would drop if not given again.
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
  required_token text;
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
  SELECT '"' || (cond.value ->> 'value') || '"' INTO required_token
    FROM jsonb_array_elements(conditions) AS cond(value)
   WHERE cond.value ->> 'op' = '$eq' AND jsonb_typeof(cond.value -> 'value') = 'string'
     AND (cond.value ->> 'value') !~ '["\\\\/[:cntrl:]]'
   LIMIT 1;
  IF after_scope_key >= prefix_key COLLATE "C" THEN
    from_scope_key := after_scope_key;
    from_key := p_after_key;
  END IF;
  IF conditions IS NULL THEN
    RETURN QUERY ${searchPage('', '')};
  ELSIF other_conditions IS NULL THEN
    RETURN QUERY ${searchPage(
      '',
      `AND ${holdsToken}
         AND ${state} @> equal_scalars`,
    )};
  ELSE
    -- A value that is not an object has no fields: -> of a field then gives NULL, as
    -- for an absent one.
    RETURN QUERY ${searchPage(
      `CROSS JOIN LATERAL (SELECT ${state} AS state OFFSET 0) doc`,
      `AND ${holdsToken}
         AND (equal_scalars IS NULL OR doc.state @> equal_scalars)
         AND NOT EXISTS (
               SELECT 1 FROM jsonb_array_elements(other_conditions) AS cond(value)
                WHERE NOT ${s}.store_filter_holds(doc.state -> (cond.value ->> 'field'),
                                                  cond.value ->> 'op', cond.value -> 'value'))`,
    )};
  END IF;
END $fn$;
`;
}
