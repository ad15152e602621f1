import type { RedisDataKind, RedisDurabilityReason } from '@entelix/redis';
import { createRedisPersistence } from '@entelix/redis';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWithService } from '../../../test-support/services.js';
import { openCluster } from './real-redis.js';
import { freePort, RedisServerProcess } from './redis-server.js';
import { randomPrefix } from './support.js';

const EVERYTHING: RedisDataKind[] = [
  'checkpoints',
  'storeItems',
  'storeIndexes',
  'threadIndexes',
  'sessionEvents',
  'sessionHeads',
  'lockLeases',
];

// Each case a throwaway redis-server started with the settings under test.
const CASES: {
  title: string;
  settings: string[];
  reasons: RedisDurabilityReason[];
  atRisk: RedisDataKind[];
}[] = [
  {
    title: 'no AOF and no snapshots',
    settings: [],
    reasons: ['noPersistence'],
    atRisk: EVERYTHING,
  },
  {
    title: 'snapshots only',
    settings: ['--save', '3600 1'],
    reasons: ['snapshotsOnly'],
    atRisk: EVERYTHING,
  },
  {
    title: 'AOF with appendfsync everysec',
    settings: ['--appendonly', 'yes', '--appendfsync', 'everysec'],
    reasons: ['appendFsyncNotAlways'],
    atRisk: EVERYTHING,
  },
  {
    title: 'AOF with appendfsync always, no eviction',
    settings: ['--appendonly', 'yes', '--appendfsync', 'always', '--maxmemory', '100mb'],
    reasons: [],
    atRisk: [],
  },
  {
    title: 'AOF always with a volatile eviction policy',
    settings: [
      ...['--appendonly', 'yes', '--appendfsync', 'always'],
      ...['--maxmemory', '100mb', '--maxmemory-policy', 'volatile-lru'],
    ],
    reasons: ['evictsKeysWithTtl'],
    atRisk: ['storeItems', 'lockLeases'],
  },
  {
    title: 'an allkeys eviction policy without a maxmemory (never evicts)',
    settings: [
      ...['--appendonly', 'yes', '--appendfsync', 'always'],
      '--maxmemory-policy',
      'allkeys-lru',
    ],
    reasons: [],
    atRisk: [],
  },
  {
    title: 'no persistence and an allkeys eviction policy',
    settings: ['--maxmemory', '100mb', '--maxmemory-policy', 'allkeys-lfu'],
    reasons: ['noPersistence', 'evictsAnyKey'],
    atRisk: EVERYTHING,
  },
  {
    title: 'CONFIG renamed away, as on many managed services',
    settings: ['--rename-command', 'CONFIG', ''],
    reasons: ['settingsUnreadable'],
    atRisk: EVERYTHING,
  },
];

describeWithService('REDIS_URL', 'redis durability report', () => {
  for (const { title, settings, reasons, atRisk } of CASES) {
    describe(title, () => {
      let server: RedisServerProcess;

      beforeAll(async () => {
        server = new RedisServerProcess(await freePort(6440), settings);
        await server.start();
      });
      afterAll(async () => {
        await server?.stop();
      });

      it('reports what is at risk', async () => {
        const persistence = createRedisPersistence({ url: server.url, keyPrefix: randomPrefix() });
        try {
          const report = await persistence.durability();
          expect(report.servers).toHaveLength(1);
          expect(report.servers[0]?.server).toBe(`127.0.0.1:${server.port}`);
          expect(report.servers[0]?.risks.map((risk) => risk.reason)).toEqual(reasons);
          expect(report.atRisk).toEqual(atRisk);
        } finally {
          await persistence.close();
        }
      });
    });
  }

  it('a user without the CONFIG permission gets settingsUnreadable, not an error', async () => {
    const server = new RedisServerProcess(await freePort(6440));
    await server.start();
    const admin = new Redis(server.url);
    // The user first: the bundle's client connects (and authenticates) at once.
    await admin.acl('SETUSER', 'app', 'on', '>secret', '~*', '+@all', '-config');
    const app = createRedisPersistence({
      url: `redis://app:secret@127.0.0.1:${server.port}`,
      keyPrefix: randomPrefix(),
    });
    try {
      const report = await app.durability();
      expect(report.servers[0]?.risks.map((risk) => risk.reason)).toEqual(['settingsUnreadable']);
      expect(report.servers[0]?.settings.appendonly).toBeUndefined();
    } finally {
      await app.close();
      admin.disconnect();
      await server.stop();
    }
  });

  it('a server that is down is BACKEND', async () => {
    const persistence = createRedisPersistence({
      url: `redis://127.0.0.1:${await freePort(6460)}`,
      keyPrefix: randomPrefix(),
    });
    try {
      await expect(persistence.durability()).rejects.toMatchObject({ code: 'BACKEND' });
    } finally {
      await persistence.close();
    }
  });
});

describeWithService('REDIS_CLUSTER_NODES', 'redis durability report on a Cluster', (nodes) => {
  it('reports every master', async () => {
    const client = openCluster(nodes);
    try {
      const report = await createRedisPersistence({
        client,
        keyPrefix: randomPrefix(),
      }).durability();
      const masters = client
        .nodes('master')
        .map((node) => `${node.options.host}:${node.options.port}`);
      expect(report.servers.map((server) => server.server).sort()).toEqual(masters.sort());
      for (const server of report.servers) expect(server.settings.appendonly).toMatch(/^(yes|no)$/);
    } finally {
      await client.quit();
    }
  });
});
