import { Checkpoint, Namespace, ThreadKey } from '@entelix/core';
import { describe, expect, it } from 'vitest';
import {
  createInMemoryKeyValueClient,
  createKeyValuePersistence,
  type KeyValueClient,
} from '../src/index.js';

const partsOf = (storageKey: string) => storageKey.split('\u0000');

/** A client that counts what each call reads: one per `get`, one per key a scan returns. */
function countingClient() {
  const inner = createInMemoryKeyValueClient();
  let reads = 0;
  const client: KeyValueClient = {
    get: (key) => {
      reads++;
      return inner.get(key);
    },
    set: (key, value) => inner.set(key, value),
    delete: (key) => inner.delete(key),
    keys: (prefix, range) => {
      const keys = [...inner.keys(prefix, range)];
      reads += keys.length;
      return keys;
    },
  };
  const readsOf = async (run: () => Promise<unknown>) => {
    reads = 0;
    await run();
    return reads;
  };
  return { client, readsOf };
}

// What the conformance suite cannot see from outside: how this adapter treats a failing
// client and records it did not write itself, its key layout, and what each operation reads.
describe('custom key/value adapter', () => {
  it('refuses a missing or malformed client with CONFIG', () => {
    expect(() => createKeyValuePersistence(undefined as never)).toThrow(
      expect.objectContaining({ code: 'CONFIG' }),
    );
    expect(() => createKeyValuePersistence({ client: { get() {} } as never })).toThrow(
      expect.objectContaining({ code: 'CONFIG' }),
    );
  });

  it('wraps a client failure once as BACKEND with the original as cause', async () => {
    const failure = new Error('disk on fire');
    const failing: KeyValueClient = {
      ...createInMemoryKeyValueClient(),
      get() {
        throw failure;
      },
    };
    const persistence = createKeyValuePersistence({ client: failing });
    const error = await persistence
      .sessionLog()
      .head(ThreadKey.of('acme', 'thread'))
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'BACKEND', backend: 'key-value', cause: failure });
  });

  it('rejects unreadable records and records of another tenant with CORRUPT_RECORD', async () => {
    const client = createInMemoryKeyValueClient();
    const persistence = createKeyValuePersistence({ client });
    const acme = Namespace.of('acme', 'profile');
    const globex = Namespace.of('globex', 'profile');
    await persistence.store().put(acme, 'k', 1);
    await persistence.store().put(globex, 'k', 2);
    const [acmeKey, globexKey] = [...client.keys('store-item\u0000')];
    expect(partsOf(acmeKey as string)[1]).toBe('acme');
    expect(partsOf(globexKey as string)[1]).toBe('globex');
    client.set(globexKey as string, client.get(acmeKey as string) as string);
    await expect(persistence.store().get(globex, 'k')).rejects.toMatchObject({
      code: 'CORRUPT_RECORD',
    });
    await expect(persistence.store().list(globex)).rejects.toMatchObject({
      code: 'CORRUPT_RECORD',
    });
    client.set(acmeKey as string, '{not json');
    await expect(persistence.store().get(acme, 'k')).rejects.toMatchObject({
      code: 'CORRUPT_RECORD',
    });
  });

  it('refuses malformed bookkeeping and dangling index entries with CORRUPT_RECORD, writing nothing', async () => {
    const client = createInMemoryKeyValueClient();
    const persistence = createKeyValuePersistence({ client });
    const key = ThreadKey.of('acme', 'thread');
    await persistence.sessionLog().append(key, ['a']);
    const [headKey] = [...client.keys('session-head\u0000')];
    client.set(headKey as string, JSON.stringify({ tenantId: 'acme', headOrdinal: '1' }));
    const before = [...client.keys('')];
    await expect(persistence.sessionLog().append(key, ['b'])).rejects.toMatchObject({
      code: 'CORRUPT_RECORD',
    });
    expect([...client.keys('')]).toEqual(before);

    await persistence.checkpointer().put(Checkpoint.create({ key, step: 0, state: 1 }));
    const [checkpointKey] = [...client.keys('checkpoint\u0000')];
    client.delete(checkpointKey as string);
    await expect(persistence.checkpointer().getLatest(key)).rejects.toMatchObject({
      code: 'CORRUPT_RECORD',
    });
  });

  it('close leaves the caller’s client and its data alone', async () => {
    const client = createInMemoryKeyValueClient();
    const key = ThreadKey.of('acme', 'thread');
    const first = createKeyValuePersistence({ client });
    await first.checkpointer().put(Checkpoint.create({ key, step: 0, state: 'kept' }));
    await first.close();
    const second = createKeyValuePersistence({ client });
    expect((await second.checkpointer().getLatest(key))?.state).toBe('kept');
  });

  it('scans keys in code-point order, within a range, from either end', () => {
    const client = createInMemoryKeyValueClient();
    // U+FFFF sorts below an emoji by code point, above it by UTF-16 unit.
    for (const key of ['p\u{1F600}', 'p\uFFFF', 'pb', 'pa', 'q', 'p']) client.set(key, '');
    expect([...client.keys('p')]).toEqual(['p', 'pa', 'pb', 'p\uFFFF', 'p\u{1F600}']);
    expect([...client.keys('p', { after: 'pa', limit: 2 })]).toEqual(['pb', 'p\uFFFF']);
    expect([...client.keys('p', { before: 'p\uFFFF', reverse: true, limit: 2 })]).toEqual([
      'pb',
      'pa',
    ]);
    expect([...client.keys('p', { after: 'pb', before: 'pb' })]).toEqual([]);
    expect(client.delete('pa')).toBe(true);
    expect(client.delete('pa')).toBe(false);
    expect([...client.keys('')]).toEqual(['p', 'pb', 'p\uFFFF', 'p\u{1F600}', 'q']);
  });

  it('keys every record tenant first; a purge leaves only session heads and fence counters', async () => {
    const client = createInMemoryKeyValueClient();
    const persistence = createKeyValuePersistence({ client });
    const populate = async (tenant: string) => {
      const key = ThreadKey.of(tenant, 'thread');
      const lease = await persistence.lock.tryAcquire(key, { ttlMs: 60_000 });
      const cp = Checkpoint.create({ key, step: 0, state: 1, ns: 'child' });
      await persistence.checkpointer().put(cp, { fence: lease });
      await persistence
        .checkpointer()
        .putWrites(key, { checkpointId: cp.id, ns: 'child', taskId: 't' }, [
          { idx: 0, channel: 'c', value: 1 },
        ]);
      await persistence.store().put(Namespace.of(tenant, 'a', 'b'), 'k', 1, { ttlMs: 60_000 });
      await persistence.sessionLog().append(key, ['e']);
      return lease;
    };
    const lease = await populate('acme');
    await populate('globex');
    const keysOf = (tenant: string) =>
      [...client.keys('')].filter((storageKey) => partsOf(storageKey)[1] === tenant);
    expect(keysOf('acme').length + keysOf('globex').length).toBe([...client.keys('')].length);
    const globexBefore = keysOf('globex').map((storageKey) => [storageKey, client.get(storageKey)]);

    await persistence.purgeTenant('acme');
    expect(keysOf('acme').map((storageKey) => partsOf(storageKey)[0])).toEqual([
      'lock-fence',
      'session-head',
    ]);
    const fenceKey = keysOf('acme')[0] as string;
    expect(BigInt(client.get(fenceKey) as string)).toBe((lease?.fence ?? 0n) + 1n);
    expect(keysOf('globex').map((storageKey) => [storageKey, client.get(storageKey)])).toEqual(
      globexBefore,
    );
  });
});

// SPEC 12.6: each operation reads what its thread, namespace or page holds, never its
// neighbours. Every test gives the data it reads a large neighbour and bounds the reads.
describe('custom key/value adapter: what each operation reads', () => {
  const NEIGHBOURS = 300;

  it('checkpoints: getLatest, listHistory, putWrites, prune and listThreads', async () => {
    const { client, readsOf } = countingClient();
    const checkpointer = createKeyValuePersistence({ client }).checkpointer<number>();
    const key = ThreadKey.of('acme', 'busy');
    const root = checkpointer.create({ key, step: 0, state: -1 });
    await checkpointer.put(root);
    await checkpointer.put(checkpointer.create({ key, step: 1, state: -2 }));
    await checkpointer.put(checkpointer.create({ key, step: 2, state: -3 }));
    for (let i = 0; i < NEIGHBOURS; i++) {
      await checkpointer.put(checkpointer.create({ key, step: i, state: i, ns: 'child' }));
    }
    for (let i = 0; i < NEIGHBOURS; i++) {
      await checkpointer.put(
        checkpointer.create({ key: ThreadKey.of('acme', `t${i}`), step: 0, state: i }),
      );
    }

    // The root is older than every child checkpoint, yet one index entry away.
    expect(await readsOf(() => checkpointer.getLatest(key))).toBeLessThanOrEqual(2);
    const [newest, second] = await checkpointer.listHistory(key, { limit: 2 });
    expect(newest?.state).toBe(NEIGHBOURS - 1);
    expect(
      await readsOf(() => checkpointer.listHistory(key, { limit: 2, before: second?.id })),
    ).toBeLessThanOrEqual(8);
    expect(
      await readsOf(() =>
        checkpointer.putWrites(key, { checkpointId: root.id, taskId: 't' }, [
          { idx: 0, channel: 'c', value: 1 },
          { idx: -1, channel: 'e', value: 2 },
        ]),
      ),
    ).toBeLessThanOrEqual(4);
    // Two of the root's three go, with the root's writes; the children are not read.
    expect(
      await readsOf(() => checkpointer.prune(key, { keepLatest: 1, ns: '' })),
    ).toBeLessThanOrEqual(8);
    expect(
      (await checkpointer.listHistory(key, { limit: 10, ns: '' })).map((cp) => cp.state),
    ).toEqual([-3]);
    expect(await readsOf(() => checkpointer.listThreads('acme', { limit: 2, after: 't5' }))).toBe(
      2,
    );
    expect(await checkpointer.listThreads('acme', { limit: 2, after: 't5' })).toEqual([
      't50',
      't51',
    ]);
  });

  it('session log: loadLatest, loadSince, truncateAfter and listThreads', async () => {
    const { client, readsOf } = countingClient();
    const log = createKeyValuePersistence({ client }).sessionLog<number>();
    const key = ThreadKey.of('acme', 'long');
    await log.append(
      key,
      Array.from({ length: NEIGHBOURS }, (_, i) => i),
    );
    for (let i = 0; i < NEIGHBOURS; i++) await log.append(ThreadKey.of('acme', `t${i}`), [i]);

    expect(await readsOf(() => log.loadLatest(key, { limit: 3 }))).toBe(6);
    expect(await readsOf(() => log.loadSince(key, 100, { limit: 3 }))).toBe(6);
    // Each removed event, once.
    expect(await readsOf(() => log.truncateAfter(key, NEIGHBOURS - 2))).toBe(2);
    expect(await log.head(key)).toBe(NEIGHBOURS);
    expect(await readsOf(() => log.listThreads('acme', { limit: 2, after: 'long' }))).toBe(2);
  });

  it('store: search, getMany and listNamespaces', async () => {
    const { client, readsOf } = countingClient();
    const store = createKeyValuePersistence({ client }).store<{ n: number }>();
    const small = Namespace.of('acme', 'small');
    for (let i = 0; i < NEIGHBOURS; i++) {
      await store.put(Namespace.of('acme', 'big', `n${i}`), 'k', { n: i });
    }
    await store.put(small, 'a', { n: 1 });
    await store.put(small, 'b', { n: 2 });

    expect(
      await readsOf(() => store.search('acme', { namespacePrefix: ['small'], limit: 2 })),
    ).toBe(4);
    const page = await store.search('acme', {
      limit: 2,
      after: { namespace: ['big', 'n5'], key: 'k' },
    });
    expect(page.map((item) => item.namespace.scope)).toEqual([
      ['big', 'n50'],
      ['big', 'n51'],
    ]);
    expect(
      await readsOf(() =>
        store.getMany([
          { namespace: small, key: 'b' },
          { namespace: small, key: 'a' },
        ]),
      ),
    ).toBe(2);
    // Three hundred namespaces under ['big'] list as one at depth 1, read once.
    const listed = await store.listNamespaces('acme', { maxDepth: 1 });
    expect(listed.map((ns) => ns.scope)).toEqual([['big'], ['small']]);
    expect(await readsOf(() => store.listNamespaces('acme', { maxDepth: 1 }))).toBe(6);
  });
});
