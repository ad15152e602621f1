import { describe, expect, it } from 'vitest';
import type { QueryResult } from '../src/queryable.js';
import { keptTableUpkeep } from '../src/upkeep.js';

/** A database that records each statement and fails the first `VACUUM` it is sent. */
function databaseWithFailingVacuum() {
  const statements: string[] = [];
  let vacuumFailures = 1;
  const result = (rows: Record<string, unknown>[]): QueryResult => ({ rows }) as QueryResult;
  const db = {
    async query(text: string): Promise<QueryResult> {
      statements.push(text);
      if (text.startsWith('SAVEPOINT')) {
        throw Object.assign(new Error('SAVEPOINT can only be used in transaction blocks'), {
          code: '25P01',
        });
      }
      if (text.startsWith('VACUUM') && vacuumFailures > 0) {
        vacuumFailures -= 1;
        throw new Error('canceling statement due to lock timeout');
      }
      return result(text.includes('reltuples') ? [{ held: 0 }] : []);
    },
  };
  const vacuums = () => statements.filter((text) => text.startsWith('VACUUM')).length;
  return { db, vacuums };
}

describe('table upkeep on PGlite', () => {
  it('keeps the removed rows owed when a vacuum fails, so the next removal tries again', async () => {
    const { db, vacuums } = databaseWithFailingVacuum();
    const upkeep = keptTableUpkeep(db, 'entelix');
    await upkeep.opened();
    await upkeep.rowsRemoved(999);
    expect(vacuums()).toBe(0);
    // The threshold on empty tables is 1,000 rows: the vacuum is tried, and fails.
    await upkeep.rowsRemoved(1);
    expect(vacuums()).toBe(1);
    await upkeep.rowsRemoved(1);
    expect(vacuums()).toBe(2);
    // Done at last: the count starts again from nothing.
    await upkeep.rowsRemoved(1);
    expect(vacuums()).toBe(2);
  });
});
