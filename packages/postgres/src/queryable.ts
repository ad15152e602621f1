import { createHash } from 'node:crypto';
import {
  ConflictError,
  CorruptRecordError,
  type EntelixError,
  FencedError,
  NotFoundError,
  toBackendError,
} from '@entelix/core';

/** Backend name used in every error message of this package. */
export const BACKEND = 'postgres';

/** What every statement returns once the driver differences are smoothed out. */
export interface QueryResult {
  rows: any[];
  /** Rows returned or affected; `0` when the driver does not say. */
  rowCount: number;
}

/** The one thing the contracts need from a driver: run a parameterized statement. */
export interface Queryable {
  query(text: string, params?: readonly unknown[]): Promise<QueryResult>;
}

/** A {@link Queryable} that can also run multi-statement scripts (migrations, DDL). */
export interface ScriptQueryable extends Queryable {
  exec(script: string): Promise<void>;
}

/** A connection source: single statements, transactions, and (if owned) closing. */
export interface Database extends ScriptQueryable {
  /** `pg` for a `pg.Pool`, `pglite` for an in-process PGlite. */
  readonly driver: 'pg' | 'pglite';
  /** Run `work` in one transaction on one connection; rolled back if it throws. */
  transaction<T>(work: (tx: ScriptQueryable) => Promise<T>): Promise<T>;
  /** Close the driver, only when the factory created it. */
  close(): Promise<void>;
}

/** A named statement for `pg`: prepared once per connection, then only bound and run. */
export interface PgQueryConfig {
  name: string;
  text: string;
  values?: unknown[];
}

/** What `pg` resolves a query with. */
export interface PgResultLike {
  rows: any[];
  rowCount: number | null;
}

/**
 * The parts of `pg.Pool` this package uses. Declared structurally so the published
 * types do not depend on `@types/pg`. The config form is used only with
 * `preparedStatements: true`.
 */
export interface PgPoolLike {
  query(textOrConfig: string | PgQueryConfig, values?: unknown[]): Promise<PgResultLike>;
  connect(): Promise<PgPoolClientLike>;
  end(): Promise<void>;
}

/** The parts of a checked-out `pg.PoolClient` this package uses. */
export interface PgPoolClientLike {
  query(textOrConfig: string | PgQueryConfig, values?: unknown[]): Promise<PgResultLike>;
  release(error?: Error | boolean): void;
}

/** The parts of a PGlite instance (or its transaction handle) this package uses. */
export interface PGliteQueryLike {
  query(
    text: string,
    params?: unknown[],
  ): Promise<{ rows: any[]; affectedRows?: number; rowCount?: number }>;
  exec(script: string): Promise<unknown>;
}

/** The parts of `@electric-sql/pglite`'s `PGlite` this package uses. */
export interface PGliteLike extends PGliteQueryLike {
  transaction<T>(work: (tx: PGliteQueryLike) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/**
 * Adapt a `pg.Pool`. `owned` pools are ended by `close()`. With `preparedStatements`,
 * every parameterized statement runs as a named statement, so each connection parses
 * and plans it once; multi-statement scripts are never named.
 */
export function fromPgPool(pool: PgPoolLike, owned: boolean, preparedStatements = false): Database {
  const run = preparedStatements
    ? (target: PgPoolLike | PgPoolClientLike, text: string, params: readonly unknown[] = []) =>
        target.query({ name: statementName(text), text, values: params as unknown[] })
    : (target: PgPoolLike | PgPoolClientLike, text: string, params?: readonly unknown[]) =>
        target.query(text, params as unknown[] | undefined);
  const viaClient = (client: PgPoolClientLike): ScriptQueryable => ({
    async query(text, params) {
      const result = await run(client, text, params);
      return { rows: result.rows, rowCount: result.rowCount ?? 0 };
    },
    async exec(script) {
      await client.query(script);
    },
  });
  return {
    driver: 'pg',
    async query(text, params) {
      const result = await run(pool, text, params);
      return { rows: result.rows, rowCount: result.rowCount ?? 0 };
    },
    async exec(script) {
      await pool.query(script);
    },
    async transaction(work) {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const result = await work(viaClient(client));
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch((rollbackError: Error) => {
          // A connection that cannot roll back must not go back to the pool.
          broken = rollbackError;
        });
        throw error;
      } finally {
        client.release(broken);
      }
    },
    async close() {
      if (owned) await pool.end();
    },
  };
}

const statementNames = new Map<string, string>();

/**
 * The name of a statement: derived from its text, so the same text gets the same name
 * on every connection and two texts (two schemas, say) never share one. Postgres keeps
 * 63 bytes of a name.
 */
export function statementName(text: string): string {
  let name = statementNames.get(text);
  if (name === undefined) {
    name = `entelix_${createHash('sha1').update(text).digest('hex').slice(0, 32)}`;
    statementNames.set(text, name);
  }
  return name;
}

/**
 * Adapt a PGlite instance. PGlite is one connection: its own `transaction` keeps other
 * queries out until it ends, and ours are queued so two never interleave.
 */
export function fromPGlite(pglite: PGliteLike, owned: boolean): Database {
  const adapt = (target: PGliteQueryLike): ScriptQueryable => ({
    async query(text, params) {
      const result = await target.query(text, params as unknown[] | undefined);
      return { rows: result.rows, rowCount: result.affectedRows || result.rowCount || 0 };
    },
    async exec(script) {
      await target.exec(script);
    },
  });
  const direct = adapt(pglite);
  let queue: Promise<unknown> = Promise.resolve();
  return {
    driver: 'pglite',
    query: direct.query,
    exec: direct.exec,
    transaction(work) {
      const run = queue.then(() => pglite.transaction((tx) => work(adapt(tx))));
      queue = run.catch(() => undefined);
      return run;
    },
    async close() {
      if (owned) await pglite.close();
    },
  };
}

// SQLSTATEs raised by this package's own SQL functions (see migrations/001-initial.ts).
export const SQLSTATE_FENCED = 'ENF01';
export const SQLSTATE_PARENT_NOT_FOUND = 'ENN01';
const SQLSTATE_UNIQUE_VIOLATION = '23505';

/**
 * Turn whatever a driver threw into a typed error, once, at the boundary: our own
 * SQLSTATEs become their Entelix errors, everything else a `BackendError`.
 */
export function translateError(error: unknown, action: string): EntelixError {
  const code = (error as { code?: unknown } | null)?.code;
  const options = { cause: error, backend: BACKEND };
  if (code === SQLSTATE_FENCED) {
    return new FencedError(
      `${action} rejected: a newer lease was granted for the lock key`,
      options,
    );
  }
  if (code === SQLSTATE_PARENT_NOT_FOUND) {
    return new NotFoundError(`${action} failed: the parent checkpoint does not exist`, options);
  }
  if (code === SQLSTATE_UNIQUE_VIOLATION) {
    return new ConflictError(`${action} failed: the record already exists`, options);
  }
  return toBackendError(error, BACKEND, action);
}

/** Run one statement, translating driver errors. */
export async function runQuery(
  db: Queryable,
  action: string,
  text: string,
  params: readonly unknown[],
): Promise<QueryResult> {
  try {
    return await db.query(text, params);
  } catch (error) {
    throw translateError(error, action);
  }
}

/**
 * An int8 as a JS number. `pg` hands int8 over as a string, PGlite as a number (or a
 * bigint above 2^53); anything that is not a safe integer is a corrupt record.
 */
export function toSafeInteger(value: unknown, what: string): number {
  const number = typeof value === 'string' || typeof value === 'bigint' ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isSafeInteger(number)) {
    throw new CorruptRecordError(`stored ${what} is not a safe integer`, { backend: BACKEND });
  }
  return number;
}

/** An int8 as a bigint (fence tokens), whatever the driver returned. */
export function toBigInt(value: unknown, what: string): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  if (typeof value === 'string' && /^-?\d+$/.test(value)) return BigInt(value);
  throw new CorruptRecordError(`stored ${what} is not an integer`, { backend: BACKEND });
}

/** A timestamptz as a Date; drivers with custom type parsers may hand over strings. */
export function toDate(value: unknown, what: string): Date {
  const date = value instanceof Date ? value : new Date(value as string);
  if (Number.isNaN(date.getTime())) {
    throw new CorruptRecordError(`stored ${what} is not a timestamp`, { backend: BACKEND });
  }
  return date;
}

/** A nullable timestamptz. */
export function toDateOrNull(value: unknown, what: string): Date | null {
  return value === null || value === undefined ? null : toDate(value, what);
}

/** A text column that must hold a string. */
export function toText(value: unknown, what: string): string {
  if (typeof value !== 'string') {
    throw new CorruptRecordError(`stored ${what} is not text`, { backend: BACKEND });
  }
  return value;
}
