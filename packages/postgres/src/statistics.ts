import type { Queryable } from './queryable.js';

/**
 * The planner statistics of the checkpoints table, kept where nothing else keeps them.
 *
 * PGlite runs no autovacuum, so its tables are never analyzed. Without statistics the
 * planner cannot tell a checkpoint found by id (one row of the primary key) from one
 * found by walking its thread in a write-order index, which it picks for being the
 * smaller index: every `getById`, `putWrites` and put with parent writes then reads the
 * whole thread (3 ms instead of 0.3 ms on a thread of 15,000). Once analyzed, the
 * statistics say ids are unique, and that stays true as the table grows.
 */
export interface CheckpointStatistics {
  /** Analyze the table now (at start-up, for the rows it already holds). */
  analyze(): Promise<void>;
  /** Count a checkpoint written; analyze when the count reaches 100, 200, 400... */
  written(): Promise<void>;
}

const FIRST_ANALYSIS_AT = 100;

/** Statistics kept by this bundle, on a database no autovacuum serves. */
export function keptCheckpointStatistics(db: Queryable, schema: string): CheckpointStatistics {
  let written = 0;
  let nextAnalysisAt = FIRST_ANALYSIS_AT;
  const analyze = async () => {
    try {
      await db.query(`ANALYZE ${schema}.checkpoints`);
    } catch {
      // Statistics only speed reads up: the write that asked for them has committed,
      // and a schema not migrated yet (migrate: 'off') has no table to analyze.
    }
  };
  return {
    analyze,
    async written() {
      written += 1;
      if (written < nextAnalysisAt) return;
      nextAnalysisAt *= 2;
      await analyze();
    },
  };
}
