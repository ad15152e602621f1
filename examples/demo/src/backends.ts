import type { Persistence } from '@entelix/core';

/** The backends the demo can run on. */
export const BACKENDS = ['pglite', 'memory', 'postgres', 'redis'] as const;
export type BackendName = (typeof BACKENDS)[number];

/** An opened backend and a one-line description for the transcript. */
export interface OpenedBackend {
  persistence: Persistence;
  description: string;
  /**
   * Postgres only: what plain SQL with no tenant set sees of a table, as the role the
   * bundle runs as and as the role that migrated the schema.
   */
  plainSqlRows?: (table: string) => Promise<{ asBundleRole: number; asOwner: number }>;
  /** What stays in the backend after the demo erased its tenants, and how to remove it. */
  leftBehind: string;
  /** Close the bundle and whatever the demo set up for it. */
  close(): Promise<void>;
}

/** Thrown for setup problems the demo reports as one line, without a stack trace. */
export class DemoSetupError extends Error {}

/** Open the chosen backend; the real servers come from DATABASE_URL / REDIS_URL. */
export async function openBackend(name: BackendName): Promise<OpenedBackend> {
  switch (name) {
    case 'memory': {
      const { createMemoryPersistence } = await import('@entelix/memory');
      return opened(
        createMemoryPersistence(),
        'memory (this process only)',
        'nothing: it was in memory',
      );
    }
    case 'pglite': {
      const { createPostgresPersistence } = await import('@entelix/postgres');
      return opened(
        await createPostgresPersistence(),
        'PGlite: Postgres compiled to WebAssembly, in memory, no server',
        'nothing: the database was in memory',
      );
    }
    case 'postgres':
      return openPostgres(requireUrl('DATABASE_URL', 'postgres://root@127.0.0.1:5432/test'));
    case 'redis': {
      const url = requireUrl('REDIS_URL', 'redis://127.0.0.1:6379');
      const { createRedisPersistence } = await import('@entelix/redis');
      return opened(
        await createRedisPersistence({ url, keyPrefix: 'entelix-demo' }),
        `Redis at ${redact(url)}, key prefix entelix-demo`,
        "one session head and one fence counter per thread, and each tenant's index of them, under the key prefix entelix-demo (kept so ordinals and fences never repeat); remove them with redis-cli --scan --pattern 'entelix-demo:*' | xargs redis-cli del",
      );
    }
  }
}

function opened(persistence: Persistence, description: string, leftBehind: string): OpenedBackend {
  return { persistence, description, leftBehind, close: () => persistence.close() };
}

/**
 * Postgres at `connectionString`: migrate as that role, then run the demo as a role that
 * forced row-level security binds. When the given role bypasses it (a superuser, as
 * local setups often use), the demo creates a throwaway application role, grants it
 * what docs/deploying-postgres.md grants, and drops it at the end.
 */
async function openPostgres(connectionString: string): Promise<OpenedBackend> {
  const schema = process.env.ENTELIX_DEMO_SCHEMA || 'entelix_demo';
  const { createPostgresPersistence } = await import('@entelix/postgres');
  const { default: pg } = await import('pg');
  const where = `Postgres at ${redact(connectionString)}, schema ${schema}`;
  const owner = await createPostgresPersistence({ connectionString, schema });
  const ownerPool = new pg.Pool({ connectionString, max: 1 });
  ownerPool.on('error', () => undefined);
  const ownerRole = String((await ownerPool.query('SELECT current_user AS role')).rows[0].role);
  if (owner.capabilities.rls) {
    await ownerPool.end();
    return opened(
      owner,
      `${where}, as role ${ownerRole}, which forced row-level security binds`,
      schemaLeftBehind(schema),
    );
  }
  await owner.close();

  const appRole = `entelix_demo_app_${crypto.randomUUID().replaceAll('-', '').slice(0, 8)}`;
  const password = crypto.randomUUID();
  const quotedSchema = `"${schema}"`;
  const dropRole = async () => {
    await ownerPool.query(`DROP OWNED BY ${appRole}; DROP ROLE IF EXISTS ${appRole}`);
  };
  try {
    await ownerPool.query(`CREATE ROLE ${appRole} LOGIN PASSWORD '${password}' NOSUPERUSER NOBYPASSRLS;
      GRANT USAGE ON SCHEMA ${quotedSchema} TO ${appRole};
      GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${quotedSchema} TO ${appRole};
      GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA ${quotedSchema} TO ${appRole};`);
  } catch (error) {
    await ownerPool.end();
    throw new DemoSetupError(
      `role ${ownerRole} bypasses row-level security and cannot create an application role for the demo (${error instanceof Error ? error.message : String(error)}): connect as a role that row-level security binds`,
    );
  }
  const appUrl = new URL(connectionString);
  appUrl.username = appRole;
  appUrl.password = password;
  let persistence: Persistence;
  const appPool = new pg.Pool({ connectionString: appUrl.toString(), max: 1 });
  appPool.on('error', () => undefined);
  try {
    persistence = await createPostgresPersistence({
      connectionString: appUrl.toString(),
      schema,
      migrate: 'verify',
    });
  } catch (error) {
    await appPool.end();
    await dropRole();
    await ownerPool.end();
    throw error;
  }
  const count = async (pool: InstanceType<typeof pg.Pool>, table: string) =>
    Number((await pool.query(`SELECT count(*) AS n FROM ${quotedSchema}.${table}`)).rows[0].n);
  return {
    persistence,
    description: `${where}, as ${appRole}: a throwaway application role (${ownerRole} bypasses row-level security), dropped at the end; capabilities.rls = ${persistence.capabilities.rls}`,
    leftBehind: schemaLeftBehind(schema),
    plainSqlRows: async (table) => ({
      asBundleRole: await count(appPool, table),
      asOwner: await count(ownerPool, table),
    }),
    async close() {
      try {
        await persistence.close();
        await appPool.end();
      } finally {
        await dropRole();
        await ownerPool.end();
      }
    },
  };
}

function schemaLeftBehind(schema: string): string {
  return `the schema ${schema}: its tables and functions, and one session head and one lock row per thread (kept so ordinals and fences never repeat); remove it with DROP SCHEMA ${schema} CASCADE`;
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
