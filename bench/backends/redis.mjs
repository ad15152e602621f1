// Redis through ioredis: the Entelix bundle next to a hand-written equivalent on the same
// client, under a fresh random key prefix deleted in close().
//
// `raw` is the least a hand-written ioredis implementation sends for the same result in
// one round trip: a single command where one does the job, one EVALSHA of a minimal
// script where the operation must change or read several keys atomically. Like any
// application, it JSON.stringify-s the value it writes and JSON.parse-s what it reads.
// `floor` is one plain command (SET, GET, HSET...) moving the same bytes: what no
// implementation that keeps history or indexes can beat.
import { Checkpoint, Namespace, ThreadKey } from '@entelix/core';
import { createRedisPersistence } from '@entelix/redis';
import { Redis } from 'ioredis';

const WORKERS = 16;
// Runs of the purge growth rows: each purges a tenant of its own, filled beforehand.
const PURGE_RUNS = 5;
// The harness's warm-up calls pass -1..-PURGE_RUNS, the timed ones 0..PURGE_RUNS-1.
const purgeTenant = (size, run) => `purge-${size}-${run}`;
const rawPurgeKeys = (base) =>
  ['items', 'checkpoints', 'writes', 'events'].map((k) => `${base}:${k}`);

/** A tenant of `size` records: 40% items, 20% checkpoints, 20% pending writes, 20% events. */
async function fillPurgeTenant(persistence, tenant, size, state) {
  const checkpointer = persistence.checkpointer();
  const store = persistence.store();
  const namespace = Namespace.of(tenant, 'purge');
  for (let from = 0; from < (size * 4) / 10; from += 1_000) {
    const to = Math.min((size * 4) / 10, from + 1_000);
    await Promise.all(
      Array.from({ length: to - from }, (_, j) => store.put(namespace, `k${from + j}`, state)),
    );
  }
  const checkpoints = Array.from({ length: (size * 2) / 10 }, (_, n) =>
    Checkpoint.create({ key: ThreadKey.of(tenant, `thread-${n % 10}`), step: n, state }),
  );
  for (let from = 0; from < checkpoints.length; from += 1_000) {
    const batch = checkpoints.slice(from, from + 1_000);
    await Promise.all(batch.map((checkpoint) => checkpointer.put(checkpoint)));
    await Promise.all(
      batch.map((checkpoint) =>
        checkpointer.putWrites(checkpoint.key, { checkpointId: checkpoint.id, taskId: 'task' }, [
          { idx: 0, channel: 'messages', value: state },
        ]),
      ),
    );
  }
  await persistence.sessionLog().append(
    ThreadKey.of(tenant, 'thread'),
    Array.from({ length: (size * 2) / 10 }, () => state),
  );
}

/** The same records in four plain keys: a hash each of items, checkpoints and writes, a sorted set of events. */
async function fillRawPurgeTenant(client, base, size, payload) {
  const [items, checkpoints, writes, events] = rawPurgeKeys(base);
  const entries = (count, prefix) =>
    Array.from({ length: count }, (_, n) => [`${prefix}${n}`, payload]).flat();
  await client.hset(items, ...entries((size * 4) / 10, 'k'));
  await client.hset(checkpoints, ...entries((size * 2) / 10, 'c'));
  await client.hset(writes, ...entries((size * 2) / 10, 'c'));
  await client.zadd(
    events,
    ...Array.from({ length: (size * 2) / 10 }, (_, n) => [n + 1, `${n + 1}:${payload}`]).flat(),
  );
}

export async function openRedis({ state, url, iterations }) {
  const keyPrefix = `bench${Math.random().toString(36).slice(2, 10)}`;
  const client = new Redis(url);
  const persistence = createRedisPersistence({ client, keyPrefix });
  const checkpointer = persistence.checkpointer();
  const log = persistence.sessionLog();
  const store = persistence.store();
  const tenant = 'bench-tenant';
  const payload = JSON.stringify({ schema_version: 1, state });
  const envelope = () => JSON.stringify({ schema_version: 1, state });
  const load = (source) => client.script('LOAD', source);
  const rawScripts = {
    put: await load(`if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return -1 end
redis.call('ZADD', KEYS[2], redis.call('HLEN', KEYS[1]), ARGV[1]) return 1`),
    latest: await load(`local ids = redis.call('ZREVRANGE', KEYS[1], 0, 0)
if #ids == 0 then return false end return redis.call('HGET', KEYS[2], ids[1])`),
    history: await load(`local ids = redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #ids == 0 then return {} end return redis.call('HMGET', KEYS[2], unpack(ids))`),
    fork: await load(`local parent = redis.call('HGET', KEYS[1], ARGV[1])
if not parent then return -3 end
if redis.call('HSETNX', KEYS[1], ARGV[2], ARGV[3]) == 0 then return -1 end
redis.call('ZADD', KEYS[2], redis.call('HLEN', KEYS[1]), ARGV[2]) return 1`),
    append: await load(`local seq = redis.call('INCR', KEYS[1])
redis.call('ZADD', KEYS[2], seq, seq .. ':' .. ARGV[1]) return seq`),
    appendIfHead:
      await load(`if tonumber(redis.call('GET', KEYS[1]) or '0') ~= tonumber(ARGV[1]) then
  return -1
end
local seq = redis.call('INCR', KEYS[1])
redis.call('ZADD', KEYS[2], seq, seq .. ':' .. ARGV[2]) return seq`),
    storePut: await load(`redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], 0, ARGV[1]) return 1`),
    search:
      await load(`local keys = redis.call('ZRANGEBYLEX', KEYS[1], '-', '+', 'LIMIT', 0, ARGV[1])
if #keys == 0 then return {} end return redis.call('HMGET', KEYS[2], unpack(keys))`),
  };
  const parseEvent = (member) => JSON.parse(member.slice(member.indexOf(':') + 1));
  // The harness passes the operation's index (negative while warming up).
  const worker = (i) => Math.abs(i) % WORKERS;
  const keyOf = (i) => ThreadKey.of(tenant, `thread-${worker(i)}`);
  const nsOf = (i) => Namespace.of(tenant, 'bench', `w${worker(i)}`);
  const itemKey = (i) => `k${Math.abs(i) % 100}`;
  const raw = (kind, i) => `${keyPrefix}:raw:${kind}:${worker(i)}`;
  const rawPurgeBase = (size, run) => `${keyPrefix}:raw:purge:${size}:${run}`;

  // Every thread has history and events, every namespace items, before timing starts.
  const parents = [];
  for (let w = 0; w < WORKERS; w++) {
    for (let step = 0; step < 10; step++) {
      const checkpoint = Checkpoint.create({ key: keyOf(w), step, state });
      await checkpointer.put(checkpoint);
      parents[w] = checkpoint.id;
    }
    await log.append(
      keyOf(w),
      Array.from({ length: 20 }, () => state),
    );
    for (let i = 0; i < 100; i++) await store.put(nsOf(w), itemKey(i), state);
    await client.set(raw('cp', w), payload);
    for (let step = 0; step < 10; step++) {
      await client.evalsha(
        rawScripts.put,
        2,
        raw('cps', w),
        raw('order', w),
        `root${step}`,
        payload,
      );
    }
    await client.hset(
      raw('items', w),
      ...Array.from({ length: 100 }, (_, i) => [itemKey(i), payload]).flat(),
    );
    await client.zadd(
      raw('events', w),
      ...Array.from({ length: 20 }, (_, i) => [i + 1, `${i + 1}:${payload}`]).flat(),
    );
    // The raw log's head, as the thread's 20 events left it: a stale expectedHead fails.
    await client.set(raw('head', w), 20);
    await client.zadd(
      raw('keys', w),
      ...Array.from({ length: 100 }, (_, i) => [0, itemKey(i)]).flat(),
    );
  }

  // The growth check: the same 100-key namespace in two logical databases, one holding
  // nothing else and one holding 100,000 unrelated keys, so both sides can alternate.
  const listNamespace = Namespace.of(tenant, 'bench', 'list');
  const database = Number(client.options.db ?? 0);
  const crowdedClient = new Redis(url, { db: (database + 1) % 16 });
  const crowded = createRedisPersistence({ client: crowdedClient, keyPrefix }).store();
  for (let i = 0; i < 100; i++) {
    await store.put(listNamespace, itemKey(i), state);
    await crowded.put(listNamespace, itemKey(i), state);
  }
  for (let i = 0; i < 100_000; i += 1_000) {
    const pipeline = crowdedClient.pipeline();
    for (let j = i; j < i + 1_000; j++) pipeline.set(`${keyPrefix}:filler:${j}`, payload);
    await pipeline.exec();
  }

  // The expiry check: list(1) on a namespace holding 100,000 expired, unswept items that
  // sort after its live key, next to one holding none.
  const freshNamespace = Namespace.of(tenant, 'bench', 'fresh');
  const expiredNamespace = Namespace.of(tenant, 'bench', 'expired');
  await store.put(freshNamespace, 'a', state);
  await store.put(expiredNamespace, 'a', state);
  for (let i = 0; i < 100_000; i += 1_000) {
    await Promise.all(
      Array.from({ length: 1_000 }, (_, j) =>
        store.put(expiredNamespace, `z${i + j}`, state, { ttlMs: 1 }),
      ),
    );
  }

  // The sweep check: evictExpired() under a prefix whose 40,000 tenants each held an
  // item, all deleted since, next to a prefix that never had any.
  const emptyPrefix = `${keyPrefix}e`;
  const sweptPrefix = `${keyPrefix}s`;
  const emptyStore = createRedisPersistence({ client, keyPrefix: emptyPrefix }).store();
  const sweptStore = createRedisPersistence({ client, keyPrefix: sweptPrefix }).store();
  for (let i = 0; i < 40_000; i += 1_000) {
    const namespaces = Array.from({ length: 1_000 }, (_, j) => Namespace.of(`t${i + j}`, 'n'));
    await Promise.all(namespaces.map((namespace) => sweptStore.put(namespace, 'k', state)));
    await Promise.all(namespaces.map((namespace) => sweptStore.delete(namespace, 'k')));
  }

  // The thread-length check: the newest checkpoints of a thread of 10,000 next to those
  // of a thread of 10.
  const shortThread = ThreadKey.of(tenant, 'short');
  const longThread = ThreadKey.of(tenant, 'long');
  for (let step = 0; step < 10; step++) {
    await checkpointer.put(Checkpoint.create({ key: shortThread, step, state }));
  }
  for (let step = 0; step < 10_000; step += 1_000) {
    await Promise.all(
      Array.from({ length: 1_000 }, (_, j) =>
        checkpointer.put(Checkpoint.create({ key: longThread, step: step + j, state })),
      ),
    );
  }

  // The namespace-size check: a search of 10 in a namespace of 20,000 items next to one of
  // 100 (the workers' namespaces).
  const largeNamespace = Namespace.of(tenant, 'bench', 'large');
  for (let i = 0; i < 20_000; i += 1_000) {
    await Promise.all(
      Array.from({ length: 1_000 }, (_, j) => store.put(largeNamespace, `k${i + j}`, state)),
    );
  }

  // The purge check: tenants of 10,000 records (4,000 items, 2,000 checkpoints on 10
  // threads with a pending write each, 2,000 events), as on Postgres, next to tenants of
  // 10; the raw side deletes the same records kept in four keys per tenant.
  for (let run = -PURGE_RUNS; run < PURGE_RUNS; run++) {
    for (const size of [10, 10_000]) {
      await fillPurgeTenant(persistence, purgeTenant(size, run), size, state);
      await fillRawPurgeTenant(client, rawPurgeBase(size, run), size, payload);
    }
  }

  const fifthNewest = async (key) => (await checkpointer.listHistory(key, { limit: 5 }))[4].id;
  const shortBefore = await fifthNewest(shortThread);
  const longBefore = await fifthNewest(longThread);

  // Let Redis finish the incremental rehash the new keys started.
  await new Promise((resolve) => setTimeout(resolve, 1_000));

  return {
    name: 'redis',
    cases: [
      {
        name: 'checkpoint put',
        entelix: (i) => checkpointer.put(Checkpoint.create({ key: keyOf(i), step: 1, state })),
        raw: (i) =>
          client.evalsha(
            rawScripts.put,
            2,
            raw('cps', i),
            raw('order', i),
            crypto.randomUUID(),
            envelope(),
          ),
        floor: (i) => client.set(raw('cp', i), envelope()),
      },
      {
        name: 'checkpoint getLatest',
        entelix: (i) => checkpointer.getLatest(keyOf(i)),
        raw: async (i) =>
          JSON.parse(await client.evalsha(rawScripts.latest, 2, raw('order', i), raw('cps', i))),
        floor: async (i) => JSON.parse(await client.get(raw('cp', i))),
      },
      {
        name: 'checkpoint listHistory(10)',
        entelix: (i) => checkpointer.listHistory(keyOf(i), { limit: 10 }),
        raw: async (i) => {
          const records = await client.evalsha(
            rawScripts.history,
            2,
            raw('order', i),
            raw('cps', i),
            10,
          );
          return records.map((record) => JSON.parse(record));
        },
        floor: async (i) => (await client.zrange(raw('events', i), 0, 9)).map(parseEvent),
      },
      {
        name: 'checkpoint updateState',
        entelix: (i) => checkpointer.updateState(keyOf(i), parents[worker(i)], state),
        raw: (i) =>
          client.evalsha(
            rawScripts.fork,
            2,
            raw('cps', i),
            raw('order', i),
            'root9',
            crypto.randomUUID(),
            envelope(),
          ),
        floor: (i) => client.set(raw('cp', i), envelope()),
      },
      {
        name: 'session append',
        entelix: (i) => log.append(keyOf(i), [state]),
        raw: (i) => client.evalsha(rawScripts.append, 2, raw('head', i), raw('log', i), envelope()),
        floor: (i) => client.set(raw('event', i), envelope()),
      },
      {
        name: 'session loadSince(10)',
        entelix: (i) => log.loadSince(keyOf(i), 5, { limit: 10 }),
        raw: async (i) =>
          (await client.zrangebyscore(raw('events', i), '(5', '+inf', 'LIMIT', 0, 10)).map(
            parseEvent,
          ),
      },
      {
        // Ten tasks per checkpoint, each write repeated: a runtime retrying a step.
        name: 'checkpoint putWrites',
        entelix: (i) =>
          checkpointer.putWrites(
            keyOf(i),
            { checkpointId: parents[worker(i)], taskId: `task-${Math.abs(i) % 10}` },
            [{ idx: 0, channel: 'messages', value: state }],
          ),
        raw: (i) => client.hsetnx(raw('writes', i), `task-${Math.abs(i) % 10}:0`, envelope()),
      },
      {
        name: 'checkpoint listThreads(10)',
        entelix: () => checkpointer.listThreads(tenant, { limit: 10 }),
        raw: (i) => client.zrangebylex(raw('keys', i), '-', '+', 'LIMIT', 0, 10),
      },
      {
        name: 'session loadLatest(10)',
        entelix: (i) => log.loadLatest(keyOf(i), { limit: 10 }),
        raw: async (i) =>
          (await client.zrevrange(raw('events', i), 0, 9)).reverse().map(parseEvent),
      },
      {
        name: 'session append(expectedHead), conflict',
        // A stale head: the check refuses and writes nothing (the losing side of a race).
        entelix: (i) =>
          log.append(keyOf(i), [state], { expectedHead: 0 }).then(
            () => undefined,
            () => undefined,
          ),
        raw: (i) =>
          client
            .evalsha(rawScripts.appendIfHead, 2, raw('head', i), raw('log', i), 0, envelope())
            .then((seq) => {
              if (seq === -1) throw new Error('the head moved');
            })
            .catch(() => undefined),
        floor: (i) => client.get(raw('head', i)),
      },
      {
        name: 'store put',
        entelix: (i) => store.put(nsOf(i), itemKey(i), state),
        raw: (i) =>
          client.evalsha(
            rawScripts.storePut,
            2,
            raw('items', i),
            raw('keys', i),
            itemKey(i),
            envelope(),
          ),
        floor: (i) => client.hset(raw('items', i), itemKey(i), envelope()),
      },
      {
        name: 'store get',
        entelix: (i) => store.get(nsOf(i), itemKey(i)),
        raw: async (i) => JSON.parse(await client.hget(raw('items', i), itemKey(i))),
      },
      {
        name: 'store list(100)',
        entelix: (i) => store.list(nsOf(i)),
        raw: (i) => client.zrangebylex(raw('keys', i), '-', '+'),
      },
      {
        name: 'store getMany(10)',
        entelix: (i) =>
          store.getMany(
            Array.from({ length: 10 }, (_, k) => ({ namespace: nsOf(i), key: itemKey(k) })),
          ),
        raw: async (i) =>
          (
            await client.hmget(raw('items', i), ...Array.from({ length: 10 }, (_, k) => itemKey(k)))
          ).map((record) => JSON.parse(record)),
      },
      {
        name: 'store search(10), one namespace',
        entelix: (i) =>
          store.search(tenant, { namespacePrefix: ['bench', `w${worker(i)}`], limit: 10 }),
        raw: async (i) =>
          (await client.evalsha(rawScripts.search, 2, raw('keys', i), raw('items', i), 10)).map(
            (record) => JSON.parse(record),
          ),
      },
      {
        name: 'store search(10), filter step = 1',
        entelix: (i) =>
          store.search(tenant, {
            namespacePrefix: ['bench', `w${worker(i)}`],
            filter: { step: 1 },
            limit: 10,
          }),
        raw: async (i) =>
          (await client.evalsha(rawScripts.search, 2, raw('keys', i), raw('items', i), 10)).map(
            (record) => JSON.parse(record),
          ),
      },
    ],
    // Compared with each other, not with a raw command: the ratio is growth.
    scaling: [
      {
        name: 'checkpoint getLatest, 10,000 vs 10 checkpoints on the thread',
        small: () => checkpointer.getLatest(shortThread),
        large: () => checkpointer.getLatest(longThread),
        iterations,
      },
      {
        name: 'checkpoint listHistory(10), 10,000 vs 10 checkpoints on the thread',
        small: () => checkpointer.listHistory(shortThread, { limit: 10 }),
        large: () => checkpointer.listHistory(longThread, { limit: 10 }),
        iterations,
      },
      {
        name: 'checkpoint listHistory(5) before the 5th newest, 10,000 vs 10 checkpoints',
        small: () => checkpointer.listHistory(shortThread, { limit: 5, before: shortBefore }),
        large: () => checkpointer.listHistory(longThread, { limit: 5, before: longBefore }),
        iterations,
      },
      {
        name: 'store search(10), 20,000 vs 100 items in the namespace',
        small: () => store.search(tenant, { namespacePrefix: ['bench', 'w0'], limit: 10 }),
        large: () => store.search(tenant, { namespacePrefix: ['bench', 'large'], limit: 10 }),
        iterations,
      },
      {
        name: 'store list(100), 100,000 vs 0 unrelated keys',
        small: () => store.list(listNamespace),
        large: () => crowded.list(listNamespace),
        iterations,
      },
      {
        name: 'store list(1), 100,000 vs 0 expired items after the page',
        small: () => store.list(freshNamespace, { limit: 1 }),
        large: () => store.list(expiredNamespace, { limit: 1 }),
        iterations,
      },
      {
        name: 'purgeTenant, 10,000 vs 10 records',
        small: (i) => persistence.purgeTenant(purgeTenant(10, i)),
        large: (i) => persistence.purgeTenant(purgeTenant(10_000, i)),
        iterations: PURGE_RUNS,
      },
      {
        name: 'raw DEL of the same records in 4 keys, 10,000 vs 10',
        small: (i) => client.del(...rawPurgeKeys(rawPurgeBase(10, i))),
        large: (i) => client.del(...rawPurgeKeys(rawPurgeBase(10_000, i))),
        iterations: PURGE_RUNS,
      },
      {
        name: 'store evictExpired(), 40,000 vs 0 emptied tenants',
        small: () => emptyStore.evictExpired(),
        large: () => sweptStore.evictExpired(),
        iterations,
      },
    ],
    async close() {
      await persistence.close();
      for (const each of [client, crowdedClient]) {
        let cursor = '0';
        do {
          // The prefix and the two sweep prefixes that extend it.
          const [next, keys] = await each.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 1_000);
          cursor = next;
          if (keys.length > 0) await each.unlink(...keys);
        } while (cursor !== '0');
        await each.quit();
      }
    },
  };
}
