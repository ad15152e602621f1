import type { Persistence } from '@entelix/core';

/** The backends the demo can run on. */
export const BACKENDS = ['pglite', 'memory', 'postgres', 'redis'] as const;
export type BackendName = (typeof BACKENDS)[number];

/** An opened backend and a one-line description for the transcript. */
export interface OpenedBackend {
  persistence: Persistence;
  description: string;
}

/** Thrown for setup problems the demo reports as one line, without a stack trace. */
export class DemoSetupError extends Error {}

/** Open the chosen backend; the real servers come from DATABASE_URL / REDIS_URL. */
export async function openBackend(name: BackendName): Promise<OpenedBackend> {
  switch (name) {
    case 'memory': {
      const { createMemoryPersistence } = await import('@entelix/memory');
      return { persistence: createMemoryPersistence(), description: 'memory (this process only)' };
    }
    case 'pglite': {
      const { createPostgresPersistence } = await import('@entelix/postgres');
      return {
        persistence: await createPostgresPersistence(),
        description: 'PGlite: Postgres compiled to WebAssembly, in memory, no server',
      };
    }
    case 'postgres': {
      const connectionString = requireUrl('DATABASE_URL', 'postgres://root@127.0.0.1:5432/test');
      const { createPostgresPersistence } = await import('@entelix/postgres');
      return {
        persistence: await createPostgresPersistence({ connectionString, schema: 'entelix_demo' }),
        description: `Postgres at ${redact(connectionString)}, schema entelix_demo`,
      };
    }
    case 'redis': {
      const url = requireUrl('REDIS_URL', 'redis://127.0.0.1:6379');
      const { createRedisPersistence } = await import('@entelix/redis');
      return {
        persistence: await createRedisPersistence({ url, keyPrefix: 'entelix-demo' }),
        description: `Redis at ${redact(url)}, key prefix entelix-demo`,
      };
    }
  }
}

function requireUrl(variable: string, example: string): string {
  const url = process.env[variable];
  if (url === undefined || url === '') {
    throw new DemoSetupError(`set ${variable} to run on this backend, e.g. ${variable}=${example}`);
  }
  return url;
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]+@/, '//$1:***@');
}
