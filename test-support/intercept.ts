import type { PGlite } from '@electric-sql/pglite';
import type { PgPoolLike } from '@entelix/postgres';
import type pg from 'pg';

/** A statement on its way to the driver. */
export interface SentStatement {
  readonly text: string;
  readonly params: readonly unknown[];
}

/**
 * Sits between a bundle and its driver: sees every statement and may answer for the
 * driver (`run` sends the statement on and returns the driver's answer).
 */
export type Interceptor = <Result>(
  statement: SentStatement,
  run: () => Promise<Result>,
) => Promise<Result>;

/** A `pg.Pool` whose every statement, on the pool and on checked-out clients, goes through `intercept`. */
export function interceptPool(pool: pg.Pool, intercept: Interceptor): PgPoolLike {
  const send = (target: pg.Pool | pg.PoolClient, query: any, values?: unknown[]) =>
    intercept(
      {
        text: typeof query === 'string' ? query : String((query as { text?: unknown }).text),
        params: values ?? [],
      },
      () => target.query(query, values),
    );
  return {
    query: ((query: any, values?: unknown[]) => send(pool, query, values)) as PgPoolLike['query'],
    async connect() {
      const client = await pool.connect();
      return new Proxy(client, {
        get(target, property, receiver) {
          if (property !== 'query') return Reflect.get(target, property, receiver);
          return (query: any, values?: unknown[]) => send(target, query, values);
        },
      });
    },
    end: () => pool.end(),
  };
}

/** A PGlite whose every statement (`query` and `exec`) goes through `intercept`. */
export function interceptPglite(pglite: PGlite, intercept: Interceptor): PGlite {
  return new Proxy(pglite, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (property !== 'query' && property !== 'exec') return value;
      return (text: string, ...rest: unknown[]) =>
        intercept(
          { text, params: property === 'query' ? ((rest[0] as unknown[] | undefined) ?? []) : [] },
          () => (value as (...args: unknown[]) => Promise<unknown>).apply(target, [text, ...rest]),
        );
    },
  });
}

/** An interceptor that only reports each statement's text. */
export function reporting(onQuery: (text: string) => void): Interceptor {
  return (statement, run) => {
    onQuery(statement.text);
    return run();
  };
}
