import type { Capabilities, Persistence } from '@entelix/core';
import { createPersistence } from '@entelix/core/adapter';
import { createPostgresCheckpointer } from './checkpointer.js';
import type { PostgresContext } from './context.js';
import { createPostgresLock } from './lock.js';
import { BACKEND, runQuery, toSafeInteger } from './queryable.js';
import { createPostgresSessionLog } from './session-log.js';
import { createPostgresStore } from './store.js';

/** The bundle over a database and schema: every driver of this package, on the kit. */
export function persistenceOver(
  context: PostgresContext,
  capabilities: Capabilities,
  close: () => Promise<void>,
): Persistence {
  const { db, schema: s } = context;
  return createPersistence({
    backend: BACKEND,
    capabilities,
    checkpointer: createPostgresCheckpointer(context),
    store: createPostgresStore(context),
    sessionLog: createPostgresSessionLog(context),
    lock: createPostgresLock(context),
    async purgeTenant(tenantId, call) {
      const sql = `SELECT * FROM ${s}.tenant_purge($1)`;
      const { rows } = await runQuery(db, 'purgeTenant', sql, [tenantId], call.signal);
      const counts = rows[0] ?? {};
      return {
        checkpoints: toSafeInteger(counts.checkpoints, 'purged checkpoint count'),
        writes: toSafeInteger(counts.writes, 'purged write count'),
        storeItems: toSafeInteger(counts.store_items, 'purged item count'),
        events: toSafeInteger(counts.events, 'purged event count'),
      };
    },
    close,
  });
}
