import { toBackendError } from '@entelix/core/adapter';
import type { Cluster, Redis } from 'ioredis';
import { BACKEND, command, type RedisContext } from './context.js';

/**
 * What this library keeps in Redis, by what losing it means:
 * - `checkpoints`, `storeItems`, `sessionEvents`: the data itself;
 * - `sessionHeads`: a thread's last ordinal; without it ordinals start again at 1 and
 *   repeat ones handed out before;
 * - `storeIndexes`: the tenant and namespace indexes; without them `listNamespaces`
 *   and `search` miss namespaces and `evictExpired()` tenants (items still expire by
 *   themselves);
 * - `threadIndexes`: a tenant's indexes of threads with checkpoints, events or a lock;
 *   without them `listThreads` misses threads and `purgeTenant` leaves their data;
 * - `lockLeases`: a lease lost before its TTL lets another holder in early (its fence
 *   is larger, so the first holder's fenced writes are refused).
 *
 * Fence counters are not among them: fences are derived from the server's time as
 * well, so they keep increasing when a counter is lost.
 */
export type RedisDataKind =
  | 'checkpoints'
  | 'storeItems'
  | 'storeIndexes'
  | 'threadIndexes'
  | 'sessionEvents'
  | 'sessionHeads'
  | 'lockLeases';

/**
 * Why a server can lose data:
 * - `noPersistence`: no AOF and no RDB snapshots (`appendonly no`, `save ""`): a
 *   restart loses everything;
 * - `snapshotsOnly`: RDB snapshots without AOF: a crash loses what was written since
 *   the last snapshot;
 * - `appendFsyncNotAlways`: AOF with `appendfsync everysec` or `no`: a crash of the
 *   machine loses up to the last second of writes (or what the OS had not flushed);
 * - `evictsKeysWithTtl`: a `volatile-*` `maxmemory-policy` with a `maxmemory`: under
 *   memory pressure Redis deletes keys that have a TTL before it runs out;
 * - `evictsAnyKey`: an `allkeys-*` policy with a `maxmemory`: any key may go;
 * - `settingsUnreadable`: `CONFIG GET` was refused (disabled, renamed, not permitted,
 *   as on many managed services), so nothing can be ruled out; ask the provider.
 */
export type RedisDurabilityReason =
  | 'noPersistence'
  | 'snapshotsOnly'
  | 'appendFsyncNotAlways'
  | 'evictsKeysWithTtl'
  | 'evictsAnyKey'
  | 'settingsUnreadable';

/** One way a server can lose data, and what it would take. */
export interface RedisDurabilityRisk {
  readonly reason: RedisDurabilityReason;
  readonly loses: readonly RedisDataKind[];
}

/** The settings `durability()` reads, as `CONFIG GET` returned them. */
export interface RedisDurabilitySettings {
  readonly appendonly: string | undefined;
  readonly appendfsync: string | undefined;
  readonly save: string | undefined;
  readonly maxmemory: string | undefined;
  readonly maxmemoryPolicy: string | undefined;
}

/** One server: the standalone server, or one master of a Cluster. */
export interface RedisServerDurability {
  /** `host:port` (or the socket path) as the client reaches it; `ioredis-mock` for the mock. */
  readonly server: string;
  /** What `CONFIG GET` returned; `undefined` for a setting it would not give. */
  readonly settings: RedisDurabilitySettings;
  /** Empty when this server keeps everything across restarts and never evicts. */
  readonly risks: readonly RedisDurabilityRisk[];
}

/** What {@link RedisPersistence.durability} reports. */
export interface RedisDurabilityReport {
  readonly servers: readonly RedisServerDurability[];
  /** Every kind of data some server can lose, in a fixed order; empty when none can. */
  readonly atRisk: readonly RedisDataKind[];
}

const EVERYTHING: readonly RedisDataKind[] = Object.freeze([
  'checkpoints',
  'storeItems',
  'storeIndexes',
  'threadIndexes',
  'sessionEvents',
  'sessionHeads',
  'lockLeases',
]);

// Only store items with a TTL and lock leases carry a Redis expiry.
const KEYS_WITH_TTL: readonly RedisDataKind[] = Object.freeze(['storeItems', 'lockLeases']);

const SETTINGS = [
  ['appendonly', 'appendonly'],
  ['appendfsync', 'appendfsync'],
  ['save', 'save'],
  ['maxmemory', 'maxmemory'],
  ['maxmemory-policy', 'maxmemoryPolicy'],
] as const;

const NOTHING_READ: RedisDurabilitySettings = Object.freeze({
  appendonly: undefined,
  appendfsync: undefined,
  save: undefined,
  maxmemory: undefined,
  maxmemoryPolicy: undefined,
});

/**
 * Read each server's persistence and eviction settings and say what they put at risk.
 * A refused `CONFIG GET` is reported, not thrown; a failing connection is `BACKEND`.
 */
export async function readDurability(
  context: RedisContext,
  mock: boolean,
): Promise<RedisDurabilityReport> {
  if (mock) {
    // ioredis-mock holds everything in this process's memory, and has no CONFIG.
    return report([
      {
        server: 'ioredis-mock',
        settings: NOTHING_READ,
        risks: [{ reason: 'noPersistence', loses: EVERYTHING }],
      },
    ]);
  }
  const nodes = await serversOf(context);
  return report(await Promise.all(nodes.map(readServer)));
}

function report(servers: RedisServerDurability[]): RedisDurabilityReport {
  const lost = new Set(servers.flatMap((server) => server.risks.flatMap((risk) => risk.loses)));
  return { servers, atRisk: EVERYTHING.filter((kind) => lost.has(kind)) };
}

async function serversOf(context: RedisContext): Promise<Redis[]> {
  if (!context.isCluster) return [context.client as Redis];
  const cluster = context.client as Cluster;
  // A Cluster client knows its masters once it has loaded the slot map.
  if (cluster.nodes('master').length === 0)
    await command(context, 'durability', () => cluster.ping());
  return cluster.nodes('master');
}

async function readServer(node: Redis): Promise<RedisServerDurability> {
  const values = await Promise.all(SETTINGS.map(([name]) => readSetting(node, name)));
  const settings = Object.fromEntries(
    SETTINGS.map(([, field], i) => [field, values[i]]),
  ) as unknown as RedisDurabilitySettings;
  const { host, port, path } = node.options;
  return {
    server: path ?? `${host}:${port}`,
    settings,
    risks: risksOf(settings),
  };
}

/** A setting's value, or undefined when the server refuses to give it. */
async function readSetting(node: Redis, name: string): Promise<string | undefined> {
  let reply: unknown;
  try {
    reply = await node.config('GET', name);
  } catch (error) {
    // A reply error (unknown or renamed command, missing permission) is an answer;
    // anything else is a failing connection.
    if (error instanceof Error && error.name === 'ReplyError') return undefined;
    throw toBackendError(error, BACKEND, 'durability');
  }
  return Array.isArray(reply) && typeof reply[1] === 'string' ? reply[1] : undefined;
}

function risksOf(settings: RedisDurabilitySettings): RedisDurabilityRisk[] {
  const risks: RedisDurabilityRisk[] = [];
  const { appendonly, appendfsync, save, maxmemory, maxmemoryPolicy } = settings;
  if (appendonly === 'no' && save === '') {
    risks.push({ reason: 'noPersistence', loses: EVERYTHING });
  } else if (appendonly === 'no' && save !== undefined) {
    risks.push({ reason: 'snapshotsOnly', loses: EVERYTHING });
  } else if (appendonly === 'yes' && appendfsync !== undefined && appendfsync !== 'always') {
    risks.push({ reason: 'appendFsyncNotAlways', loses: EVERYTHING });
  }
  if (maxmemory !== undefined && maxmemory !== '0' && maxmemoryPolicy !== undefined) {
    if (maxmemoryPolicy.startsWith('allkeys-')) {
      risks.push({ reason: 'evictsAnyKey', loses: EVERYTHING });
    } else if (maxmemoryPolicy.startsWith('volatile-')) {
      risks.push({ reason: 'evictsKeysWithTtl', loses: KEYS_WITH_TTL });
    }
  }
  if (Object.values(settings).some((value) => value === undefined)) {
    risks.push({ reason: 'settingsUnreadable', loses: EVERYTHING });
  }
  return risks;
}
