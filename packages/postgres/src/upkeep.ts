import type { Queryable } from './queryable.js';

/**
 * What a server's autovacuum does for the bundle's tables, kept by the bundle itself
 * where none runs (PGlite).
 *
 * Planner statistics: never analyzed, the checkpoints table leaves the planner unable to
 * tell a checkpoint found by id (one row of the primary key) from one found by walking
 * its thread in a write-order index, which it picks for being the smaller index: every
 * `getById`, `putWrites` and put with parent writes then reads the whole thread (3 ms
 * instead of 0.3 ms on a thread of 15,000). Once analyzed, the statistics say ids are
 * unique, and that stays true as the table grows.
 *
 * Space: never vacuumed, a table keeps every deleted row's space, so a database whose
 * threads, items and tenants come and go grows without bound. Once enough rows are
 * removed, the tables are vacuumed, as autovacuum would (its default share of 20%).
 */
export interface TableUpkeep {
  /** At start-up: analyze the checkpoints already stored, learn the tables' size. */
  opened(): Promise<void>;
  /** A checkpoint was written: analyze the checkpoints at 100, 200, 400... written. */
  checkpointWritten(): Promise<void>;
  /** A call removed `count` rows: vacuum once the removed rows are enough. */
  rowsRemoved(count: number): Promise<void>;
}

const FIRST_ANALYSIS_AT = 100;
/** Rows removed before a vacuum, on top of a share of the rows the tables hold. */
const VACUUM_BASE = 1_000;
const VACUUM_SHARE = 0.2;
const NO_ACTIVE_SQL_TRANSACTION = '25P01';
const TABLES = [
  'checkpoints',
  'checkpoint_writes',
  'store_items',
  'session_events',
  'session_heads',
  'locks',
];

/** Upkeep done by this bundle, on a database no autovacuum serves. */
export function keptTableUpkeep(db: Queryable, schema: string): TableUpkeep {
  let checkpointsWritten = 0;
  let nextAnalysisAt = FIRST_ANALYSIS_AT;
  let removed = 0;
  let vacuumAfter = VACUUM_BASE;
  let vacuuming: Promise<void> | undefined;
  const tables = TABLES.map((table) => `${schema}.${table}`);

  // Upkeep only speeds reads up and gives space back: the call that asked for it has
  // committed, and a schema not migrated yet (migrate: 'off') has no tables. So a
  // failure is no one's error, and the next call that qualifies tries again.
  const quietly = async (work: () => Promise<unknown>) => {
    try {
      await work();
    } catch {}
  };
  const learnSize = async () => {
    const { rows } = await db.query(
      `SELECT coalesce(sum(greatest(reltuples, 0)), 0)::float8 AS held FROM pg_class
        WHERE oid = ANY ($1::regclass[])`,
      [tables],
    );
    vacuumAfter = VACUUM_BASE + VACUUM_SHARE * Number(rows[0]?.held ?? 0);
  };
  // VACUUM cannot run in a transaction block, and its failure would abort one: a call
  // made inside the application's own BEGIN leaves the space to a later call. Only a
  // block accepts a savepoint; elsewhere SAVEPOINT fails alone, in its own transaction.
  // (A transaction id would miss a block that has only read; PGlite's clock, in
  // milliseconds, cannot tell a block's start from the statement's.)
  const insideTransactionBlock = async () => {
    try {
      await db.query('SAVEPOINT entelix_upkeep');
    } catch (error) {
      if ((error as { code?: unknown }).code === NO_ACTIVE_SQL_TRANSACTION) return false;
      throw error;
    }
    await db.query('RELEASE SAVEPOINT entelix_upkeep');
    return true;
  };
  const vacuum = async () => {
    if (await insideTransactionBlock()) return;
    // Rows removed while the vacuum runs count toward the next one.
    const owed = removed;
    removed = 0;
    try {
      await db.query(`VACUUM (ANALYZE) ${tables.join(', ')}`);
    } catch (error) {
      removed += owed;
      throw error;
    }
    await learnSize();
  };

  return {
    async opened() {
      await quietly(() => db.query(`ANALYZE ${schema}.checkpoints`));
      await quietly(learnSize);
    },
    async checkpointWritten() {
      checkpointsWritten += 1;
      if (checkpointsWritten < nextAnalysisAt) return;
      nextAnalysisAt *= 2;
      await quietly(() => db.query(`ANALYZE ${schema}.checkpoints`));
    },
    async rowsRemoved(count) {
      removed += count;
      if (removed < vacuumAfter || vacuuming !== undefined) return;
      vacuuming = quietly(vacuum).finally(() => {
        vacuuming = undefined;
      });
      await vacuuming;
    },
  };
}
