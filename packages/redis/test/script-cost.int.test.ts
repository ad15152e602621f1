import { Checkpoint, Namespace, ThreadKey } from '@entelix/core';
import { createRedisPersistence } from '@entelix/redis';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWithService } from '../../../test-support/services.js';
import { freePort, RedisServerProcess } from './redis-server.js';
import { randomId, randomPrefix } from './support.js';

const LONG_THREAD = 3_000;
const SKIPPED = 100;

/**
 * The commands run on keys under `keyPrefix` while `work` runs, scripts' own commands
 * included, as MONITOR shows them: the command name upper-cased, then its arguments.
 */
async function commandsRunBy(
  url: string,
  keyPrefix: string,
  work: () => Promise<unknown>,
): Promise<string[][]> {
  const monitorClient = new Redis(url);
  const monitor = await monitorClient.monitor();
  const commands: string[][] = [];
  monitor.on('monitor', (_time: string, args: string[]) => {
    const [command, key, ...rest] = args;
    if (command && key?.startsWith(keyPrefix)) commands.push([command.toUpperCase(), key, ...rest]);
  });
  await work();
  // MONITOR reports asynchronously: a marker command shows the read's commands are in.
  const marker = `${keyPrefix}:marker`;
  const seen = new Promise<void>((resolve) =>
    monitor.on('monitor', (_time: string, args: string[]) => {
      if (args[1] === marker) resolve();
    }),
  );
  const client = new Redis(url);
  await client.get(marker);
  await seen;
  client.disconnect();
  monitor.disconnect();
  monitorClient.disconnect();
  return commands;
}

/** How many sorted-set entries the scripts behind `read` asked Redis for. */
async function entriesAskedFor(
  url: string,
  keyPrefix: string,
  read: () => Promise<unknown>,
): Promise<number> {
  let asked = 0;
  for (const [command, , ...rest] of await commandsRunBy(url, keyPrefix, read)) {
    if (command === 'ZRANGE' || command === 'ZREVRANGE') {
      asked += Number(rest[1]) - Number(rest[0]) + 1;
    } else if (command === 'ZREVRANGEBYSCORE') {
      asked += Number(rest[rest.indexOf('LIMIT') + 2]);
    }
  }
  return asked;
}

// A throwaway redis-server of its own, so that nothing but these tests runs on it.
describeWithService('REDIS_URL', 'redis script costs', () => {
  let server: RedisServerProcess;
  let url: string;
  beforeAll(async () => {
    server = new RedisServerProcess(await freePort(6480));
    await server.start();
    url = server.url;
  });
  afterAll(async () => {
    await server?.stop();
  });

  describe('checkpoint reads on a long thread', () => {
    const keyPrefix = randomPrefix();
    let client: Redis;
    const key = ThreadKey.of(randomId('tenant'), randomId('thread'));

    beforeAll(async () => {
      client = new Redis(url);
      const checkpointer = createRedisPersistence({ client, keyPrefix }).checkpointer<number>();
      await checkpointer.put(Checkpoint.create({ key, step: 0, state: 0 }));
      const puts: Promise<void>[] = [];
      for (let step = 1; step < LONG_THREAD; step++) {
        puts.push(checkpointer.put(Checkpoint.create({ key, step, state: step })));
      }
      // The newest checkpoints belong to a subgraph's namespace.
      for (let step = 0; step < SKIPPED; step++) {
        puts.push(checkpointer.put(Checkpoint.create({ key, ns: 'sub', step, state: step })));
      }
      await Promise.all(puts);
    }, 60_000);
    afterAll(() => client?.disconnect());

    const checkpointer = () => createRedisPersistence({ client, keyPrefix }).checkpointer<number>();

    it('reads a few entries for the newest checkpoint, however long the thread', async () => {
      let steps: (number | undefined)[] = [];
      const asked = await entriesAskedFor(url, keyPrefix, async () => {
        steps = [
          (await checkpointer().getLatest(key, { ns: 'sub' }))?.step,
          ...(await checkpointer().listHistory(key, { limit: 10 })).map((c) => c.step),
        ];
      });
      expect(steps).toEqual([99, 99, 98, 97, 96, 95, 94, 93, 92, 91, 90]);
      expect(asked).toBeLessThanOrEqual(2 * 16);
    });

    it('reads about twice the checkpoints written since in other namespaces, not the thread', async () => {
      let latest: number | undefined;
      const latestAsked = await entriesAskedFor(url, keyPrefix, async () => {
        latest = (await checkpointer().getLatest(key))?.step;
      });
      expect(latest).toBe(LONG_THREAD - 1);
      expect(latestAsked).toBeLessThanOrEqual(2 * (SKIPPED + 1) + 16);

      let page: number[] = [];
      const pageAsked = await entriesAskedFor(url, keyPrefix, async () => {
        page = (await checkpointer().listHistory(key, { ns: '', limit: 10 })).map((c) => c.step);
      });
      expect(page).toEqual(Array.from({ length: 10 }, (_, i) => LONG_THREAD - 1 - i));
      expect(pageAsked).toBeLessThanOrEqual(2 * (SKIPPED + 10) + 16);
    });

    it('finds the checkpoint a page starts before without walking the thread', async () => {
      const [newestRoot] = await checkpointer().listHistory(key, { ns: '', limit: 1 });
      let page: number[] = [];
      const asked = await entriesAskedFor(url, keyPrefix, async () => {
        const before = newestRoot?.id as string;
        page = (await checkpointer().listHistory(key, { limit: 10, before })).map((c) => c.step);
      });
      expect(page).toEqual(Array.from({ length: 10 }, (_, i) => LONG_THREAD - 2 - i));
      expect(asked).toBeLessThanOrEqual(16);
    });
  });

  describe('pending writes of a checkpoint that holds many', () => {
    const keyPrefix = randomPrefix();
    let client: Redis;
    const key = ThreadKey.of(randomId('tenant'), randomId('thread'));
    const checkpoint = Checkpoint.create({ key, step: 0, state: 0 });
    const HELD = 2_000;

    beforeAll(async () => {
      client = new Redis(url);
      const checkpointer = createRedisPersistence({ client, keyPrefix }).checkpointer<number>();
      await checkpointer.put(checkpoint);
      // A fan-out: one task per write, as a superstep of many parallel tasks leaves them.
      const writes: Promise<void>[] = [];
      for (let task = 0; task < HELD; task++) {
        writes.push(
          checkpointer.putWrites(key, { checkpointId: checkpoint.id, taskId: `task-${task}` }, [
            { idx: 0, channel: 'out', value: task },
          ]),
        );
      }
      await Promise.all(writes);
    }, 60_000);
    afterAll(() => client?.disconnect());

    it('writes the bytes of the new writes, not those it already holds', async () => {
      const checkpointer = createRedisPersistence({ client, keyPrefix }).checkpointer<number>();
      const commands = await commandsRunBy(url, keyPrefix, async () => {
        await checkpointer.putWrites(key, { checkpointId: checkpoint.id, taskId: 'late' }, [
          { idx: 0, channel: 'out', value: 1 },
          { idx: -1, channel: 'error', value: 2 },
        ]);
        // First wins: this one is dropped.
        await checkpointer.putWrites(key, { checkpointId: checkpoint.id, taskId: 'late' }, [
          { idx: 0, channel: 'out', value: 3 },
        ]);
      });
      // The arguments of every command that wrote: a few hundred bytes, not the 2,000 held.
      const written = commands
        .filter(([command]) => /^(ZADD|ZREM|HSET|HDEL|SET|APPEND)$/.test(command as string))
        .reduce((bytes, args) => bytes + args.join(' ').length, 0);
      expect(written).toBeLessThan(2 * 1_000);

      const latest = await checkpointer.getLatest(key);
      expect(latest?.pendingWrites).toHaveLength(HELD + 2);
      const late = latest?.pendingWrites.filter((write) => write.taskId === 'late');
      expect(late?.map((write) => [write.idx, write.value])).toEqual([
        [-1, 2],
        [0, 1],
      ]);
    });
  });

  describe('store search in a namespace of many items', () => {
    const keyPrefix = randomPrefix();
    let client: Redis;
    const tenant = randomId('tenant');
    const ITEMS = 1_000;

    beforeAll(async () => {
      client = new Redis(url);
      const store = createRedisPersistence({ client, keyPrefix }).store<{ even: boolean }>();
      const namespace = Namespace.of(tenant, 'notes');
      const puts: Promise<void>[] = [];
      for (let i = 0; i < ITEMS; i++) {
        const key = `k${String(i).padStart(5, '0')}`;
        puts.push(store.put(namespace, key, { even: i % 2 === 0 }));
      }
      await Promise.all(puts);
    }, 60_000);
    afterAll(() => client?.disconnect());

    /** The item-index entries a search's script asks for (`ZRANGEBYLEX ... LIMIT`). */
    async function indexEntriesAskedFor(search: () => Promise<unknown>): Promise<number> {
      let asked = 0;
      for (const [command, key, ...rest] of await commandsRunBy(url, keyPrefix, search)) {
        if (command === 'ZRANGEBYLEX' && key?.endsWith(':keys')) {
          asked += Number(rest[rest.indexOf('LIMIT') + 2]);
        }
      }
      return asked;
    }

    it('reads about the items it returns or skips, not the namespace', async () => {
      const store = createRedisPersistence({ client, keyPrefix }).store<{ even: boolean }>();
      let keys: string[] = [];
      const asked = await indexEntriesAskedFor(async () => {
        keys = (await store.search(tenant, { namespacePrefix: ['notes'], limit: 10 })).map(
          (item) => item.key,
        );
      });
      expect(keys).toEqual(Array.from({ length: 10 }, (_, i) => `k${String(i).padStart(5, '0')}`));
      expect(asked).toBeLessThanOrEqual(16);

      let odd: string[] = [];
      const filteredAsked = await indexEntriesAskedFor(async () => {
        odd = (
          await store.search(tenant, {
            namespacePrefix: ['notes'],
            filter: { even: false },
            limit: 10,
          })
        ).map((item) => item.key);
      });
      expect(odd).toEqual(
        Array.from({ length: 10 }, (_, i) => `k${String(2 * i + 1).padStart(5, '0')}`),
      );
      expect(filteredAsked).toBeLessThanOrEqual(2 * 20 + 16);
    });
  });
});
