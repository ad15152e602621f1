import { Checkpoint, ThreadKey } from '@entelix/core';
import { createRedisPersistence } from '@entelix/redis';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithService } from '../../../test-support/services.js';
import { KeyLayout } from '../src/keys.js';
import { deletePrefix, openCluster, parseClusterNodes } from './real-redis.js';
import { randomId, randomPrefix } from './support.js';

interface ClusterNode {
  id: string;
  host: string;
  port: number;
  admin: Redis;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Moves a thread's hash slot to another master and back while writers keep going,
// the way `redis-cli --cluster reshard` does: IMPORTING/MIGRATING, MIGRATE key by key
// (clients get ASK and TRYAGAIN meanwhile), then SETSLOT NODE everywhere (MOVED).
describeWithService('REDIS_CLUSTER_NODES', 'redis on a Cluster: slot migration mid-run', (list) => {
  const keyPrefix = randomPrefix();
  const client = openCluster(list);
  const persistence = createRedisPersistence({ client, keyPrefix });
  let nodes: ClusterNode[] = [];

  beforeAll(async () => {
    nodes = await Promise.all(
      parseClusterNodes(list).map(async ({ host, port }) => {
        const admin = new Redis({ host, port });
        return { id: String(await admin.cluster('MYID')), host, port, admin };
      }),
    );
  });
  afterAll(async () => {
    await deletePrefix(client, keyPrefix);
    await client.quit();
    await Promise.all(nodes.map((node) => node.admin.quit()));
  });

  async function ownerOf(slot: number): Promise<ClusterNode> {
    const ranges = await nodes[0]!.admin.cluster('SLOTS');
    const range = ranges.find(([first, last]) => first <= slot && slot <= last);
    const port = range?.[2]?.[1];
    const owner = nodes.find((node) => node.port === port);
    if (owner === undefined) throw new Error(`no owner for slot ${slot}`);
    return owner;
  }

  /** Each step of a migration is followed by `step()`, which lets the writers run. */
  async function migrateSlot(
    slot: number,
    from: ClusterNode,
    to: ClusterNode,
    step: () => Promise<void>,
  ) {
    await to.admin.cluster('SETSLOT', slot, 'IMPORTING', from.id);
    await from.admin.cluster('SETSLOT', slot, 'MIGRATING', to.id);
    await step();
    for (;;) {
      const keys = (await from.admin.cluster('GETKEYSINSLOT', slot, 1)) as string[];
      if (keys.length === 0) break;
      // One key at a time: meanwhile the thread's keys are split between two nodes.
      await from.admin.call('MIGRATE', to.host, to.port, '', 0, 5_000, 'KEYS', ...keys);
      await step();
    }
    // The new owner first, as redis-cli does; until the old owner learns it, clients
    // still get ASK from there, afterwards MOVED.
    await to.admin.cluster('SETSLOT', slot, 'NODE', to.id);
    await step();
    for (const node of nodes.filter((n) => n !== to)) {
      await node.admin.cluster('SETSLOT', slot, 'NODE', to.id);
    }
    await step();
  }

  it('writers on a thread whose slot moves to another node and back lose and duplicate nothing', async () => {
    const key = ThreadKey.of(randomId('tenant'), randomId('thread'));
    const keys = new KeyLayout(keyPrefix).thread(key);
    const log = persistence.sessionLog<number>();
    const checkpointer = persistence.checkpointer<number>();
    expect(await log.append(key, [0])).toBe(1);
    await checkpointer.put(Checkpoint.create({ key, step: 0, state: 0 }));

    const slot = Number(await nodes[0]!.admin.cluster('KEYSLOT', keys.logHead));
    const home = await ownerOf(slot);
    const away = nodes.find((node) => node !== home)!;

    let running = true;
    const step = async () => {
      await pause(20);
    };
    // Operations completed while a migration was under way, per direction.
    let phase: 'before' | 'away' | 'between' | 'home' | 'after' = 'before';
    const completed = { before: 0, away: 0, between: 0, home: 0, after: 0 };
    const errors: unknown[] = [];
    const heads: number[] = [1];
    const written: string[] = [];
    const appender = (async () => {
      for (let n = 1; running; n++) {
        try {
          heads.push(await log.append(key, [n]));
          completed[phase]++;
        } catch (error) {
          errors.push(error);
        }
      }
    })();
    const checkpointWriter = (async () => {
      for (let step = 1; running; step++) {
        try {
          const latest = await checkpointer.getLatest(key);
          const next = Checkpoint.create({ key, step, state: step, parentId: latest?.id ?? null });
          await checkpointer.put(next);
          written.push(next.id);
          completed[phase]++;
        } catch (error) {
          errors.push(error);
        }
      }
    })();

    try {
      await pause(50);
      phase = 'away';
      await migrateSlot(slot, home, away, step);
      phase = 'between';
      expect((await ownerOf(slot)).id).toBe(away.id);
      expect(await away.admin.exists(keys.logHead, keys.checkpointData)).toBe(2);
      await pause(50);
      phase = 'home';
      await migrateSlot(slot, away, home, step);
      phase = 'after';
      await pause(50);
    } finally {
      running = false;
      await Promise.all([appender, checkpointWriter]);
    }

    expect(errors).toEqual([]);
    expect((await ownerOf(slot)).id).toBe(home.id);
    // Writes went on during both migrations, not only before and after them.
    expect(completed.away).toBeGreaterThan(0);
    expect(completed.home).toBeGreaterThan(0);
    const expected = Array.from({ length: heads.length }, (_, i) => i + 1);
    expect([...heads].sort((a, b) => a - b)).toEqual(expected);
    const events = await log.loadSince(key, 0);
    expect(events.map((event) => event.seq)).toEqual(expected);
    expect(events.map((event) => event.event)).toEqual(expected.map((seq) => seq - 1));
    const history = await checkpointer.listHistory(key, { limit: written.length + 1 });
    expect(history.map((checkpoint) => checkpoint.id)).toEqual(
      [...written].reverse().concat(history.at(-1)!.id),
    );
    expect(history).toHaveLength(written.length + 1);
  });
});
