import { describe, it } from 'vitest';

/** The variables naming the services of the integration suites (see scripts/services). */
export type ServiceVariable =
  | 'DATABASE_URL'
  | 'REDIS_URL'
  | 'PGBOUNCER_URL'
  | 'REDIS_CLUSTER_NODES';

/**
 * Declare a suite that needs a real service named by an environment variable. Without
 * the variable the suite is skipped, unless REQUIRE_SERVICES=1 (CI), where the missing
 * service is a failing test instead of a silent skip.
 */
export function describeWithService(
  variable: ServiceVariable,
  title: string,
  body: (url: string) => void,
): void {
  const url = process.env[variable];
  if (url !== undefined && url !== '') {
    describe(title, () => body(url));
    return;
  }
  if (process.env.REQUIRE_SERVICES === '1') {
    describe(title, () => {
      it(`has ${variable} (REQUIRE_SERVICES=1)`, () => {
        throw new Error(`${variable} is not set but REQUIRE_SERVICES=1 requires this suite to run`);
      });
    });
    return;
  }
  describe.skip(`${title} (set ${variable} to run)`, () => {
    it('needs the service', () => {});
  });
}
