import { parseArgs } from 'node:util';
import { EntelixError } from '@entelix/core';
import { openDatabase } from './connection.js';
import { inspectDeployment } from './doctor.js';
import {
  applyMigrations,
  DEFAULT_SCHEMA,
  LATEST_SCHEMA_VERSION,
  renderMigrationSql,
} from './migrations/index.js';

const USAGE = `usage: entelix-postgres <command> [--schema <name>] [--database-url <url>] [--from <version>]

commands:
  migrate   apply pending migrations (run as the role that owns the schema)
  sql       print the DDL, for other migration tools (no database needed); with
            --from N (0 to ${LATEST_SCHEMA_VERSION}), only what upgrades a database at
            version N, refusing one at any other version
  doctor    check a deployment as the application role: the schema exists at this
            code's version; row-level security is enabled and forced on every table;
            the role is not a superuser, has no BYPASSRLS, is not a member of such a
            role, neither owns the tables nor belongs to their owner, and may not
            TRUNCATE; no function is executable by PUBLIC; and every operation works
            for the role (probed in a transaction that is rolled back). Exits 1 when
            something is wrong, naming the fix.

The database URL defaults to $DATABASE_URL; the schema to "${DEFAULT_SCHEMA}".
`;

/** Where the CLI writes; injectable for tests. */
export interface CliOutput {
  out(text: string): void;
  err(text: string): void;
}

const processOutput: CliOutput = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

/**
 * Run the `entelix-postgres` command line and return its exit code: 0 success,
 * 1 problems found or the command failed, 2 usage error.
 */
export async function runCli(
  argv: readonly string[],
  output: CliOutput = processOutput,
  env: Record<string, string | undefined> = process.env,
): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    output.err(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    return 2;
  }
  const { command, schema, databaseUrl, from, help } = parsed;
  if (help) {
    output.out(USAGE);
    return 0;
  }
  try {
    if (command === 'sql') {
      output.out(renderMigrationSql(schema, { from }));
      return 0;
    }
    const connectionString = databaseUrl ?? env.DATABASE_URL;
    if (connectionString === undefined || connectionString === '') {
      output.err(`${command} needs --database-url or DATABASE_URL\n`);
      return 2;
    }
    if (!isPostgresUrl(connectionString)) {
      output.err(
        `${databaseUrl === undefined ? 'DATABASE_URL' : '--database-url'} must be a postgres:// or postgresql:// URL, such as postgres://user@host:5432/database; got ${JSON.stringify(connectionString)}\n`,
      );
      return 2;
    }
    const db = await openDatabase({ connectionString });
    try {
      if (command === 'migrate') {
        const result = await applyMigrations(db, schema);
        output.out(
          result.applied.length === 0
            ? `schema "${schema}" is up to date (version ${result.version})\n`
            : `applied migration(s) ${result.applied.join(', ')}; schema "${schema}" is at version ${result.version}\n`,
        );
        return 0;
      }
      const report = await inspectDeployment(db, schema);
      if (report.ok) {
        output.out(
          `ok: schema "${schema}" version ${report.schemaVersion}, role "${report.role}" is subject to row-level security\n`,
        );
        return 0;
      }
      output.err(
        `doctor found ${report.problems.length} problem(s) as role "${report.role}":\n${report.problems
          .map((problem) => `  - ${problem}\n`)
          .join('')}`,
      );
      return 1;
    } finally {
      await db.close();
    }
  } catch (error) {
    const code = EntelixError.isInstance(error) ? ` (${error.code})` : '';
    output.err(
      `${command} failed${code}: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    return 1;
  }
}

function parse(argv: readonly string[]) {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      schema: { type: 'string', default: DEFAULT_SCHEMA },
      'database-url': { type: 'string' },
      from: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const help = values.help === true;
  const [command, ...rest] = positionals;
  if (!help && (command === undefined || !['migrate', 'sql', 'doctor'].includes(command))) {
    throw new Error(command === undefined ? 'missing command' : `unknown command: ${command}`);
  }
  if (rest.length > 0) throw new Error(`unexpected argument: ${rest[0]}`);
  const from = values.from === undefined ? undefined : Number(values.from);
  if (from !== undefined && (!/^\d+$/.test(values.from as string) || command !== 'sql')) {
    throw new Error(
      command === 'sql' ? `--from takes a schema version, got ${values.from}` : '--from is for sql',
    );
  }
  return {
    command: command as 'migrate' | 'sql' | 'doctor',
    schema: values.schema as string,
    databaseUrl: values['database-url'],
    from,
    help,
  };
}

function isPostgresUrl(value: string): boolean {
  try {
    return ['postgres:', 'postgresql:'].includes(new URL(value).protocol);
  } catch {
    return false;
  }
}
