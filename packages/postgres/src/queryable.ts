import { createHash } from 'node:crypto';
import {
  AbortedError,
  BackendError,
  ConflictError,
  CorruptRecordError,
  type EntelixError,
  FencedError,
  NotFoundError,
} from '@entelix/core';
import { expectedHeadConflict, FENCED_REASON, toBackendError } from '@entelix/core/adapter';

/** Backend name used in every error message of this package. */
export const BACKEND = 'postgres';

/** What every statement returns once the driver differences are smoothed out. */
export interface QueryResult {
  rows: any[];
  /** Rows returned or affected; `0` when the driver does not say. */
  rowCount: number;
}

/**
 * The one thing the contracts need from a driver: run a parameterized statement. With a
 * `signal`, an abort after the statement was sent cancels it where the driver can (see
 * {@link fromPgPool}); the call then rejects with `ABORTED`, unless it had committed.
 */
export interface Queryable {
  query(text: string, params?: readonly unknown[], signal?: AbortSignal): Promise<QueryResult>;
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
  /**
   * Refuse every later call (`BACKEND`) and close the driver if the factory created it,
   * settling every call still in flight on it.
   */
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

/**
 * The parts of a checked-out `pg.PoolClient` this package uses. The optional members
 * are what `pg`'s own client has: the cancel key the server handed out (`processID`,
 * `secretKey`) and where it connected, so an aborted call can cancel its statement, and
 * the events a connection that dies while checked out is reported by.
 */
export interface PgPoolClientLike {
  query(textOrConfig: string | PgQueryConfig, values?: unknown[]): Promise<PgResultLike>;
  release(error?: Error | boolean): void;
  readonly processID?: number | null;
  readonly secretKey?: number | null;
  readonly host?: string;
  readonly port?: number;
  on?(event: 'error', listener: (error: Error) => void): unknown;
  removeListener?(event: 'error', listener: (error: Error) => void): unknown;
}

/** A client of the factory's own pool: it can also be ended while checked out. */
export interface OwnedPgPoolClient extends PgPoolClientLike {
  end(): Promise<void>;
}

/** The factory's own `pg.Pool`: its events and queue are ours to use. */
export interface OwnedPgPool extends PgPoolLike {
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'acquire', listener: (client: OwnedPgPoolClient) => void): unknown;
  on(event: 'release', listener: (error: unknown, client: OwnedPgPoolClient) => void): unknown;
  /** Calls waiting for a connection; once the pool is ending, none of them is served. */
  readonly waitingCount: number;
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

// query_canceled: what a cancel request (ours, or statement_timeout's) makes a statement fail with.
const SQLSTATE_QUERY_CANCELED = '57014';

/** How long a cancel request may take to reach the server before we give up on it. */
const CANCEL_TIMEOUT_MS = 5_000;

/**
 * How long `close()` waits for the statements it cancelled to end before it drops their
 * connections and settles what is left with `BACKEND`.
 */
const CLOSE_GRACE_MS = 2_000;

function sqlState(error: unknown): unknown {
  return (error as { code?: unknown } | null)?.code;
}

function closedError(): EntelixError {
  return new BackendError('the persistence bundle is closed', { backend: BACKEND });
}

/**
 * Adapt a `pg.Pool` the caller owns. With `preparedStatements`, every parameterized
 * statement runs as a named statement, so each connection parses and plans it once;
 * multi-statement scripts are never named.
 *
 * A call without a signal goes through `pool.query`, as fast as the pool allows. A call
 * with one checks out its own connection, so that an abort after the statement was
 * sent can cancel exactly that statement: a protocol-level cancel request carrying the
 * connection's cancel key, sent over a new connection to the same host and port (what
 * `pg` and libpq do, and what PgBouncer forwards). The statement fails with
 * query_canceled, its transaction rolls back and the call rejects with `ABORTED`; a
 * statement that committed before the request arrived resolves as usual. The
 * connection is then discarded rather than returned to the pool, so a cancel request
 * that arrives late can never hit the next statement run on it.
 */
export function fromPgPool(pool: PgPoolLike, preparedStatements = false): Database {
  return createPgDatabase(pool, preparedStatements, undefined);
}

/**
 * Adapt the `pg.Pool` the factory created. Besides {@link fromPgPool}: the pool survives
 * background errors, and `close()` settles every call in flight (see there).
 */
export function fromOwnedPgPool(pool: OwnedPgPool, preparedStatements = false): Database {
  // A restart, a failover or an idle timeout ends idle connections in the background;
  // pg-pool drops them and reports it here, and Node would exit on an 'error' event no
  // one listens to. Nothing is lost: the next call gets a fresh connection, or fails
  // with BACKEND if the server is still away.
  pool.on('error', () => undefined);
  return createPgDatabase(pool, preparedStatements, pool);
}

/** One call of an owned pool not settled yet, and how `close()` settles it. */
interface CallInFlight {
  reject(error: EntelixError): void;
}

function createPgDatabase(
  pool: PgPoolLike,
  preparedStatements: boolean,
  owned: OwnedPgPool | undefined,
): Database {
  // Per database, not per module: names are derived from the text, so a cache only
  // saves hashing, and it must go when the database does.
  const statementNames = new Map<string, string>();
  const nameOf = (text: string) => {
    let name = statementNames.get(text);
    if (name === undefined) {
      name = statementName(text);
      statementNames.set(text, name);
    }
    return name;
  };
  const run = preparedStatements
    ? (target: PgPoolLike | PgPoolClientLike, text: string, params: readonly unknown[] = []) =>
        target.query({ name: nameOf(text), text, values: params as unknown[] })
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

  let closed = false;
  let closing = false;
  // Only an owned pool is tracked: close() ends it, so it must settle what runs on it.
  const inFlight = new Set<CallInFlight>();
  const checkedOut = new Set<OwnedPgPoolClient>();
  let onSettled: (() => void) | undefined;
  if (owned !== undefined) {
    owned.on('acquire', (client) => {
      // A connection that finished connecting while close() ran: nothing may start on it.
      if (closing) void client.end();
      else checkedOut.add(client);
    });
    owned.on('release', (_error, client) => {
      checkedOut.delete(client);
    });
  }

  /** Refuse calls after close(); on an owned pool, keep the call until it settles. */
  const guard = <T>(call: () => Promise<T>): Promise<T> => {
    if (closed) return Promise.reject(closedError());
    if (owned === undefined) return call();
    return new Promise<T>((resolve, reject) => {
      const entry: CallInFlight = { reject };
      inFlight.add(entry);
      call().then(
        (value) => {
          if (inFlight.delete(entry)) resolve(value);
          onSettled?.();
        },
        (error: unknown) => {
          if (inFlight.delete(entry)) reject(closing ? endedByClose(error) : error);
          onSettled?.();
        },
      );
    });
  };

  /** A connection for one call; if the signal aborts first, the call rejects at once. */
  const checkOut = (signal: AbortSignal): Promise<PgPoolClientLike> =>
    new Promise((resolve, reject) => {
      const onAbort = () => reject(abortedBeforeSending(signal));
      signal.addEventListener('abort', onAbort, { once: true });
      pool.connect().then(
        (client) => {
          signal.removeEventListener('abort', onAbort);
          // Aborted while waiting: the call has rejected; the connection goes back unused.
          if (signal.aborted) client.release();
          else resolve(client);
        },
        (error: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(error);
        },
      );
    });

  const queryWithSignal = async (
    text: string,
    params: readonly unknown[] | undefined,
    signal: AbortSignal,
  ): Promise<QueryResult> => {
    if (signal.aborted) throw abortedBeforeSending(signal);
    const client = await checkOut(signal);
    // An abort between the checkout and this line found no listener: honour it here.
    if (signal.aborted) {
      client.release();
      throw abortedBeforeSending(signal);
    }
    let cancelRequest: Promise<void> | undefined;
    const cancel = () => {
      cancelRequest ??= requestCancel(client);
    };
    // The statement's own rejection reports a connection that dies under it.
    const onConnectionError = () => undefined;
    client.on?.('error', onConnectionError);
    signal.addEventListener('abort', cancel, { once: true });
    let failed = false;
    try {
      const result = await run(client, text, params);
      return { rows: result.rows, rowCount: result.rowCount ?? 0 };
    } catch (error) {
      failed = true;
      if (cancelRequest !== undefined && sqlState(error) === SQLSTATE_QUERY_CANCELED) {
        throw new AbortedError(
          'the operation was aborted: its statement was cancelled and rolled back',
          { cause: error, backend: BACKEND },
        );
      }
      throw error;
    } finally {
      signal.removeEventListener('abort', cancel);
      // Wait for the server to take the request: until then it could still land on
      // whatever runs next on this connection, which is why the connection is dropped.
      if (cancelRequest !== undefined) await cancelRequest;
      client.removeListener?.('error', onConnectionError);
      // As pool.query does: after a failure the connection may be dying (its end not
      // seen yet), so it is not handed to the next call.
      client.release(failed || cancelRequest !== undefined);
    }
  };

  /** Cancel what runs on the owned pool's connections, then settle whatever is left. */
  const closeOwnedPool = async (ownedPool: OwnedPgPool): Promise<void> => {
    closing = true;
    // From here on the pool serves no waiting call and closes idle connections.
    const ended = ownedPool.end();
    await Promise.all([...checkedOut].map((client) => requestCancel(client)));
    await new Promise<void>((resolve) => {
      // Calls still waiting for a connection will never get one: they do not count.
      const check = () => {
        if (inFlight.size <= ownedPool.waitingCount) done();
      };
      const timer = setTimeout(() => done(), CLOSE_GRACE_MS);
      const done = () => {
        clearTimeout(timer);
        onSettled = undefined;
        resolve();
      };
      onSettled = check;
      check();
    });
    for (const call of inFlight) {
      call.reject(
        new BackendError('the call was in flight when close() ended the pool', {
          backend: BACKEND,
        }),
      );
    }
    inFlight.clear();
    // A statement that outlived its cancel request: its connection is dropped, so the
    // pool can end. Ending a client with a statement running destroys its socket.
    await Promise.all([...checkedOut].map((client) => client.end()));
    await ended;
  };

  return {
    driver: 'pg',
    query(text, params, signal) {
      if (signal !== undefined) return guard(() => queryWithSignal(text, params, signal));
      return guard(async () => {
        const result = await run(pool, text, params);
        return { rows: result.rows, rowCount: result.rowCount ?? 0 };
      });
    },
    exec(script) {
      return guard(async () => {
        await pool.query(script);
      });
    },
    transaction(work) {
      return guard(async () => {
        const client = await pool.connect();
        const onConnectionError = () => undefined;
        client.on?.('error', onConnectionError);
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
          client.removeListener?.('error', onConnectionError);
          client.release(broken);
        }
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      if (owned !== undefined) await closeOwnedPool(owned);
    },
  };
}

/**
 * What a call that failed while close() ended the pool reports: a statement close()
 * cancelled, or a connection it ended, is `BACKEND` saying so; any other failure (a
 * conflict, say) is the call's own and is translated as usual.
 */
function endedByClose(error: unknown): unknown {
  const code = sqlState(error);
  if (code !== undefined && code !== SQLSTATE_QUERY_CANCELED) return error;
  return new BackendError('the call was in flight when close() ended the pool', {
    cause: error,
    backend: BACKEND,
  });
}

function abortedBeforeSending(signal: AbortSignal): EntelixError {
  return new AbortedError('the operation was aborted', { cause: signal.reason, backend: BACKEND });
}

/**
 * Ask the server to cancel whatever `client`'s connection is running: a CancelRequest
 * message (length 16, code 80877102, the backend's process id and secret key) on a new
 * connection to the same host and port, the way `pg`'s own `cancel` sends it. Resolves
 * once the server has taken it (it closes that connection) or it could not be sent; a
 * client without a cancel key cannot be cancelled, and resolves at once.
 */
export async function requestCancel(client: PgPoolClientLike): Promise<void> {
  const { processID, secretKey, host, port } = client;
  if (typeof processID !== 'number' || typeof secretKey !== 'number' || port === undefined) {
    return;
  }
  const { createConnection } = await import('node:net');
  const message = Buffer.alloc(16);
  message.writeInt32BE(16, 0);
  message.writeInt32BE(80877102, 4);
  message.writeInt32BE(processID, 8);
  message.writeInt32BE(secretKey, 12);
  await new Promise<void>((resolve) => {
    const socket =
      host?.startsWith('/') === true
        ? createConnection(`${host}/.s.PGSQL.${port}`)
        : createConnection({ host: host ?? 'localhost', port });
    socket.setTimeout(CANCEL_TIMEOUT_MS, () => socket.destroy());
    // Written, not ended: like libpq, wait for the server to close the connection. A
    // client that half-closes first is not what servers and poolers expect; PgBouncer
    // 1.18 exits on it while it forwards the request.
    socket.once('connect', () => socket.write(message));
    // An unreachable server has nothing left to cancel: the statement's own call reports it.
    socket.on('error', () => undefined);
    socket.once('close', () => resolve());
    socket.resume();
  });
}

/**
 * The name of a statement: derived from its text, so the same text gets the same name
 * on every connection and two texts (two schemas, say) never share one. Postgres keeps
 * 63 bytes of a name.
 */
export function statementName(text: string): string {
  return `entelix_${createHash('sha1').update(text).digest('hex').slice(0, 32)}`;
}

/**
 * Adapt a PGlite instance. PGlite is one connection: its own `transaction` keeps other
 * queries out until it ends, and ours are queued so two never interleave.
 *
 * A statement cannot be cancelled there: PGlite runs it to completion in this thread, so
 * a signal is checked before the statement is handed over and not after; an abort that
 * lands later leaves the call to report what the statement did.
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
  let closed = false;
  return {
    driver: 'pglite',
    query(text, params) {
      return closed ? Promise.reject(closedError()) : direct.query(text, params);
    },
    exec(script) {
      return closed ? Promise.reject(closedError()) : direct.exec(script);
    },
    transaction(work) {
      if (closed) return Promise.reject(closedError());
      const run = queue.then(() => pglite.transaction((tx) => work(adapt(tx))));
      queue = run.catch(() => undefined);
      return run;
    },
    async close() {
      if (closed) return;
      closed = true;
      if (owned) await pglite.close();
    },
  };
}

// SQLSTATEs raised by this package's own SQL functions (see migrations/).
export const SQLSTATE_FENCED = 'ENF01';
export const SQLSTATE_NOT_FOUND = 'ENN01';
export const SQLSTATE_HEAD_CONFLICT = 'ENC01';
const SQLSTATE_UNIQUE_VIOLATION = '23505';

/** What a statement's caller knows that a typed error may need. */
export interface StatementOptions {
  /** Cancels the statement in flight where the driver can (see {@link Queryable}). */
  readonly signal?: AbortSignal | undefined;
  /** The `expectedHead` of a conditional session-log write, for its `CONFLICT`. */
  readonly expectedHead?: number | undefined;
}

/**
 * Turn whatever a driver threw into a typed error, once, at the boundary: our own
 * SQLSTATEs become their Entelix errors, everything else a `BackendError`.
 */
export function translateError(
  error: unknown,
  action: string,
  options: StatementOptions = {},
): EntelixError {
  const code = sqlState(error);
  const cause = { cause: error, backend: BACKEND };
  const detail = error instanceof Error ? error.message : String(error);
  if (code === SQLSTATE_FENCED) {
    return new FencedError(`${action} rejected: ${FENCED_REASON}`, cause);
  }
  if (code === SQLSTATE_NOT_FOUND) return new NotFoundError(`${action} failed: ${detail}`, cause);
  if (code === SQLSTATE_HEAD_CONFLICT && options.expectedHead !== undefined) {
    return expectedHeadConflict(options.expectedHead, BACKEND);
  }
  if (code === SQLSTATE_UNIQUE_VIOLATION) {
    return new ConflictError(`${action} failed: the record already exists`, cause);
  }
  return toBackendError(error, BACKEND, action);
}

/** Run one statement, translating driver errors. */
export async function runQuery(
  db: Queryable,
  action: string,
  text: string,
  params: readonly unknown[],
  options: StatementOptions = {},
): Promise<QueryResult> {
  try {
    return await db.query(text, params, options.signal);
  } catch (error) {
    throw translateError(error, action, options);
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
