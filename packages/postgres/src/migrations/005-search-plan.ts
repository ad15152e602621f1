/**
 * Migration 5: store search keeps one query plan per connection instead of planning its
 * page anew on every call. `s` is the quoted schema name.
 *
 * It only changes a setting of one function: no table, grant or result changes, and a
 * bundle of the previous release keeps working on this schema until it is stopped.
 */
export function searchPlanMigration(s: string): string {
  return `
-- PL/pgSQL caches the plan of store_search's page query, but by default it plans the
-- query again with each call's bounds (a custom plan) whenever the plan for any bounds
-- (the generic plan) looks dearer to the planner, and for a bounded range of the primary
-- key it always does. Both plans are the same search of the primary key between the
-- bounds; planning it again cost more than running it (about 0.3 of 0.5 ms on a page of
-- 100). The setting holds only while the function runs.
ALTER FUNCTION ${s}.store_search(text, text[], text[], text, text, integer)
  SET plan_cache_mode = force_generic_plan;
`;
}
