import { ConfigError } from '@entelix/core';
import { describeValue } from '@entelix/core/adapter';
import {
  BACKEND,
  type Database,
  fromOwnedPgPool,
  fromPGlite,
  fromPgPool,
  type OwnedPgPool,
  type PGliteLike,
  type PgPoolLike,
  translateError,
} from './queryable.js';

/** How to reach the database: exactly one of `pool`, `connectionString`, `pglite`, or none. */
export interface PostgresConnectionOptions {
  /** A `pg.Pool` you own; never closed by this package. */
  pool?: PgPoolLike;
  /**
   * A connection string; the factory creates a `pg.Pool` and `close()` ends it. That pool
   * survives connections the server ends in the background (a restart, a failover, an
   * idle timeout): the next call gets a new connection, or fails with `BACKEND`.
   */
  connectionString?: string;
  /** An in-process PGlite instance you own; never closed by this package. */
  pglite?: PGliteLike;
  /** Schema holding the tables and functions. Default `entelix`. */
  schema?: string;
  /**
   * Run every statement as a named prepared statement (`pg` only), so each connection
   * parses and plans it once instead of on every call. Off by default: PgBouncer in
   * transaction mode carries prepared statements only from 1.21 on, with
   * `max_prepared_statements` set. PGlite, one in-process connection, ignores it.
   */
  preparedStatements?: boolean;
}

/**
 * Resolve the connection options to a {@link Database}, importing `pg` or PGlite only
 * when needed so both stay optional peer dependencies.
 */
export async function openDatabase(options: PostgresConnectionOptions): Promise<Database> {
  const given = (['pool', 'connectionString', 'pglite'] as const).filter(
    (name) => options[name] !== undefined,
  );
  if (given.length > 1) {
    throw new ConfigError(
      `pass only one of pool, connectionString, pglite (got ${given.join(', ')})`,
      {
        backend: BACKEND,
      },
    );
  }
  const prepared = options.preparedStatements ?? false;
  if (typeof prepared !== 'boolean') {
    throw new ConfigError(`preparedStatements must be a boolean, got ${describeValue(prepared)}`, {
      backend: BACKEND,
    });
  }
  if (options.pool !== undefined) {
    if (typeof options.pool?.query !== 'function' || typeof options.pool.connect !== 'function') {
      throw new ConfigError('pool must be a pg.Pool', { backend: BACKEND });
    }
    return fromPgPool(options.pool, prepared);
  }
  if (options.pglite !== undefined) {
    const pglite = options.pglite;
    if (typeof pglite?.query !== 'function' || typeof pglite.transaction !== 'function') {
      throw new ConfigError('pglite must be a PGlite instance', { backend: BACKEND });
    }
    return fromPGlite(pglite, false);
  }
  if (options.connectionString !== undefined) {
    if (typeof options.connectionString !== 'string' || options.connectionString === '') {
      throw new ConfigError('connectionString must be a non-empty string', { backend: BACKEND });
    }
    const pg = await importOptional<typeof import('pg')>('pg');
    const Pool = (pg.default ?? pg).Pool;
    const pool = new Pool({ connectionString: options.connectionString });
    return fromOwnedPgPool(pool as unknown as OwnedPgPool, prepared);
  }
  const { PGlite } =
    await importOptional<typeof import('@electric-sql/pglite')>('@electric-sql/pglite');
  try {
    return fromPGlite((await PGlite.create()) as unknown as PGliteLike, true);
  } catch (error) {
    throw translateError(error, 'starting PGlite');
  }
}

async function importOptional<T>(name: string): Promise<T> {
  try {
    return (await import(name)) as T;
  } catch (error) {
    throw new ConfigError(`install the optional peer dependency ${name} to use this option`, {
      cause: error,
      backend: BACKEND,
    });
  }
}
