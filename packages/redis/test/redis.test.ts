import { Checkpoint, Namespace, ThreadKey } from '@entelix/core';
import { compareCodePoints } from '@entelix/core/adapter';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRedisPersistence, type RedisClient } from '../src/index.js';
import { KeyLayout } from '../src/keys.js';
import { storeExpiryTests } from './store-expiry.js';
import { isolatedMockClient, mockPersistence, randomId, randomPrefix } from './support.js';

function freshKey(): ThreadKey {
  return ThreadKey.of(randomId('tenant'), randomId('thread'));
}

/** Every key under a prefix with its value dump, to prove a failed call wrote nothing. */
async function snapshot(client: RedisClient, keyPrefix: string): Promise<Record<string, unknown>> {
  const keys = (
    await (client as unknown as { keys(p: string): Promise<string[]> }).keys(`${keyPrefix}:*`)
  ).sort();
  const dump: Record<string, unknown> = {};
  for (const key of keys) {
    const type = await client.type(key);
    dump[key] =
      type === 'string'
        ? await client.get(key)
        : type === 'hash'
          ? await client.hgetall(key)
          : type === 'set'
            ? (await client.smembers(key)).sort()
            : await client.zrange(key, 0, -1, 'WITHSCORES');
  }
  return dump;
}

describe('createRedisPersistence options', () => {
  it.each([
    ['neither client nor url', {}],
    ['both client and url', { client: isolatedMockClient(), url: 'redis://127.0.0.1:6379' }],
    ['a client without evalsha', { client: {} }],
    ['a url of another scheme', { url: 'http://127.0.0.1:6379' }],
    ['a keyPrefix with a colon', { client: isolatedMockClient(), keyPrefix: 'a:b' }],
    ['a keyPrefix with a hash tag', { client: isolatedMockClient(), keyPrefix: '{a}' }],
    ['an empty keyPrefix', { client: isolatedMockClient(), keyPrefix: '' }],
    ['a long keyPrefix', { client: isolatedMockClient(), keyPrefix: 'x'.repeat(65) }],
    ['an unknown clock', { client: isolatedMockClient(), clock: 'sundial' }],
  ])('rejects %s with CONFIG', (_, options) => {
    expect(() => createRedisPersistence(options as never)).toThrow(
      expect.objectContaining({ code: 'CONFIG' }),
    );
  });

  it('rejects a non-object with CONFIG', () => {
    expect(() => createRedisPersistence(undefined as never)).toThrow(
      expect.objectContaining({ code: 'CONFIG' }),
    );
  });

  it('reports its capabilities', () => {
    expect(mockPersistence().capabilities).toEqual({
      multiProcess: true,
      rls: false,
      ttl: true,
      fencing: true,
    });
  });

  it('never closes a client it was given', async () => {
    const client = isolatedMockClient();
    const persistence = mockPersistence(client);
    await persistence.close();
    await persistence.close();
    await client.set('still-open', '1');
    expect(await client.get('still-open')).toBe('1');
    expect(client.status).not.toBe('end');
  });

  it('keeps two key prefixes apart on one server', async () => {
    const client = isolatedMockClient();
    const first = mockPersistence(client);
    const second = mockPersistence(client);
    const key = freshKey();
    await first.sessionLog().append(key, ['a', 'b']);
    expect(await second.sessionLog().head(key)).toBe(0);
    expect(await first.sessionLog().head(key)).toBe(2);
  });
});

describe('records written behind our back', () => {
  const keyPrefix = randomPrefix();
  const client = isolatedMockClient();
  const persistence = createRedisPersistence({ client, keyPrefix, clock: 'client' });
  const layout = new KeyLayout(keyPrefix);

  it('rejects a checkpoint of another tenant with CORRUPT_RECORD', async () => {
    const key = freshKey();
    const checkpoint = Checkpoint.create({ key, step: 0, state: 1 });
    await persistence.checkpointer().put(checkpoint);
    const keys = layout.thread(key);
    // The root namespace's record field is `:id`.
    const field = `:${checkpoint.id}`;
    const stored = (await client.hget(keys.checkpointData, field)) as string;
    const owner = JSON.stringify([key.tenantId, key.threadId, '']);
    expect(stored).toContain(`\t${owner}\t`);
    await client.hset(
      keys.checkpointData,
      field,
      stored.replace(owner, JSON.stringify(['intruder', key.threadId, ''])),
    );
    const checkpointer = persistence.checkpointer();
    await expect(checkpointer.getLatest(key)).rejects.toMatchObject({ code: 'CORRUPT_RECORD' });
    await expect(checkpointer.getById(key, checkpoint.id)).rejects.toMatchObject({
      code: 'CORRUPT_RECORD',
    });
    await expect(checkpointer.listHistory(key, { limit: 5 })).rejects.toMatchObject({
      code: 'CORRUPT_RECORD',
    });
    await client.hset(
      keys.checkpointData,
      field,
      stored.replace(owner, JSON.stringify(['', key.threadId, ''])),
    );
    await expect(checkpointer.getLatest(key)).rejects.toMatchObject({ code: 'CORRUPT_RECORD' });
    await client.hset(
      keys.checkpointData,
      field,
      stored.replace(owner, JSON.stringify([key.tenantId, 'another-thread', ''])),
    );
    await expect(checkpointer.getLatest(key)).rejects.toMatchObject({ code: 'CORRUPT_RECORD' });
    await client.hset(keys.checkpointData, field, stored.replace(owner, 'not json'));
    await expect(checkpointer.getLatest(key)).rejects.toMatchObject({ code: 'CORRUPT_RECORD' });
    await client.hset(keys.checkpointData, field, stored.replace(/^\d+/, 'x'));
    await expect(checkpointer.getLatest(key)).rejects.toMatchObject({ code: 'CORRUPT_RECORD' });
    await client.hset(keys.checkpointData, field, 'not json');
    await expect(checkpointer.getLatest(key)).rejects.toMatchObject({ code: 'CORRUPT_RECORD' });
    // An entry of the write order without its record.
    await client.hdel(keys.checkpointData, field);
    await expect(checkpointer.getLatest(key)).rejects.toMatchObject({ code: 'CORRUPT_RECORD' });
    await expect(checkpointer.listHistory(key, { limit: 5 })).rejects.toMatchObject({
      code: 'CORRUPT_RECORD',
    });
  });

  it('rejects a malformed pending write with CORRUPT_RECORD', async () => {
    const key = freshKey();
    const checkpoint = Checkpoint.create({ key, step: 0, state: 1 });
    const checkpointer = persistence.checkpointer();
    await checkpointer.put(checkpoint);
    await checkpointer.putWrites(key, { checkpointId: checkpoint.id, taskId: 't' }, [
      { idx: 0, channel: 'c', value: 1 },
    ]);
    const writesKey = layout.thread(key).checkpointWrites;
    const field = `:${checkpoint.id}`;
    const [stored] = (await client.zrange(writesKey, 0, -1)) as [string];
    expect(stored).toBe(`${field}\r"t"\t0\t""\t"c"\t{"schema_version":1,"state":1}`);
    const replace = async (member: string) => {
      await client.del(writesKey);
      await client.zadd(writesKey, 0, member);
    };
    await replace(stored.replace('\t0\t', '\tx\t'));
    await expect(checkpointer.getById(key, checkpoint.id)).rejects.toMatchObject({
      code: 'CORRUPT_RECORD',
    });
    await replace(`${field}\rno tabs`);
    await expect(checkpointer.getLatest(key)).rejects.toMatchObject({ code: 'CORRUPT_RECORD' });
  });

  it('updateState finds step and nextNode in the parent record, whatever the ids hold', async () => {
    // Ids and nextNode that hold the record's own separators.
    const key = ThreadKey.of('t\t1\t"x"\t', 'th\n\t1');
    const nextNode = 'node"\t5\t7\\"\n';
    const checkpointer = persistence.checkpointer<string>();
    const parent = { ...Checkpoint.create({ key, step: 41, state: 'p' }), nextNode };
    await checkpointer.put(parent);
    const childId = await checkpointer.updateState(key, parent.id, 'c');
    const child = await checkpointer.getById(key, childId);
    expect(child).toMatchObject({ step: 42, nextNode, parentId: parent.id, state: 'c', key });
    expect((await checkpointer.getLatest(key))?.id).toBe(childId);
    const grandchild = await checkpointer.getById(
      key,
      await checkpointer.updateState(key, childId, 'g'),
    );
    expect(grandchild).toMatchObject({ step: 43, nextNode, parentId: childId });
  });

  it('updateState on a malformed parent record is CORRUPT_RECORD and writes nothing', async () => {
    const key = freshKey();
    const parent = Checkpoint.create({ key, step: 0, state: 1 });
    const checkpointer = persistence.checkpointer();
    await checkpointer.put(parent);
    await client.hset(layout.thread(key).checkpointData, `:${parent.id}`, '1\tx\tnull\t');
    await expect(checkpointer.updateState(key, parent.id, 2)).rejects.toMatchObject({
      code: 'CORRUPT_RECORD',
    });
    expect(await client.hlen(layout.thread(key).checkpointData)).toBe(1);
  });

  it('rejects a store item of another tenant with CORRUPT_RECORD', async () => {
    const namespace = Namespace.of(randomId('tenant'), 'memories');
    const store = persistence.store();
    await store.put(namespace, 'k', { v: 1 });
    const itemKey = layout.storeItem(namespace, Buffer.from('k').toString('hex'));
    const stored = (await client.get(itemKey)) as string;
    const everyRead = async () => {
      await expect(store.get(namespace, 'k')).rejects.toMatchObject({ code: 'CORRUPT_RECORD' });
      await expect(store.getMany([{ namespace, key: 'k' }])).rejects.toMatchObject({
        code: 'CORRUPT_RECORD',
      });
      await expect(store.search(namespace.tenantId, { limit: 10 })).rejects.toMatchObject({
        code: 'CORRUPT_RECORD',
      });
    };
    await client.set(itemKey, stored.replace(namespace.tenantId, 'intruder'));
    await everyRead();
    await client.set(itemKey, 'garbage');
    await everyRead();
    // A search reply puts each key and record on lines of their own; get needs no lines.
    await client.set(itemKey, stored.replace('"v"', '"\n"'));
    await expect(store.search(namespace.tenantId, { limit: 10 })).rejects.toMatchObject({
      code: 'CORRUPT_RECORD',
    });
  });

  it.each([
    ['odd length', '616'],
    ['uppercase hex', '4A'],
    ['not hex', 'zz'],
    ['bytes that are not UTF-8', 'ff'],
    ['the encoding of an id with NUL', '6100'],
  ])('a thread index entry of %s is CORRUPT_RECORD', async (_, member) => {
    const key = freshKey();
    await persistence.checkpointer().put(Checkpoint.create({ key, step: 0, state: 1 }));
    await persistence.sessionLog().append(key, ['e']);
    const index = layout.tenantThreads(key.tenantId);
    await client.zadd(index.checkpointThreads, 0, member);
    await client.zadd(index.logThreads, 0, member);
    await expect(
      persistence.checkpointer().listThreads(key.tenantId, { limit: 10 }),
    ).rejects.toMatchObject({ code: 'CORRUPT_RECORD' });
    await expect(
      persistence.sessionLog().listThreads(key.tenantId, { limit: 10 }),
    ).rejects.toMatchObject({ code: 'CORRUPT_RECORD' });
  });

  it('purgeTenant leaves a thread entry held by an unfinished first put, and still finishes', async () => {
    const key = freshKey();
    const checkpointer = persistence.checkpointer();
    await checkpointer.put(Checkpoint.create({ key, step: 0, state: 1 }));
    const pending = ThreadKey.of(key.tenantId, 'pending-first-put');
    const index = layout.tenantThreads(key.tenantId);
    // What a first put leaves between registering its token and writing.
    const member = Buffer.from(pending.threadId, 'utf8').toString('hex');
    await client.hset(index.checkpointThreadTokens, member, 'token-of-a-put-on-its-way');
    await client.zadd(index.checkpointThreads, 0, member);
    const counts = { checkpoints: 1, writes: 0, storeItems: 0, events: 0 };
    expect(await persistence.purgeTenant(key.tenantId)).toEqual(counts);
    expect(await persistence.purgeTenant(key.tenantId)).toEqual({ ...counts, checkpoints: 0 });
    // The put's checkpoint, once written, is on a listed thread.
    expect(await checkpointer.listThreads(key.tenantId, { limit: 10 })).toEqual([pending.threadId]);
  });

  it('rejects a session event of another tenant with CORRUPT_RECORD', async () => {
    const key = freshKey();
    await persistence.sessionLog().append(key, ['mine']);
    const keys = layout.thread(key);
    await client.zadd(
      keys.logEvents,
      2,
      `2:${Date.now()}:"intruder"\t{"schema_version":1,"state":"x"}`,
    );
    await expect(persistence.sessionLog().loadSince(key, 0)).rejects.toMatchObject({
      code: 'CORRUPT_RECORD',
    });
    expect(await persistence.sessionLog().loadSince(key, 0, { limit: 1 })).toHaveLength(1);
  });
});

describe('batches of pending writes on ioredis-mock', () => {
  // ioredis-mock spreads a command's arguments on the stack several times over: about
  // 25,000 of them overflow it, which 8,000 writes of three arguments each once did.
  it('sends a batch as one script argument, whatever its size', async () => {
    const client = isolatedMockClient();
    const argumentCounts: number[] = [];
    const evalsha = client.evalsha.bind(client);
    client.evalsha = ((...args: Parameters<typeof evalsha>) => {
      // Keys and arguments may come as one array: ioredis flattens them.
      argumentCounts.push(args.flat().length);
      return evalsha(...args);
    }) as typeof evalsha;
    const checkpointer = createRedisPersistence({ client, clock: 'client' }).checkpointer();
    const key = freshKey();
    const parent = Checkpoint.create({ key, step: 0, state: 0 });
    await checkpointer.put(parent);
    const writes = (count: number) =>
      Array.from({ length: count }, (_, idx) => ({ idx, channel: 'c', value: idx }));
    const oneWrite: number[] = [];
    const fiftyWrites: number[] = [];
    for (const count of [1, 50]) {
      argumentCounts.length = 0;
      await checkpointer.putWrites(
        key,
        { checkpointId: parent.id, taskId: `t${count}` },
        writes(count),
      );
      const child = Checkpoint.create({ key, step: count, state: 0, parentId: parent.id });
      await checkpointer.put(child, {
        parentWrites: [{ taskId: `p${count}`, writes: writes(count) }],
      });
      (count === 1 ? oneWrite : fiftyWrites).push(...argumentCounts);
    }
    expect(fiftyWrites).toEqual(oneWrite);
    expect((await checkpointer.getById(key, parent.id))?.pendingWrites).toHaveLength(102);
  });

  it('does not call a failing ioredis-mock disconnected: it has no connection', async () => {
    const client = isolatedMockClient();
    client.evalsha = (() =>
      Promise.reject(new RangeError('Maximum call stack size exceeded'))) as never;
    const error = await createRedisPersistence({ client, clock: 'client' })
      .checkpointer()
      .put(Checkpoint.create({ key: freshKey(), step: 0, state: 0 }))
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'BACKEND' });
    expect((error as Error).message).not.toMatch(/not connected/);
    expect((error as Error).message).toMatch(/Maximum call stack/);
  });
});

describe('bad input changes nothing', () => {
  const keyPrefix = randomPrefix();
  const client = isolatedMockClient();
  const persistence = createRedisPersistence({ client, keyPrefix, clock: 'client' });

  it('rejects every bad write before touching Redis', async () => {
    const key = freshKey();
    const namespace = Namespace.of(key.tenantId, 'ns');
    const checkpointer = persistence.checkpointer();
    const store = persistence.store();
    const log = persistence.sessionLog();
    const good = Checkpoint.create({ key, step: 0, state: 'ok' });
    await checkpointer.put(good);
    await store.put(namespace, 'k', 'v');
    await log.append(key, ['e']);
    const before = await snapshot(client, keyPrefix);
    const aborted = AbortSignal.abort();
    const foreignLease = await persistence.lock.tryAcquire(freshKey(), { ttlMs: 10_000 });
    const attempts: [string, () => Promise<unknown>][] = [
      [
        'INVALID_ID',
        () => checkpointer.put({ ...good, key: { tenantId: '', threadId: 't' } } as never),
      ],
      ['INVALID_ID', () => checkpointer.put({ ...good, id: 'not-a-uuid' } as never)],
      ['CONFIG', () => checkpointer.put({ ...good, step: -1 } as never)],
      [
        'SERIALIZATION',
        () => checkpointer.put(Checkpoint.create({ key, step: 1, state: Number.NaN })),
      ],
      [
        'ABORTED',
        () => checkpointer.put(Checkpoint.create({ key, step: 1, state: 1 }), { signal: aborted }),
      ],
      [
        'CONFIG',
        () =>
          checkpointer.put(Checkpoint.create({ key, step: 1, state: 1 }), {
            fence: { key, fence: 0n },
          }),
      ],
      [
        'CONFIG',
        () =>
          checkpointer.put(Checkpoint.create({ key, step: 1, state: 1 }), { fence: foreignLease }),
      ],
      [
        'NOT_FOUND',
        () => checkpointer.updateState(key, Checkpoint.create({ key, step: 0, state: 0 }).id, 'x'),
      ],
      ['SERIALIZATION', () => checkpointer.updateState(key, good.id, () => 1)],
      ['CONFIG', () => checkpointer.deleteThread(key, { fence: 'lease' } as never)],
      ['INVALID_ID', () => store.put(namespace, '', 'v')],
      ['INVALID_ID', () => store.put({ tenantId: key.tenantId, scope: [] } as never, 'k', 'v')],
      ['CONFIG', () => store.put(namespace, 'k', 'v', { ttlMs: 0 })],
      ['CONFIG', () => store.put(namespace, 'k', 'v', { ttlMs: 1.5 })],
      ['SERIALIZATION', () => store.put(namespace, 'k', new Date())],
      ['ABORTED', () => store.delete(namespace, 'k', { signal: aborted })],
      ['INVALID_ID', () => store.delete(namespace, 'a\u0000b')],
      ['ABORTED', () => store.evictExpired(undefined, { signal: aborted })],
      ['INVALID_ID', () => store.evictExpired('')],
      ['CONFIG', () => log.append(key, 'e' as never)],
      ['SERIALIZATION', () => log.append(key, ['ok', undefined])],
      ['ABORTED', () => log.append(key, ['e'], { signal: aborted })],
      ['CONFIG', () => log.archiveBefore(key, -1)],
      ['CONFIG', () => log.archiveBefore(key, 1.5)],
      ['INVALID_ID', () => log.deleteThread({ tenantId: key.tenantId } as never)],
      ['CONFIG', () => persistence.lock.tryAcquire(key, { ttlMs: 0 })],
      ['ABORTED', () => persistence.lock.tryAcquire(key, { ttlMs: 1000, signal: aborted })],
      [
        'ABORTED',
        () => persistence.lock.acquire(key, { ttlMs: 1000, timeoutMs: 10, signal: aborted }),
      ],
    ];
    for (const [code, attempt] of attempts) {
      await expect(attempt(), code).rejects.toMatchObject({ code });
    }
    await foreignLease?.release();
    const after = await snapshot(client, keyPrefix);
    // The foreign lease's counter and its tenant's lock index are the only new keys;
    // everything else is untouched.
    const foreignFence = Object.keys(after).filter((k) => !(k in before));
    expect(foreignFence).toHaveLength(2);
    expect(foreignFence[0]).toMatch(/:lock:\{.*\}:fence$/);
    expect(foreignFence[1]).toMatch(/:threads:\{.*\}:lock$/);
    for (const [k, v] of Object.entries(before)) expect(after[k], k).toEqual(v);
  });

  it('rejects bad reads with typed errors', async () => {
    const key = freshKey();
    const namespace = Namespace.of(key.tenantId, 'ns');
    const checks: [string, () => Promise<unknown>][] = [
      ['CONFIG', () => persistence.checkpointer().listHistory(key, { limit: 0 })],
      ['INVALID_ID', () => persistence.checkpointer().listHistory(key, { limit: 1, before: 'x' })],
      ['INVALID_ID', () => persistence.checkpointer().getById(key, '')],
      ['CONFIG', () => persistence.store().list(namespace, { limit: -1 })],
      ['INVALID_ID', () => persistence.store().list(namespace, { after: '' })],
      ['CONFIG', () => persistence.store().listNamespaces(key.tenantId, { prefix: 'a' } as never)],
      ['CONFIG', () => persistence.store().listNamespaces(key.tenantId, { maxDepth: 0 })],
      ['CONFIG', () => persistence.sessionLog().loadSince(key, -1)],
      ['CONFIG', () => persistence.sessionLog().loadSince(key, 0, { limit: 0 })],
      ['ABORTED', () => persistence.sessionLog().head(key, { signal: AbortSignal.abort() })],
      ['ABORTED', () => persistence.store().get(namespace, 'k', { signal: AbortSignal.abort() })],
    ];
    for (const [code, check] of checks) await expect(check(), code).rejects.toMatchObject({ code });
  });
});

describe("ioredis-mock's hashes", () => {
  it('read a field named like an Object.prototype member as that member, as the README says', async () => {
    const persistence = mockPersistence();
    const tenant = randomId('tenant');
    await persistence.store().put(Namespace.of(tenant, 'docs'), 'k', 1);
    // The tenant's namespace index now exists; real Redis stores this namespace too.
    const error = await persistence
      .store()
      .put(Namespace.of(tenant, 'constructor'), 'k', 1)
      .then(
        () => undefined,
        (caught: unknown) => caught,
      );
    expect(error).toMatchObject({ code: 'BACKEND' });
    expect(await persistence.store().listNamespaces(tenant)).toEqual([
      Namespace.of(tenant, 'docs'),
    ]);
    // The store holds another tenant now, so a tenant of such a name fails the same way.
    await expect(
      persistence.store().put(Namespace.of('valueOf', 'docs'), 'k', 1),
    ).rejects.toMatchObject({ code: 'BACKEND' });
    expect(await persistence.store().listNamespaces('valueOf')).toEqual([]);
  });
});

describe('store listing', () => {
  const persistence = mockPersistence();
  // Characters whose UTF-16 order differs from code-point order (astral vs U+E000+),
  // and glob/LIKE characters that must match only themselves.
  const alphabet = fc.constantFrom(
    'a',
    'b',
    '%',
    '_',
    '*',
    '?',
    '[',
    '\\',
    'é',
    '\uffff',
    '\ue000',
    '😀',
    '𝄞',
  );
  const storeKey = fc
    .array(alphabet, { minLength: 1, maxLength: 4 })
    .map((chars) => chars.join(''));

  it('lists live keys in code-point order with literal prefixes and keyset paging', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(storeKey, { minLength: 1, maxLength: 12 }),
        fc.option(storeKey, { nil: undefined }),
        fc.option(storeKey, { nil: undefined }),
        fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }),
        async (keys, prefix, after, limit) => {
          const namespace = Namespace.of(randomId('tenant'), 'list');
          const store = persistence.store<number>();
          for (const [i, key] of keys.entries()) await store.put(namespace, key, i);
          const expected = keys
            .filter((key) => prefix === undefined || key.startsWith(prefix))
            .filter((key) => after === undefined || compareCodePoints(key, after) > 0)
            .sort(compareCodePoints)
            .slice(0, limit);
          expect(await store.list(namespace, { prefix, after, limit })).toEqual(expected);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('skips expired keys in list, get and listNamespaces before eviction', async () => {
    const tenant = randomId('tenant');
    const namespace = Namespace.of(tenant, 'short');
    const store = persistence.store<string>();
    await store.put(namespace, 'gone', 'v', { ttlMs: 20 });
    await store.put(Namespace.of(tenant, 'long'), 'stays', 'v');
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(await store.list(namespace)).toEqual([]);
    expect(await store.get(namespace, 'gone')).toBeUndefined();
    expect((await store.listNamespaces(tenant)).map((ns) => ns.scope)).toEqual([['long']]);
    expect(await store.delete(namespace, 'gone')).toBe(false);
    expect(await store.evictExpired(tenant)).toBe(0);
  });
});

describe('store search, one round trip for a namespace', () => {
  /**
   * A mock client whose reads of the namespace order wait until `release`, recording
   * which scripts were sent meanwhile.
   */
  function heldOrderClient() {
    const client = isolatedMockClient();
    const sentWhileHeld: string[] = [];
    let held = false;
    let release = () => {};
    const wrapped = new Proxy(client, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        if (property === 'zrangebylex' && held) {
          return async (...args: unknown[]) => {
            await new Promise<void>((resolve) => {
              release = resolve;
            });
            return value.apply(target, args);
          };
        }
        // Every script run starts with EVALSHA (EVAL follows only when Redis lacks it).
        if (property === 'evalsha') {
          return (...args: unknown[]) => {
            if (held) sentWhileHeld.push(String(property));
            return value.apply(target, args);
          };
        }
        return value.bind(target);
      },
    });
    return {
      client: wrapped,
      sentWhileHeld,
      /** Run `call` with the order held until a script has been sent, then let it go. */
      async holding<T>(call: () => Promise<T>): Promise<T> {
        held = true;
        sentWhileHeld.length = 0;
        const result = call();
        await new Promise((resolve) => setTimeout(resolve, 20));
        held = false;
        release();
        return result;
      },
    };
  }

  it("reads the prefix's own namespace while it reads the order, and keeps it only if listed first", async () => {
    const held = heldOrderClient();
    const store = createRedisPersistence({
      client: held.client,
      keyPrefix: randomPrefix(),
    }).store<number>();
    const tenant = randomId('tenant');
    await store.put(Namespace.of(tenant, 'docs'), 'b', 2);
    await store.put(Namespace.of(tenant, 'docs'), 'a', 1);
    await store.put(Namespace.of(tenant, 'docs', 'child'), 'c', 3);
    await store.put(Namespace.of(tenant, 'notes', 'child'), 'd', 4);
    const keysOf = (items: { key: string; namespace: Namespace }[]) =>
      items.map((item) => `${item.namespace.scope.join('/')}:${item.key}`);

    const page = await held.holding(() =>
      store.search(tenant, { namespacePrefix: ['docs'], limit: 2 }),
    );
    expect(held.sentWhileHeld.length).toBe(1);
    expect(keysOf(page)).toEqual(['docs:a', 'docs:b']);

    // The cursor's namespace is read early too; its items after the cursor come first.
    const next = await held.holding(() =>
      store.search(tenant, {
        namespacePrefix: ['docs'],
        limit: 2,
        after: { namespace: ['docs'], key: 'a' },
      }),
    );
    expect(held.sentWhileHeld.length).toBe(1);
    expect(keysOf(next)).toEqual(['docs:b', 'docs/child:c']);

    // A prefix that is no namespace of its own: the early read finds nothing and is
    // dropped; the order's first namespace is read after it.
    const under = await held.holding(() =>
      store.search(tenant, { namespacePrefix: ['notes'], limit: 5 }),
    );
    expect(keysOf(under)).toEqual(['notes/child:d']);
    // The whole tenant has no namespace to start at: nothing is read before the order.
    const all = await held.holding(() => store.search(tenant, { namespacePrefix: [], limit: 5 }));
    expect(held.sentWhileHeld).toEqual([]);
    expect(keysOf(all)).toEqual(['docs:a', 'docs:b', 'docs/child:c', 'notes/child:d']);
  });
});

describe('store records with a TTL (ioredis-mock)', () => {
  storeExpiryTests(() => {
    const client = isolatedMockClient();
    const keyPrefix = randomPrefix();
    return { persistence: mockPersistence(client, keyPrefix), client, keyPrefix };
  });

  it("with clock: 'client', get hides a record past its expiresAt even if Redis still holds it", async () => {
    const client = isolatedMockClient();
    const keyPrefix = randomPrefix();
    const store = mockPersistence(client, keyPrefix).store<string>();
    const namespace = Namespace.of(randomId('tenant'), 'ttl');
    await store.put(namespace, 'k', 'v', { ttlMs: 60_000 });
    const recordKey = new KeyLayout(keyPrefix).storeItem(namespace, '6b');
    // The same record, as if this process's clock had passed its expiresAt while the
    // server's has not: expiresAt in the past, no Redis expiry on the key.
    const [created, updated] = ((await client.get(recordKey)) as string).split(':');
    const tail = ((await client.get(recordKey)) as string).split(':').slice(3).join(':');
    await client.set(recordKey, `${created}:${updated}:${Date.now() - 1}:${tail}`);
    expect(await client.pttl(recordKey)).toBe(-1);
    expect(await store.get(namespace, 'k')).toBeUndefined();
  });
});

describe('fencing on a Cluster client', () => {
  function clusterPersistence() {
    const client = isolatedMockClient();
    // ioredis marks Cluster clients with `isCluster`; the mock runs the same scripts.
    Object.defineProperty(client, 'isCluster', { value: true });
    return createRedisPersistence({ client, keyPrefix: randomPrefix(), clock: 'client' });
  }

  it('checks a lease on the same thread atomically', async () => {
    const persistence = clusterPersistence();
    const key = freshKey();
    const lease = await persistence.lock.tryAcquire(key, { ttlMs: 10_000 });
    if (lease === undefined) throw new Error('lock not granted');
    expect(await persistence.sessionLog().append(key, ['e'], { fence: lease })).toBe(1);
    await persistence.checkpointer().put(Checkpoint.create({ key, step: 0, state: 1 }), {
      fence: lease,
    });
  });

  it('refuses writes fenced by a lease in another slot with CONFIG, writing nothing', async () => {
    const persistence = clusterPersistence();
    const key = freshKey();
    const other = ThreadKey.of(key.tenantId, randomId('other-thread'));
    const lease = await persistence.lock.tryAcquire(other, { ttlMs: 10_000 });
    if (lease === undefined) throw new Error('lock not granted');
    const namespace = Namespace.of(key.tenantId, 'ns');
    await expect(
      persistence.sessionLog().append(key, ['e'], { fence: lease }),
    ).rejects.toMatchObject({ code: 'CONFIG' });
    await expect(
      persistence.store().put(namespace, 'k', 'v', { fence: lease }),
    ).rejects.toMatchObject({ code: 'CONFIG' });
    expect(await persistence.sessionLog().head(key)).toBe(0);
    expect(await persistence.store().get(namespace, 'k')).toBeUndefined();
  });
});

describe('a large store value', () => {
  it('is sent once, also into a namespace not registered yet; a small one asks nothing first', async () => {
    const client = isolatedMockClient();
    const sent = { scripts: 0, registrationChecks: 0 };
    const counting = new Proxy(client, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        if (property === 'evalsha' || property === 'exists') {
          return (...args: unknown[]) => {
            if (property === 'exists') sent.registrationChecks++;
            else if (args.flat().some((arg) => typeof arg === 'string' && arg.length > 1 << 20)) {
              sent.scripts++;
            }
            return value.apply(target, args);
          };
        }
        return value.bind(target);
      },
    });
    const store = createRedisPersistence({ client: counting, keyPrefix: randomPrefix() }).store();
    const tenant = randomId('tenant');
    const large = { text: 'x'.repeat(2 << 20) };

    await store.put(Namespace.of(tenant, 'new'), 'k', large);
    expect(sent).toEqual({ scripts: 1, registrationChecks: 1 });
    await store.put(Namespace.of(tenant, 'new'), 'k2', large);
    expect(sent).toEqual({ scripts: 2, registrationChecks: 2 });
    expect((await store.get(Namespace.of(tenant, 'new'), 'k'))?.value).toEqual(large);

    await store.put(Namespace.of(tenant, 'small'), 'k', { text: 'x' });
    expect(sent.registrationChecks).toBe(2);
    expect(await store.listNamespaces(tenant)).toHaveLength(2);
  });
});
