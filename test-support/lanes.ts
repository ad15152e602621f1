import type { Persistence } from '@entelix/core';
import { createMemoryDatabase, createMemoryPersistence } from '@entelix/memory';
import { createPostgresPersistence } from '@entelix/postgres';
import { createRedisPersistence, type RedisClient } from '@entelix/redis';
import { Cluster, Redis } from 'ioredis';
import RedisMock from 'ioredis-mock';
import pg from 'pg';
import { afterAll, beforeAll, describe } from 'vitest';
import { interceptPglite, interceptPool, reporting } from './intercept.js';
import { freshPGliteAsAppRole } from './pglite.js';
import { APP_ROLE, applicationGrants, ensureAppRole, urlForRole } from './postgres-roles.js';
import { describeWithService, type ServiceVariable } from './services.js';

/**
 * The backends a bridge package's tests run on, each as an application would open it:
 * Postgres and PGlite as a role that row-level security binds, Redis under a key prefix
 * of the lane's own. The suites are written once over {@link Lane}; `*.test.ts` files
 * run them on {@link LOCAL_LANES} (no server) and `*.int.test.ts` files on
 * {@link SERVICE_LANES}.
 */
export interface Lane {
  readonly name: string;
  /** The variable naming the service this lane needs, if any. */
  readonly requires?: ServiceVariable;
  /** The protocol the lane's driver speaks, whose statements `onQuery` reports; none on memory. */
  readonly wire?: 'postgres' | 'redis';
  /** Create the lane's storage: a schema, a key prefix, an in-process database. */
  start(): Promise<LaneStorage>;
}

/** One lane's storage, open for the duration of a suite. */
export interface LaneStorage {
  /**
   * A new bundle over the storage; every bundle sees the same data. With `onQuery`,
   * the bundle's driver reports each statement or command it sends on the lane's
   * {@link Lane.wire}, so a test can count backend calls.
   */
  open(options?: { onQuery?: (text: string) => void }): Promise<Persistence>;
  /**
   * How another OS process reaches the same storage (see `workers/open-shared.mjs`);
   * absent where the storage lives in this process (memory, PGlite, ioredis-mock).
   */
  readonly shared?: SharedStorage;
  /** Close every bundle this storage opened and drop what it created. */
  close(): Promise<void>;
}

/** Plain JSON, so that it can cross a process boundary. */
export type SharedStorage =
  | { readonly kind: 'postgres'; readonly url: string; readonly schema: string }
  | { readonly kind: 'redis'; readonly url: string; readonly keyPrefix: string }
  | { readonly kind: 'redis-cluster'; readonly nodes: string; readonly keyPrefix: string };

export const MEMORY_LANE: Lane = {
  name: 'memory',
  async start() {
    const database = createMemoryDatabase();
    return storageOf(async () => ({ persistence: createMemoryPersistence({ database }) }));
  },
};

export const PGLITE_LANE: Lane = {
  name: 'PGlite (application role)',
  wire: 'postgres',
  async start() {
    const schema = 'entelix';
    const pglite = await freshPGliteAsAppRole(createPostgresPersistence, schema);
    const storage = storageOf(async ({ onQuery }) => ({
      persistence: await createPostgresPersistence({
        pglite: onQuery === undefined ? pglite : interceptPglite(pglite, reporting(onQuery)),
        schema,
        migrate: 'verify',
      }),
    }));
    return {
      ...storage,
      async close() {
        await storage.close();
        await pglite.close();
      },
    };
  },
};

export const IOREDIS_MOCK_LANE: Lane = {
  name: 'ioredis-mock',
  wire: 'redis',
  async start() {
    // Mock clients with the same host and port share one data set, like connections
    // to one server; a fresh port per lane keeps lanes apart.
    const port = 10_000 + Math.floor(Math.random() * 50_000);
    const keyPrefix = randomPrefix();
    return storageOf(async ({ onQuery }) => {
      const client = new RedisMock({ port }) as unknown as RedisClient;
      if (onQuery !== undefined) countCommands(client, onQuery);
      return { persistence: createRedisPersistence({ client, keyPrefix }) };
    });
  },
};

export const POSTGRES_LANE: Lane = {
  name: 'Postgres (application role)',
  wire: 'postgres',
  requires: 'DATABASE_URL',
  start: () => postgresStorage(serviceUrl('DATABASE_URL')),
};

export const PGBOUNCER_LANE: Lane = {
  name: 'Postgres through PgBouncer (transaction pooling)',
  wire: 'postgres',
  requires: 'PGBOUNCER_URL',
  // Migrated directly as the owner (so DATABASE_URL is needed too); the application
  // role goes through the bouncer.
  start: () => postgresStorage(serviceUrl('DATABASE_URL'), serviceUrl('PGBOUNCER_URL')),
};

export const REDIS_LANE: Lane = {
  name: 'Redis',
  wire: 'redis',
  requires: 'REDIS_URL',
  start() {
    const url = serviceUrl('REDIS_URL');
    return redisStorage(
      () => new Redis(url, { maxRetriesPerRequest: 1 }),
      (keyPrefix) => ({
        kind: 'redis',
        url,
        keyPrefix,
      }),
    );
  },
};

export const REDIS_CLUSTER_LANE: Lane = {
  name: 'Redis Cluster',
  wire: 'redis',
  requires: 'REDIS_CLUSTER_NODES',
  start() {
    const nodes = serviceUrl('REDIS_CLUSTER_NODES');
    return redisStorage(
      () => openCluster(nodes),
      (keyPrefix) => ({
        kind: 'redis-cluster',
        nodes,
        keyPrefix,
      }),
    );
  },
};

/** The lanes that need no server: what `npm test` runs everywhere. */
export const LOCAL_LANES: readonly Lane[] = [MEMORY_LANE, PGLITE_LANE, IOREDIS_MOCK_LANE];

/** The lanes on real servers, each gated by its variable (a failure under REQUIRE_SERVICES=1). */
export const SERVICE_LANES: readonly Lane[] = [
  POSTGRES_LANE,
  PGBOUNCER_LANE,
  REDIS_LANE,
  REDIS_CLUSTER_LANE,
];

/**
 * Declare `body` once per lane, under a suite titled with the lane's name and `title`.
 * A lane that needs a service runs only when its variable is set (see
 * {@link describeWithService}).
 */
export function describeLanes(
  lanes: readonly Lane[],
  title: string,
  body: (lane: Lane) => void,
): void {
  for (const lane of lanes) {
    const laneTitle = `${title} on ${lane.name}`;
    if (lane.requires === undefined) describe(laneTitle, () => body(lane));
    else describeWithService(lane.requires, laneTitle, () => body(lane));
  }
}

/** A lane opened for a suite; its fields are set once the suite's `beforeAll` has run. */
export interface OpenedLane {
  readonly storage: LaneStorage;
  /** A bundle over the storage. */
  readonly persistence: Persistence;
}

/**
 * Open `lane` for the enclosing suite: its storage and one bundle over it in
 * `beforeAll`, everything it opened closed in `afterAll`.
 */
export function openLane(lane: Lane): OpenedLane {
  const opened: { storage?: LaneStorage; persistence?: Persistence } = {};
  beforeAll(async () => {
    opened.storage = await lane.start();
    opened.persistence = await opened.storage.open();
  });
  afterAll(async () => {
    await opened.storage?.close();
  });
  return opened as OpenedLane;
}

/** A random id for a tenant, thread or namespace part of one test. */
export function randomId(prefix: string): string {
  return `${prefix}-${crypto.randomUUID()}`;
}

interface OpenedBundle {
  persistence: Persistence;
  /** Close what was opened for the bundle besides the bundle itself. */
  close?: () => Promise<void>;
}

/** A storage whose bundles come from `openBundle`, closed together. */
function storageOf(
  openBundle: (options: { onQuery?: (text: string) => void }) => Promise<OpenedBundle>,
): LaneStorage {
  const opened: OpenedBundle[] = [];
  return {
    async open(options = {}) {
      const bundle = await openBundle(options);
      opened.push(bundle);
      return bundle.persistence;
    },
    async close() {
      for (const bundle of opened.splice(0)) {
        await bundle.persistence.close();
        await bundle.close?.();
      }
    },
  };
}

/**
 * A key prefix of its own on a Redis server or Cluster, each bundle with a client from
 * `openClient`; closing deletes every key under the prefix.
 */
async function redisStorage(
  openClient: () => Redis | Cluster,
  shared: (keyPrefix: string) => SharedStorage,
): Promise<LaneStorage> {
  const keyPrefix = randomPrefix();
  const storage = storageOf(async ({ onQuery }) => {
    const client = openClient();
    if (onQuery !== undefined) countCommands(client, onQuery);
    return {
      persistence: createRedisPersistence({ client, keyPrefix }),
      close: async () => void (await client.quit()),
    };
  });
  return {
    ...storage,
    shared: shared(keyPrefix),
    async close() {
      await storage.close();
      const client = openClient();
      try {
        await deleteKeysUnder(client, keyPrefix);
      } finally {
        await client.quit();
      }
    },
  };
}

/**
 * A fresh schema on a real server, migrated by the owner at `ownerUrl`, whose bundles
 * connect as {@link APP_ROLE} at `appUrl` (by default the same server).
 */
async function postgresStorage(ownerUrl: string, appUrl = ownerUrl): Promise<LaneStorage> {
  const schema = `entelix_lane_${crypto.randomUUID().replaceAll('-', '').slice(0, 16)}`;
  const ownerPool = new pg.Pool({ connectionString: ownerUrl, max: 2 });
  await ensureAppRole(ownerPool);
  const owner = await createPostgresPersistence({ pool: ownerPool, schema });
  await owner.close();
  await ownerPool.query(applicationGrants(schema, APP_ROLE));
  const url = urlForRole(appUrl, APP_ROLE);
  const storage = storageOf(async ({ onQuery }) => {
    const pool = new pg.Pool({ connectionString: url, max: 4 });
    return {
      persistence: await createPostgresPersistence({
        pool: onQuery === undefined ? pool : interceptPool(pool, reporting(onQuery)),
        schema,
        migrate: 'verify',
      }),
      close: () => pool.end(),
    };
  });
  return {
    ...storage,
    shared: { kind: 'postgres', url, schema },
    async close() {
      await storage.close();
      await ownerPool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await ownerPool.end();
    },
  };
}

/** The client methods the Redis backend sends commands with. */
const REDIS_COMMANDS = [
  'eval',
  'evalsha',
  'get',
  'hkeys',
  'mget',
  'zadd',
  'zrange',
  'zrangebylex',
  'zrangebyscore',
  'zrevrange',
] as const;

/**
 * Report every command the Redis backend sends on `client`. Counted per method rather
 * than in `sendCommand`, which ioredis-mock does not have; a script's `NOSCRIPT`
 * fallback reports `evalsha` and then `eval`.
 */
function countCommands(client: RedisClient, onQuery: (text: string) => void): void {
  const methods = client as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const name of REDIS_COMMANDS) {
    const send = methods[name];
    if (typeof send !== 'function') continue;
    methods[name] = (...args: unknown[]) => {
      onQuery(name);
      return send.apply(client, args);
    };
  }
}

function serviceUrl(variable: ServiceVariable): string {
  const value = process.env[variable];
  if (value === undefined || value === '') throw new Error(`this lane needs ${variable}`);
  return value;
}

function randomPrefix(): string {
  return `t${crypto.randomUUID().replaceAll('-', '').slice(0, 16)}`;
}

function openCluster(nodes: string): Cluster {
  return new Redis.Cluster(
    nodes.split(',').map((node) => {
      const [host, port] = node.trim().split(':');
      return { host: host as string, port: Number(port) };
    }),
  );
}

/** Delete every key under `keyPrefix` (test clean-up only; on a Cluster, on every master). */
async function deleteKeysUnder(client: Redis | Cluster, keyPrefix: string): Promise<void> {
  if (client instanceof Cluster && client.status !== 'ready') {
    await new Promise((resolve) => client.once('ready', resolve));
  }
  const nodes = client instanceof Cluster ? client.nodes('master') : [client];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${keyPrefix}:*`, 'COUNT', 1000);
      cursor = next;
      // One DEL per key: on a Cluster, the keys of one page may live in different slots.
      for (const key of keys) await node.del(key);
    } while (cursor !== '0');
  }
}
