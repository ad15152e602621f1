import type { Persistence } from '@entelix/core';

/**
 * The backends the agent can run on. Choosing one is the only thing that changes: the
 * graph, the saver and the store are the same over every `Persistence`.
 *
 * PGlite (embedded Postgres, no server) and Postgres or Redis by URL join this list as
 * `pglite`, `postgres` (DATABASE_URL) and `redis` (REDIS_URL) once `@entelix/postgres`
 * and `@entelix/redis` run on the current core API; their entries will be
 * `createPostgresPersistence()`, `createPostgresPersistence({ connectionString })` and
 * `createRedisPersistence({ url })`.
 */
export const BACKENDS = ['memory'] as const;
export type BackendName = (typeof BACKENDS)[number];

/** Thrown for setup problems the agent reports as one line, without a stack trace. */
export class SetupError extends Error {}

export interface OpenedBackend {
  persistence: Persistence;
  description: string;
}

export async function openBackend(name: BackendName): Promise<OpenedBackend> {
  switch (name) {
    case 'memory': {
      const { createMemoryPersistence } = await import('@entelix/memory');
      return { persistence: createMemoryPersistence(), description: 'memory (this process only)' };
    }
  }
}

/** `--backend <name>` from the command line; `memory` by default. */
export function parseBackend(args: readonly string[]): BackendName {
  const at = args.indexOf('--backend');
  if (at === -1) return 'memory';
  const name = args[at + 1];
  if (!BACKENDS.includes(name as BackendName)) {
    throw new SetupError(
      `unknown backend ${JSON.stringify(name ?? '')}; available: ${BACKENDS.join(', ')}`,
    );
  }
  return name as BackendName;
}
