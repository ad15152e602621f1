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
    grant: `SELECT ${s}.try_acquire_lock($1, $2, $3) AS fence`,
    extend: `SELECT ${s}.extend_lock($1, $2, $3::bigint, $4) AS extended`,
    release: `SELECT ${s}.release_lock($1, $2, $3::bigint) AS released`,
  };

  return {
    async grant(key, ttlMs, call) {
      const params = [key.tenantId, lockKeyOf(key), ttlMs];
      const { rows } = await runQuery(db, 'lock tryAcquire', sql.grant, params, call.signal);
      const granted = rows[0]?.fence;
      return granted === null || granted === undefined
        ? undefined
        : toBigInt(granted, 'lock fence');
    },
    async extend(key, fence, ttlMs, call) {
      const params = [key.tenantId, lockKeyOf(key), fence.toString(), ttlMs];
      const { rows } = await runQuery(db, 'lock extend', sql.extend, params, call.signal);
      return rows[0]?.extended === true;
    },
    async release(key, fence, call) {
      const params = [key.tenantId, lockKeyOf(key), fence.toString()];
      const { rows } = await runQuery(db, 'lock release', sql.release, params, call.signal);
      return rows[0]?.released === true;
    },
  };
}
