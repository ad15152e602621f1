/**
 * Migration 9: checkpoint thread listing keeps one query plan per connection instead of
 * planning its skip scan anew on every call. `s` is the quoted schema name.
 *
 * It only changes a setting of one function, as migration 5 did for store search: no
 * table, grant or result changes, and a bundle of the previous release keeps working on
 * this schema until it is stopped.
 */
export function threadListingPlanMigration(s: string): string {
  return `
-- PL/pgSQL kept planning checkpoint_threads' recursive skip scan with each call's values
-- (a custom plan): the plan for any values (the generic plan) looks dearer to the
-- planner, which cannot see how soon the page's LIMIT stops the recursion. Both plans
-- are the same probe of the primary key per thread; planning it again took about 0.3 of
-- the 0.8 ms a page of 100 threads cost in the database. The setting holds only while
-- the function runs.
ALTER FUNCTION ${s}.checkpoint_threads(text, text, integer)
  SET plan_cache_mode = force_generic_plan;
`;
}
