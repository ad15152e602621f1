import type { Capabilities, Persistence } from '@entelix/core';

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
   * A byte-exact rendering of everything the target stores (every table, every key).
   * When given, the hostile-input tests compare it before and after each refused call
   * to show that nothing changed; without it they check through reads only.
   */
  snapshot?(): Promise<string>;
  /** Runs once after the whole suite, e.g. to drop a test schema or close a shared client. */
  teardown?(): Promise<void>;
  /** Override the capabilities the bundle reports (only to claim less, never more). */
  capabilities?: Partial<Capabilities>;
  /**
   * Tests to skip, by test id (shown in brackets at the start of every test title,
   * e.g. `store/ttl-expiry`), each with the reason shown in the report. A skipped test
   * is a promise the backend does not keep; use sparingly.
   */
  skip?: Readonly<Record<string, string>>;
  /**
   * Scale for time-based tests (TTL and lease expiry). Default 1, i.e. TTLs of about
   * 100 ms; raise it for backends with a coarse clock.
   */
  timeScale?: number;
}
