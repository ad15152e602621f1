import { BackendError, ConfigError, CorruptRecordError } from '@entelix/core';
import { fencedError, toBackendError, type VerifiedFence } from '@entelix/core/adapter';
import { clusterSlot, type KeyLayout } from './keys.js';
import { type LuaScript, type RedisClient, runScript, ScriptStatus } from './scripts/lua.js';

export const BACKEND = 'redis';

/** Where "now" comes from for TTLs and event timestamps. */
export type ClockSource = 'server' | 'client';

/** What every contract implementation shares. Internal. */
export interface RedisContext {
  readonly client: RedisClient;
  readonly keys: KeyLayout;
  readonly clock: ClockSource;
  readonly isCluster: boolean;
  /** What the bundle saw of its client's connection, to say why a command failed. */
  readonly connection: ConnectionWatch;
}

/**
 * The last connection error of a client the bundle created (from its `error` events,
 * cleared on `ready`). A client passed in is not watched: a listener would change how
 * it reports errors to its owner.
 */
export interface ConnectionWatch {
  lastError: Error | undefined;
}

/**
 * True for an ioredis-mock client, whose `TIME` is not wall-clock time: it rounds the
 * seconds and takes the microseconds from `process.hrtime`, so it reads up to a second
 * off, while it expires keys by `Date.now()`. With the server clock an item would then
 * outlive its TTL by up to a second, so the mock gets this process's clock by default;
 * it only serves this process, so that clock is the one its key expiry follows.
 * Recognised by the script registry the mock keeps on the instance; a real ioredis
 * client has a connector (or, for a Cluster, a connection pool) and no such registry.
 */
export function isIoredisMock(client: RedisClient): boolean {
  const candidate = client as { shaScripts?: unknown; connector?: unknown };
  return (
    typeof candidate.shaScripts === 'object' &&
    candidate.shaScripts !== null &&
    candidate.connector === undefined
  );
}

/** `ARGV[1]` of every script that reads the clock. */
export function clockArgument(context: RedisContext): string {
  return context.clock === 'server' ? '' : String(Date.now());
}

/**
 * Run a script, wrapping driver failures as `BackendError` once, here. `keysAndArgs`
 * holds the `keyCount` keys, then the arguments, in one flat array.
 */
export function run(
  context: RedisContext,
  script: LuaScript,
  keyCount: number,
  keysAndArgs: readonly (string | number)[],
  action: string,
): Promise<unknown> {
  return command(context, action, () => runScript(context.client, script, keyCount, keysAndArgs));
}

/**
 * True for a script's nil reply. Redis turns a Lua `false` into nil; ioredis-mock
 * hands the `false` through.
 */
export function isNilReply(reply: unknown): reply is null | undefined | false {
  return reply === null || reply === undefined || reply === false;
}

/** Run a plain command, wrapping driver failures as `BackendError`. */
export function command<T>(
  context: RedisContext,
  action: string,
  fn: () => Promise<T>,
): Promise<T> {
  let pending: Promise<T>;
  try {
    pending = fn();
  } catch (error) {
    return Promise.reject(driverError(context, error, action));
  }
  return pending.catch((error: unknown) => {
    throw driverError(context, error, action);
  });
}

/**
 * The typed error for what the driver threw. A `WRONGTYPE` reply means one of this
 * library's keys holds another type than it ever stores there: a malformed stored
 * entry, not a failing server. A command that failed for want of a connection says so,
 * naming the server, instead of ioredis' own words for it ("Reached the max retries per
 * request limit", "Connection is closed").
 */
function driverError(context: RedisContext, error: unknown, action: string): Error {
  if (error instanceof Error && /\bWRONGTYPE\b/.test(error.message)) {
    return new CorruptRecordError(`${action} found a key holding another type of value`, {
      cause: error,
      backend: BACKEND,
    });
  }
  const unreachable = connectionFailure(context, error);
  if (unreachable !== undefined) {
    return new BackendError(`${action} failed: ${unreachable}`, { cause: error, backend: BACKEND });
  }
  return toBackendError(error, BACKEND, action);
}

/** Why the client cannot reach its server, when that is why `error` happened. */
function connectionFailure(context: RedisContext, error: unknown): string | undefined {
  // A reply is an answer from a server: not a connection failure.
  if (!(error instanceof Error) || error.name === 'ReplyError') return undefined;
  const status = (context.client as { status?: unknown }).status;
  // A client without a status (ioredis-mock) has no connection to lose.
  if (status === 'ready' || status === undefined) return undefined;
  const { lastError } = context.connection;
  const address = serverAddress(context, lastError);
  if (lastError !== undefined) {
    const code = (lastError as { code?: unknown }).code;
    if (code === 'ECONNREFUSED') {
      return `the connection to Redis at ${address} was refused (${lastError.message})`;
    }
    return `Redis at ${address} cannot be reached (${lastError.message})`;
  }
  return `Redis at ${address} is not connected (client status: ${String(status)}; ${error.message})`;
}

/** `host:port` (or the socket path) of the server, as the error or the client names it. */
function serverAddress(context: RedisContext, connectionError: Error | undefined): string {
  const failed = connectionError as { address?: unknown; port?: unknown } | undefined;
  if (typeof failed?.address === 'string' && typeof failed.port === 'number') {
    return `${failed.address}:${failed.port}`;
  }
  if (context.isCluster) return 'the Cluster';
  const options = (context.client as { options?: { host?: string; port?: number; path?: string } })
    .options;
  if (options?.path) return options.path;
  return `${options?.host ?? 'localhost'}:${options?.port ?? 6379}`;
}

/** The fence part of a write script's KEYS and ARGV. */
export interface FenceArguments {
  /** The fence counter key, or undefined when the write is unfenced. */
  readonly key: string | undefined;
  /** The fence as decimal text, or `''` when the write is unfenced. */
  readonly fence: string;
}

const UNFENCED: FenceArguments = Object.freeze({ key: undefined, fence: '' });

/**
 * Turn a write's verified fence into the fence counter key and value the write script
 * checks atomically.
 *
 * The counter lives in the lease's thread slot. On Redis Cluster a script may only
 * touch one slot, so a fenced write must land in the same slot as its lease: always
 * true for a checkpoint or session-log write fenced by a lease on the same thread;
 * anything else (store writes, a lease on another thread) is rejected with
 * `ConfigError` there instead of being checked non-atomically.
 */
export function fenceArguments(
  context: RedisContext,
  fence: VerifiedFence | undefined,
  dataKey: string,
): FenceArguments {
  if (fence === undefined) return UNFENCED;
  const counterKey = context.keys.lock(fence.key).fence;
  if (context.isCluster && clusterSlot(counterKey) !== clusterSlot(dataKey)) {
    throw new ConfigError(
      `on Redis Cluster a write can only be fenced by a lease in its own slot; the lease on ${fence.lockKey} is in another one`,
      { backend: BACKEND },
    );
  }
  return { key: counterKey, fence: fence.fence.toString() };
}

/**
 * Run a write script: `keys` (a fresh array, which this fills), the fence counter key
 * when fenced (last in KEYS), then ARGV `clock`, the fence and `args`.
 */
export function runWrite(
  context: RedisContext,
  script: LuaScript,
  keys: (string | number)[],
  fence: FenceArguments,
  clock: string,
  args: readonly (string | number)[],
  action: string,
): Promise<unknown> {
  if (fence.key !== undefined) keys.push(fence.key);
  const keyCount = keys.length;
  keys.push(clock, fence.fence);
  for (const arg of args) keys.push(arg);
  return run(context, script, keyCount, keys, action);
}

/** Turn a script's FENCED status into the error; pass other results through. */
export function throwIfFenced(result: unknown): void {
  if (result === ScriptStatus.FENCED) throw fencedError(BACKEND);
}

/** A script result that should be an integer. */
export function expectInteger(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new CorruptRecordError(`unexpected ${what} reply from Redis`, { backend: BACKEND });
  }
  return value;
}

/** A script result that should be a string. */
export function expectString(value: unknown, what: string): string {
  if (typeof value !== 'string') {
    throw new CorruptRecordError(`unexpected ${what} reply from Redis`, { backend: BACKEND });
  }
  return value;
}

/** A script result that should be an array of `length` entries. */
export function expectArray(value: unknown, length: number, what: string): unknown[] {
  if (!Array.isArray(value) || value.length !== length) {
    throw new CorruptRecordError(`unexpected ${what} reply from Redis`, { backend: BACKEND });
  }
  return value;
}

/**
 * The tenant mark stored in every record: the tenant id as JSON text, so it never
 * holds a raw tab or newline and the record's other parts can follow a tab.
 */
export function tenantMark(tenantId: string): string {
  return JSON.stringify(tenantId);
}

/**
 * The tenant a record's mark at `text[start, end)` names, for the kit's row check:
 * the caller's own tenant when the mark is `mark` (the usual case, without parsing),
 * else whatever the text parses to (undefined when it is not JSON).
 */
export function readTenantMark(
  text: string,
  start: number,
  end: number,
  mark: string,
  tenantId: string,
): unknown {
  if (end - start === mark.length && text.startsWith(mark, start)) return tenantId;
  return parseJson(text.slice(start, end));
}

/** `JSON.parse`, or undefined when the text is not JSON. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * Run `work` over `items` with at most `limit` in flight. A failure stops new work;
 * once what is in flight has settled, the first failure is thrown.
 */
export async function forEachConcurrently<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (failure === undefined && next < items.length) {
      const item = items[next++] as T;
      try {
        await work(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== undefined) throw failure.error;
}
