import type { DriverWrite } from '@entelix/core/adapter';
import type { Queryable } from './queryable.js';

/** What every driver of this package shares. */
export interface PostgresContext {
  readonly db: Queryable;
  /** The quoted schema name, ready to splice into SQL. */
  readonly schema: string;
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
