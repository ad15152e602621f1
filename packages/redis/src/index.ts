import {
  AbortedError,
  type CallOptions,
  type Capabilities,
  ConfigError,
  type Persistence,
} from '@entelix/core';
import { createPersistence, describeValue } from '@entelix/core/adapter';
import { Redis } from 'ioredis';
import { createRedisCheckpointer } from './checkpointer.js';
import {
  BACKEND,
  type ClockSource,
  type ConnectionWatch,
  isIoredisMock,
  type RedisContext,
} from './context.js';
import { type RedisDurabilityReport, readDurability } from './durability.js';
import { KeyLayout, readKeyPrefix } from './keys.js';
import { createRedisLock } from './lock.js';
import { purgeTenant } from './purge.js';
import type { RedisClient } from './scripts/lua.js';
import { createRedisSessionLog } from './session-log.js';
import { createRedisStore } from './store.js';

export type { ClockSource } from './context.js';
export type {
  RedisDataKind,
  RedisDurabilityReason,
  RedisDurabilityReport,
  RedisDurabilityRisk,
  RedisDurabilitySettings,
  RedisServerDurability,
} from './durability.js';
export type { RedisClient } from './scripts/lua.js';

/** The bundle {@link createRedisPersistence} returns. */
export interface RedisPersistence extends Persistence {
  /**
   * Read the server's persistence and eviction settings (`CONFIG GET appendonly,
   * appendfsync, save, maxmemory, maxmemory-policy`; on a Cluster, of every master)
   * and report what a restart, a crash or memory pressure can take away. Where
   * `CONFIG` is disabled or not permitted the report says the settings are unreadable
   * instead of failing; a failing connection is `BACKEND`.
   */
  durability(options?: CallOptions): Promise<RedisDurabilityReport>;
}

/** Options of {@link createRedisPersistence}. Give exactly one of `client` and `url`. */
export interface RedisPersistenceOptions {
  /**
   * An ioredis client or `Redis.Cluster` you own. It is never closed by `close()`.
   * Do not set ioredis' own `keyPrefix` on it; use {@link RedisPersistenceOptions.keyPrefix}.
   */
  client?: RedisClient;
  /** A `redis://` / `rediss://` URL; the factory creates the client and `close()` quits it. */
  url?: string;
  /**
   * First segment of every key, default `entelix`: 1-64 characters of
   * `A-Z a-z 0-9 _ . -`. Two deployments with different prefixes never touch each
   * other's keys.
   */
  keyPrefix?: string;
  /**
   * Where "now" comes from for store TTLs and session-event timestamps. `'server'`
   * uses Redis `TIME`, so processes with skewed clocks agree on expiry. `'client'`
   * uses this process's clock: only for single-process setups. The default is
   * `'server'`, except on ioredis-mock, whose `TIME` can be a second off while it
   * expires keys by this process's clock: there it is `'client'`. Lock leases always
   * expire by Redis' own key expiry.
   */
  clock?: ClockSource;
}

const CAPABILITIES: Capabilities = Object.freeze({
  multiProcess: true,
  rls: false,
  ttl: true,
  fencing: true,
});

/**
 * Entelix persistence on Redis or Redis Cluster: checkpoints, store, session log and
 * distributed lock. Every multi-key write is one Lua script whose keys share one hash
 * tag, so it runs unchanged on a Cluster. No Redis modules are needed.
 *
 * Returns synchronously; the connection is made lazily by ioredis.
 *
 * @throws ConfigError when the options are invalid
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { ThreadKey } from '@entelix/core';
 * import { createRedisPersistence } from '@entelix/redis';
 *
 * const client = new Redis(process.env.REDIS_URL!);
 * const persistence = createRedisPersistence({ client, keyPrefix: 'myapp' });
 * const log = persistence.sessionLog<{ role: string; text: string }>();
 * const head = await log.append(ThreadKey.of('acme', 'thread-1'), [{ role: 'user', text: 'hi' }]);
 * await persistence.close(); // the client stays open: it is yours
 * ```
 */
export function createRedisPersistence(options: RedisPersistenceOptions): RedisPersistence {
  if (typeof options !== 'object' || options === null) {
    throw new ConfigError(`options must be an object, got ${describeValue(options)}`, {
      backend: BACKEND,
    });
  }
  const keyPrefix = readKeyPrefix(options.keyPrefix);
  if (options.clock !== undefined && options.clock !== 'server' && options.clock !== 'client') {
    throw new ConfigError("clock must be 'server' or 'client'", { backend: BACKEND });
  }
  const connection: ConnectionWatch = { lastError: undefined };
  const { client, ownsClient } = openClient(options, connection);
  const clock = options.clock ?? (isIoredisMock(client) ? 'client' : 'server');
  const context: RedisContext = {
    client,
    keys: new KeyLayout(keyPrefix),
    clock,
    isCluster: (client as { isCluster?: unknown }).isCluster === true,
    connection,
  };
  let closed: Promise<void> | undefined;

  const persistence = createPersistence({
    backend: BACKEND,
    capabilities: CAPABILITIES,
    checkpointer: createRedisCheckpointer(context),
    store: createRedisStore(context),
    sessionLog: createRedisSessionLog(context),
    lock: createRedisLock(context),
    purgeTenant: (tenantId) => purgeTenant(context, tenantId),
    close() {
      if (!ownsClient) return Promise.resolve();
      closed ??= client.quit().then(
        () => undefined,
        // Already disconnected: nothing left to close.
        () => undefined,
      );
      return closed;
    },
  });
  return Object.freeze({
    ...persistence,
    async durability(durabilityOptions?: CallOptions) {
      const signal = readSignalOption(durabilityOptions);
      if (signal?.aborted) {
        throw new AbortedError('the operation was aborted', {
          cause: signal.reason,
          backend: BACKEND,
        });
      }
      return readDurability(context, isIoredisMock(client));
    },
  });
}

/** The `signal` of `durability()`'s options, checked like every other call's. */
function readSignalOption(options: unknown): AbortSignal | undefined {
  if (options === undefined || options === null) return undefined;
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw new ConfigError(`durability options must be an object, got ${describeValue(options)}`, {
      backend: BACKEND,
    });
  }
  const { signal } = options as CallOptions;
  if (signal === undefined || signal === null) return undefined;
  if (typeof signal !== 'object' || typeof signal.aborted !== 'boolean') {
    throw new ConfigError(`signal must be an AbortSignal, got ${describeValue(signal)}`, {
      backend: BACKEND,
    });
  }
  return signal;
}

function openClient(
  options: RedisPersistenceOptions,
  connection: ConnectionWatch,
): {
  client: RedisClient;
  ownsClient: boolean;
} {
  const { client, url } = options;
  if ((client === undefined) === (url === undefined)) {
    throw new ConfigError('give exactly one of `client` and `url`', { backend: BACKEND });
  }
  if (client !== undefined) {
    if (
      typeof client !== 'object' ||
      client === null ||
      typeof (client as { evalsha?: unknown }).evalsha !== 'function'
    ) {
      throw new ConfigError('client must be an ioredis client or Cluster', { backend: BACKEND });
    }
    return { client, ownsClient: false };
  }
  if (typeof url !== 'string' || !/^rediss?:\/\//.test(url)) {
    throw new ConfigError('url must be a redis:// or rediss:// URL', { backend: BACKEND });
  }
  const created = new Redis(url, URL_CLIENT_OPTIONS);
  // Connection failures reach callers as rejected calls (BackendError) that name the
  // last one; without a listener ioredis would also print every failed attempt.
  created.on('error', (error: Error) => {
    connection.lastError = error;
  });
  created.on('ready', () => {
    connection.lastError = undefined;
  });
  return { client: created, ownsClient: true };
}

/**
 * Options of the client created from `url`: fail fast while the server is away,
 * reconnect quickly once it is back.
 *
 * ioredis' defaults queue a command issued while disconnected and retry it through
 * 20 reconnection attempts (tens of seconds), and re-send commands that were in
 * flight when the connection dropped; a script that already ran would then run twice.
 * Here a command in flight when the connection drops, or issued while it is down,
 * rejects (as `BackendError`) at the next failed reconnection attempt, at most about
 * half a second later. Commands issued while the first connection is being made wait
 * for it, as usual.
 */
const URL_CLIENT_OPTIONS = Object.freeze({
  maxRetriesPerRequest: 0,
  autoResendUnfulfilledCommands: false,
  retryStrategy: (attempt: number) => Math.min(attempt * 50, 500),
});
