import type { DriverWrite } from '@entelix/core/adapter';
import { type Queryable, runQuery, type StatementOptions, toSafeInteger } from './queryable.js';
import type { TableUpkeep } from './upkeep.js';

/** What every driver of this package shares. */
export interface PostgresContext {
  readonly db: Queryable;
  /** The quoted schema name, ready to splice into SQL. */
  readonly schema: string;
  /** Where the bundle does autovacuum's work on its tables itself (PGlite). */
  readonly upkeep?: TableUpkeep;
}

/**
 * Runs a statement whose one row's `deleted` column is the number of rows it removed,
 * and tells the upkeep; `counted` names that number in the error if it is not one.
 * Store `delete` and `purgeTenant`, which return something else, tell it themselves.
 */
export async function runRemoval(
  context: PostgresContext,
  action: string,
  text: string,
  params: readonly unknown[],
  options: StatementOptions,
  counted: string,
): Promise<number> {
  const { rows } = await runQuery(context.db, action, text, params, options);
  const removed = toSafeInteger(rows[0]?.deleted, counted);
  await context.upkeep?.rowsRemoved(removed);
  return removed;
}

/**
 * The `(lock_key, fence)` pair the SQL functions take, from the kit's verified fence:
 * both `null` when the write is not fenced. The fence travels as text, which both
 * drivers cast to bigint exactly.
 */
export function fenceParameters(call: DriverWrite): [string | null, string | null] {
  const { fence } = call;
  return fence === undefined ? [null, null] : [fence.lockKey, fence.fence.toString()];
}

/**
 * A limit as the `integer` the SQL functions take: a larger one reads everything
 * anyway, and int4 is what `LIMIT` plans best with.
 */
export function int4Limit(limit: number): number {
  return Math.min(limit, 2_147_483_647);
}

/**
 * The select list of a read: `columns` as the function returns them and each of
 * `timestamps` as epoch milliseconds. Drivers parse a timestamptz from its text with a
 * regular expression per value (three per store item), a float8 with one parseFloat.
 * Rounded to whole microseconds first (date_part's float is exact to them), so the Date
 * the kit builds, which drops the fraction of a millisecond, is the one the text gives.
 */
export function selectList(columns: readonly string[], timestamps: readonly string[]): string {
  const asEpochMs = (column: string) =>
    `round(date_part('epoch', ${column}) * 1000000) / 1000 AS ${column}`;
  return [...columns, ...timestamps.map(asEpochMs)].join(', ');
}
