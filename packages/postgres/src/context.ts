import type { VerifiedFence } from '@entelix/core/adapter';
import type { Queryable } from './queryable.js';

/** What every driver of this package shares. */
export interface PostgresContext {
  readonly db: Queryable;
  /** The quoted schema name, ready to splice into SQL. */
  readonly schema: string;
}

/**
 * The `(lock_key, fence)` pair the SQL functions take: both `null` when the write is
 * not fenced. The fence travels as text: both drivers cast it to bigint exactly.
 */
export function fenceParameters(fence: VerifiedFence | undefined): [string | null, string | null] {
  return fence === undefined ? [null, null] : [fence.lockKey, fence.fence.toString()];
}
