import {
  createDistributedLock,
  createLockLease,
  type DistributedLock,
  type LockLease,
  lockKeyOf,
  type ThreadKey,
  throwIfAborted,
} from '@entelix/core';
import type { PostgresContext } from './context.js';
import { BACKEND, runQuery, toBigInt } from './queryable.js';

/**
 * A lease-table lock: one row per lock key in `<schema>.locks` with the newest grant's
 * fence and its expiry on the database clock. Plain statements, no session state, so
 * it works through PgBouncer transaction pooling and on PGlite.
 */
export function createPostgresLock(context: PostgresContext): DistributedLock {
  const { db, schema: s } = context;
  const sql = {
    tryAcquire: `SELECT ${s}.try_acquire_lock($1, $2, $3) AS fence`,
    extend: `SELECT ${s}.extend_lock($1, $2, $3::bigint, $4) AS extended`,
    release: `SELECT ${s}.release_lock($1, $2, $3::bigint) AS released`,
  };

  const tryAcquire = async (key: ThreadKey, ttlMs: number): Promise<LockLease | undefined> => {
    const lockKey = lockKeyOf(key);
    const requestedAt = Date.now();
    const { rows } = await runQuery(db, 'lock tryAcquire', sql.tryAcquire, [
      key.tenantId,
      lockKey,
      ttlMs,
    ]);
    const granted = rows[0]?.fence;
    if (granted === null || granted === undefined) return undefined;
    const fence = toBigInt(granted, 'lock fence');
    return createLockLease(
      { key, fence, ttlMs, requestedAt },
      {
        backend: BACKEND,
        async extend(extendTtlMs, signal) {
          throwIfAborted(signal, BACKEND);
          const result = await runQuery(
            db,
            'lock extend',
            sql.extend,
            [key.tenantId, lockKey, fence.toString(), extendTtlMs],
            signal,
          );
          return result.rows[0]?.extended === true;
        },
        async release(signal) {
          throwIfAborted(signal, BACKEND);
          const result = await runQuery(
            db,
            'lock release',
            sql.release,
            [key.tenantId, lockKey, fence.toString()],
            signal,
          );
          return result.rows[0]?.released === true;
        },
      },
    );
  };

  return createDistributedLock(BACKEND, tryAcquire);
}
