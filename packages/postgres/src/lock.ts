import { type LockDriver, lockKeyOf } from '@entelix/core/adapter';
import type { PostgresContext } from './context.js';
import { runQuery, toBigInt } from './queryable.js';

/**
 * A lease-table lock: one row per lock key in `<schema>.locks` with the newest grant's
 * fence and its expiry on the database clock. Plain statements, no session state, so
 * it works through PgBouncer transaction pooling and on PGlite.
 */
export function createPostgresLock(context: PostgresContext): LockDriver {
  const { db, schema: s } = context;
  const sql = {
    grant: `SELECT ${s}.lock_try_acquire($1, $2, $3) AS fence`,
    extend: `SELECT ${s}.lock_extend($1, $2, $3::bigint, $4) AS extended`,
    release: `SELECT ${s}.lock_release($1, $2, $3::bigint) AS released`,
  };

  return {
    async grant(key, ttlMs) {
      // One short upsert, not cancelled once sent: the kit gives back a lease granted
      // after the caller gave up.
      const { rows } = await runQuery(db, 'lock tryAcquire', sql.grant, [
        key.tenantId,
        lockKeyOf(key),
        ttlMs,
      ]);
      const granted = rows[0]?.fence;
      return granted === null || granted === undefined ? undefined : toBigInt(granted, 'fence');
    },

    async extend(key, fence, ttlMs, call) {
      const { rows } = await runQuery(
        db,
        'lock extend',
        sql.extend,
        [key.tenantId, lockKeyOf(key), fence.toString(), ttlMs],
        call,
      );
      return rows[0]?.extended === true;
    },

    async release(key, fence, call) {
      const { rows } = await runQuery(
        db,
        'lock release',
        sql.release,
        [key.tenantId, lockKeyOf(key), fence.toString()],
        call,
      );
      return rows[0]?.released === true;
    },
  };
}
