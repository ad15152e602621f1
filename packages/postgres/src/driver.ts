import type { Capabilities, PurgeCounts } from '@entelix/core';
import type { DriverCall, PersistenceDriver } from '@entelix/core/adapter';
import { createPostgresCheckpointer } from './checkpointer.js';
import type { PostgresContext } from './context.js';
import { createPostgresLock } from './lock.js';
import { BACKEND, runQuery, toSafeInteger } from './queryable.js';
import { createPostgresSessionLog } from './session-log.js';
import { createPostgresStore } from './store.js';

/**
 * Every driver of the bundle over one context: what `createPersistence` turns into the
 * public bundle, for the factory and for the doctor's probe (on its transaction).
 */
export function createPostgresDriver(
  context: PostgresContext,
  capabilities: Capabilities,
  close: () => Promise<void>,
): PersistenceDriver {
  const purgeSql = `SELECT * FROM ${context.schema}.tenant_purge($1)`;
  return {
    backend: BACKEND,
    capabilities,
    checkpointer: createPostgresCheckpointer(context),
    store: createPostgresStore(context),
    sessionLog: createPostgresSessionLog(context),
    lock: createPostgresLock(context),
    async purgeTenant(tenantId: string, call: DriverCall): Promise<PurgeCounts> {
      const { rows } = await runQuery(context.db, 'purgeTenant', purgeSql, [tenantId], call);
      const row = rows[0] ?? {};
      const purged = {
        checkpoints: toSafeInteger(row.purged_checkpoints, 'purged checkpoints count'),
        writes: toSafeInteger(row.purged_writes, 'purged writes count'),
        storeItems: toSafeInteger(row.purged_store_items, 'purged store items count'),
        events: toSafeInteger(row.purged_events, 'purged events count'),
      };
      await context.upkeep?.rowsRemoved(
        purged.checkpoints + purged.writes + purged.storeItems + purged.events,
      );
      return purged;
    },
    close,
  };
}
