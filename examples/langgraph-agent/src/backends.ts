import { parseArgs } from 'node:util';
import type { Persistence } from '@entelix/core';

/**
 * The backends the agent can run on. Choosing one is the only thing that changes: the
 * graph, the saver and the store are the same over every `Persistence`.
 */
export const BACKENDS = ['pglite', 'memory', 'postgres', 'redis'] as const;
export type BackendName = (typeof BACKENDS)[number];

/** What the command line chose: a backend and, for a server, its URL. */
export type BackendChoice =
  | { name: 'pglite' | 'memory' }
  | { name: 'postgres'; databaseUrl: string }
  | { name: 'redis'; redisUrl: string };

/** Thrown for setup problems the agent reports as one line, without a stack trace. */
export class SetupError extends Error {}

export const USAGE = `usage: npm start -w @entelix/example-langgraph-agent -- [options]

  --backend <name>      pglite (the default: embedded Postgres, no server), memory,
                        postgres or redis
  --database-url <url>  the Postgres server of --backend postgres (default: DATABASE_URL)
  --redis-url <url>     the Redis server of --backend redis (default: REDIS_URL)
  -h, --help            print this and exit

On a server, the agent works in a schema or key prefix of its own, erases its tenants
with purgeTenant at the end and then removes that schema or prefix.`;

/**
 * Read the command line. A server URL comes from its option, else from the environment;
 * an option for another backend's server is a mistake worth saying, not ignoring.
 */
export function parseCommandLine(
  args: readonly string[],
  env: Record<string, string | undefined>,
): BackendChoice | 'help' {
  let values: { backend?: string; 'database-url'?: string; 'redis-url'?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: {
        backend: { type: 'string' },
        'database-url': { type: 'string' },
        'redis-url': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new SetupError(`${error instanceof Error ? error.message : String(error)} (see --help)`);
  }
  if (values.help === true) return 'help';
  const name = values.backend ?? 'pglite';
  if (!BACKENDS.includes(name as BackendName)) {
    throw new SetupError(
      `unknown backend ${JSON.stringify(name)}; available: ${BACKENDS.join(', ')}`,
    );
  }
  for (const [option, backend] of [
    ['database-url', 'postgres'],
    ['redis-url', 'redis'],
  ] as const) {
    if (values[option] !== undefined && name !== backend) {
      throw new SetupError(`--${option} is for --backend ${backend}, not ${name}`);
    }
  }
  switch (name as BackendName) {
    case 'postgres':
      return {
        name: 'postgres',
        databaseUrl: serverUrl(values['database-url'], env.DATABASE_URL, POSTGRES_URL),
      };
    case 'redis':
      return { name: 'redis', redisUrl: serverUrl(values['redis-url'], env.REDIS_URL, REDIS_URL) };
    default:
      return { name: name as 'pglite' | 'memory' };
  }
}

interface UrlKind {
  backend: string;
  option: string;
  variable: string;
  protocols: readonly string[];
  example: string;
}

const POSTGRES_URL: UrlKind = {
  backend: 'postgres',
  option: '--database-url',
  variable: 'DATABASE_URL',
  protocols: ['postgres:', 'postgresql:'],
  example: 'postgres://postgres@127.0.0.1:5432/postgres',
};

const REDIS_URL: UrlKind = {
  backend: 'redis',
  option: '--redis-url',
  variable: 'REDIS_URL',
  protocols: ['redis:', 'rediss:'],
  example: 'redis://127.0.0.1:6379',
};

function serverUrl(fromOption: string | undefined, fromEnv: string | undefined, kind: UrlKind) {
  const url = fromOption ?? (fromEnv === '' ? undefined : fromEnv);
  if (url === undefined) {
    throw new SetupError(
      `--backend ${kind.backend} needs a server: pass ${kind.option} <url> or set ${kind.variable}, e.g. ${kind.option} ${kind.example}`,
    );
  }
  let protocol: string | undefined;
  try {
    protocol = new URL(url).protocol;
  } catch {
    protocol = undefined;
  }
  if (protocol === undefined || !kind.protocols.includes(protocol)) {
    const source = fromOption === undefined ? kind.variable : kind.option;
    const schemes = kind.protocols.map((p) => `${p}//`).join(' or ');
    throw new SetupError(
      `${source} must be a ${schemes} URL such as ${kind.example}, got ${JSON.stringify(redact(url))}`,
    );
  }
  return url;
}

/** An opened backend, what the run set up around it, and how it goes away. */
export interface OpenedBackend {
  persistence: Persistence;
  /** One line for the transcript: where the data goes, and as which role. */
  description: string;
  /** What stays in the backend once the run has erased its tenants and closed. */
  leftBehind: string;
  /** Close the bundle, then remove what the run set up for it. */
  close(): Promise<void>;
}

export async function openBackend(choice: BackendChoice): Promise<OpenedBackend> {
  switch (choice.name) {
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
      return atServer(choice.databaseUrl, openPostgres);
    case 'redis':
      return atServer(choice.redisUrl, openRedis);
  }
}

function opened(persistence: Persistence, description: string, leftBehind: string): OpenedBackend {
  return { persistence, description, leftBehind, close: () => persistence.close() };
}

/** A server that cannot be reached or refuses the setup is one line, naming it. */
async function atServer(
  url: string,
  open: (url: string) => Promise<OpenedBackend>,
): Promise<OpenedBackend> {
  try {
    return await open(url);
  } catch (error) {
    if (error instanceof SetupError) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw new SetupError(`cannot open ${redact(url)}: ${reason}`, { cause: error });
  }
}

/** A fresh name per run, so two runs never share (or remove) each other's data. */
const runId = () => crypto.randomUUID().replaceAll('-', '').slice(0, 8);

/**
 * Postgres at `connectionString`, in a schema made for this run. The schema is migrated
 * as the given role; the agent then runs as a role that forced row-level security binds.
 * When the given role bypasses it (a superuser, as local setups often use), a throwaway
 * application role gets what docs/deploying-postgres.md grants one. At the end the
 * schema goes, with the lock rows `purgeTenant` keeps so fences never repeat (no other
 * process uses this schema), and the throwaway role with it.
 */
async function openPostgres(connectionString: string): Promise<OpenedBackend> {
  const { createPostgresPersistence } = await import('@entelix/postgres');
  const { default: pg } = await import('pg');
  const id = runId();
  const schema = `entelix_agent_${id}`;
  const owner = new pg.Pool({ connectionString, max: 1 });
  // An idle connection the server ends would otherwise crash the process.
  owner.on('error', () => undefined);
  const where = `Postgres at ${redact(connectionString)}, schema ${schema}`;
  const undo: string[] = [`DROP SCHEMA IF EXISTS ${schema} CASCADE`];
  const cleanUp = async () => {
    try {
      for (const statement of undo) await owner.query(statement);
    } finally {
      await owner.end();
    }
  };
  try {
    const ownerRole = String((await owner.query('SELECT current_user AS role')).rows[0].role);
    const asOwner = await createPostgresPersistence({ connectionString, schema });
    if (asOwner.capabilities.rls) {
      return {
        persistence: asOwner,
        description: `${where}, as ${ownerRole}, which forced row-level security binds; capabilities.rls = true`,
        leftBehind: `nothing: the schema ${schema} goes at exit, with the lock rows purgeTenant keeps`,
        close: () => asOwner.close().finally(cleanUp),
      };
    }
    await asOwner.close();

    const appRole = `entelix_agent_app_${id}`;
    const password = crypto.randomUUID();
    try {
      await owner.query(`CREATE ROLE ${appRole} LOGIN PASSWORD '${password}' NOSUPERUSER NOBYPASSRLS;
        GRANT USAGE ON SCHEMA ${schema} TO ${appRole};
        GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${schema} TO ${appRole};
        GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA ${schema} TO ${appRole};`);
    } catch (error) {
      throw new SetupError(
        `${ownerRole} bypasses row-level security and cannot create an application role to run as (${error instanceof Error ? error.message : String(error)}): connect as a role that row-level security binds`,
        { cause: error },
      );
    }
    // Dropping the schema first takes the role's grants with it.
    undo.push(`DROP ROLE IF EXISTS ${appRole}`);
    const appUrl = new URL(connectionString);
    appUrl.username = appRole;
    appUrl.password = password;
    const persistence = await createPostgresPersistence({
      connectionString: appUrl.toString(),
      schema,
      migrate: 'verify',
    });
    return {
      persistence,
      description: `${where}, as ${appRole}: a throwaway application role (${ownerRole} bypasses row-level security); capabilities.rls = ${persistence.capabilities.rls}`,
      leftBehind: `nothing: the schema ${schema} goes at exit, with the lock rows purgeTenant keeps, and so does the role ${appRole}`,
      close: () => persistence.close().finally(cleanUp),
    };
  } catch (error) {
    await cleanUp().catch(() => {
      // The setup error is the one to report.
    });
    throw error;
  }
}

/**
 * Redis at `url`, under a key prefix made for this run. At the end the prefix's keys
 * go: the fence counters `purgeTenant` keeps so fences never repeat (no other process
 * uses this prefix).
 */
async function openRedis(url: string): Promise<OpenedBackend> {
  const { createRedisPersistence } = await import('@entelix/redis');
  const { Redis } = await import('ioredis');
  const keyPrefix = `entelix-agent-${runId()}`;
  // Connect once, failing fast: the bundle's client connects lazily, so an unreachable
  // server would only show up in the middle of the story.
  const admin = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  let connectionError: Error | undefined;
  admin.on('error', (error: Error) => {
    connectionError = error;
  });
  try {
    await admin.connect();
  } catch (error) {
    // Disconnecting a client that already ended would hold the process open a while.
    if (admin.status !== 'end') admin.disconnect();
    // connect() only says the connection closed; the error event said why.
    throw connectionError ?? error;
  }
  const persistence = createRedisPersistence({ url, keyPrefix });
  const removeKeys = async () => {
    let cursor = '0';
    do {
      const [next, keys] = await admin.scan(cursor, 'MATCH', `${keyPrefix}:*`, 'COUNT', 500);
      if (keys.length > 0) await admin.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  };
  return {
    persistence,
    description: `Redis at ${redact(url)}, key prefix ${keyPrefix}`,
    leftBehind: `nothing: the keys under ${keyPrefix} go at exit, the fence counters purgeTenant keeps among them`,
    close: () =>
      persistence
        .close()
        .then(removeKeys)
        .finally(() => admin.quit()),
  };
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}
