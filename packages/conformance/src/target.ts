import type { Capabilities, Persistence } from '@entelix/core';
import type { GroupApi } from './fixtures.js';
import type { TestId } from './index.js';

/**
 * What a backend hands to {@link runConformance}. The suite knows no backend by name:
 * it learns what to expect from the capabilities, and a test is skipped only for a
 * missing capability or a reason given in `skip`.
 */
export interface ConformanceTarget {
  /** Shown in the suite's title, e.g. `postgres (PGlite)`. */
  name: string;
  /**
   * Open a persistence bundle over the target's storage. Every call must reach the
   * same storage, so two bundles behave like two processes (or two handles in one
   * process when `multiProcess` is false). Each group opens what it needs in
   * `beforeAll` and closes it in `afterAll` through {@link ConformanceTarget.destroy}.
   */
  create(): Persistence | Promise<Persistence>;
  /** Close a bundle from `create`; defaults to `persistence.close()`. */
  destroy?(persistence: Persistence): Promise<void>;
  /**
   * A byte-exact rendering of everything the target stores (every table, every key),
   * the same text for the same data. When given, every test that makes refused calls
   * compares it before and after them; without it those tests check through the API's
   * reads only, and the report says so.
   */
  snapshot?(): Promise<string>;
  /** Runs once after the whole suite, e.g. to drop a test schema or close a shared client. */
  teardown?(): Promise<void>;
  /** Override the capabilities the bundle reports (only to claim less, never more). */
  capabilities?: Partial<Capabilities>;
  /**
   * Tests to skip, by test id (shown in brackets at the start of every test title,
   * e.g. `store/ttl-expiry`), each with the reason shown in the report. An id that
   * names no test is a type error and fails the run: a typo never silently skips
   * nothing. A skipped test is a promise the backend does not keep; use sparingly.
   */
  skip?: Readonly<Partial<Record<TestId, string>>>;
  /**
   * The target's own tests, declared with `test(id, title, body, options)` like the
   * suite's: they get the same two bundles and helpers, run after the suite's groups
   * under the group `extra`, and show in the same report (ids `extra/<id>`).
   */
  extraTests?: (api: GroupApi) => unknown;
  /**
   * Scale for time-based tests (TTL and lease expiry). Default 1, i.e. TTLs of about
   * 100 ms; raise it for backends with a coarse clock.
   */
  timeScale?: number;
}
