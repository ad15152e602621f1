import type { Persistence } from '@entelix/core';

/**
 * What a backend hands to {@link runConformance}. The suite knows no backend by name:
 * it learns what to expect from `persistence.capabilities`, and a test is skipped only
 * for a missing capability or a reason given in `skip`.
 */
export interface ConformanceTarget {
  /** Shown in the suite's title, e.g. `postgres (PGlite)`. */
  name: string;
  /**
   * Open a persistence bundle over the target's storage. Every call must reach the
   * same storage, so that two bundles behave like two processes (for backends whose
   * capabilities say `multiProcess`) or two handles in one process. The suite calls it
   * in `beforeAll` of each group and closes what it got in `afterAll`.
   */
  create(): Promise<Persistence>;
  /** Runs once after the whole suite, e.g. to drop a test schema or close a shared client. */
  teardown?(): Promise<void>;
  /**
   * Tests to skip, by full test title (`group > test`), each with the reason shown in
   * the report. Use sparingly: a skipped test is a promise the backend does not keep.
   */
  skip?: Readonly<Record<string, string>>;
  /**
   * Scale for time-based tests (TTL expiry, lease expiry). Default 1: TTLs of ~100 ms.
   * Raise it for slow backends so waits stay well above their clock granularity.
   */
  timeScale?: number;
}
