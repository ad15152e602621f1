import { readFence } from '@entelix/core';
import { BACKEND, type Queryable } from './queryable.js';

/** What every contract implementation of this package shares. */
export interface PostgresContext {
  readonly db: Queryable;
  /** The quoted schema name, ready to splice into SQL. */
  readonly schema: string;
}

/**
 * The `(lock_key, fence)` pair the SQL functions take: both `null` when the write is
 * not fenced. Validated (and checked to belong to the written tenant) before any I/O.
 */
export function fenceParameters(fence: unknown, tenantId: string): [string | null, string | null] {
  const token = readFence(fence, tenantId, BACKEND);
  // The fence travels as text: both drivers cast it to bigint exactly.
  return token === undefined ? [null, null] : [token.lockKey, token.fence.toString()];
}
