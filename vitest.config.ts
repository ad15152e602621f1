import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const repositoryRoot = fileURLToPath(new URL('.', import.meta.url));

// Two projects: `unit` needs no server (memory, PGlite, ioredis-mock); `integration`
// talks to real services named by DATABASE_URL / REDIS_URL. `npm test` runs both;
// integration suites skip without their URL unless REQUIRE_SERVICES=1. Paths are
// anchored here, so a package's own `npm test` (run from its folder) uses this config
// and filters to its own files.
export default defineConfig({
  root: repositoryRoot,
  test: {
    reporters: ['default', `${repositoryRoot}test-support/summary-reporter.ts`],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: [
            'packages/*/test/**/*.test.ts',
            'examples/*/test/**/*.test.ts',
            'tests/**/*.test.ts',
          ],
          exclude: ['**/*.int.test.ts', '**/node_modules/**'],
          // Opening an embedded PGlite and migrating it takes seconds when every core is busy,
          // and a property test running a hundred generated cases on PGlite or ioredis-mock
          // takes several more; vitest's default of 5 s fails them on a loaded machine.
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: [
            'packages/*/test/**/*.int.test.ts',
            'examples/*/test/**/*.int.test.ts',
            'tests/**/*.int.test.ts',
          ],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
