import { Namespace, type Persistence } from '@entelix/core';
import { expect, it } from 'vitest';
import type { RedisClient } from '../src/index.js';
import { KeyLayout } from '../src/keys.js';
import { randomId } from './support.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Entries no version of this library writes: a broken percent-encoding, encodings of
// an empty, NUL-holding or non-canonical id, an empty scope part.
const MALFORMED = ['%zz', '%E0%A4%A', '', '%00', '%61', 'a::b', 'a:'];

/** What an index-entry test opens: a client, and a bundle under a prefix of its own. */
export interface IndexEntrySetup {
  readonly client: RedisClient;
  readonly keyPrefix: string;
  readonly persistence: Persistence;
}

/**
 * Index entries and keys this library never writes, as another program or a bug could
 * leave them: reads that meet one report `CORRUPT_RECORD`, and a sweep sweeps
 * everything else before it does. `wrongTypes`: whether the server reports a key of the
 * wrong type from inside a script (ioredis-mock loses that error's text).
 */
export function indexEntryTests(setup: () => IndexEntrySetup, wrongTypes: boolean): void {
  function open() {
    const { client, keyPrefix, persistence } = setup();
    return { client, layout: new KeyLayout(keyPrefix), store: persistence.store<number>() };
  }
  it.each(MALFORMED)(
    'listNamespaces reports the namespace entry %j as CORRUPT_RECORD',
    async (raw) => {
      const { client, layout, store } = open();
      const tenant = randomId('tenant');
      await store.put(Namespace.of(tenant, 'good'), 'k', 1);
      await client.hset(layout.namespaceIndex(tenant), raw, 'token');
      await expect(store.listNamespaces(tenant)).rejects.toMatchObject({ code: 'CORRUPT_RECORD' });
    },
  );

  it('evictExpired() sweeps every readable tenant and namespace, then reports the rest as CORRUPT_RECORD', async () => {
    const { client, layout, store } = open();
    const tenants = [randomId('a'), randomId('b'), randomId('c')];
    for (const tenant of tenants) {
      await store.put(Namespace.of(tenant, 'x'), 'gone', 1, { ttlMs: 10 });
      await store.put(Namespace.of(tenant, 'x'), 'kept', 1);
    }
    await client.hset(layout.namespaceIndex(tenants[1]!), '%zz', 'token');
    await addTenantEntry(client, layout, '%E0%A4%A');
    await sleep(30);
    await expect(store.evictExpired()).rejects.toMatchObject({ code: 'CORRUPT_RECORD' });
    // Every readable namespace was swept, also the good one of the tenant with a bad entry.
    for (const tenant of tenants) {
      const keys = layout.namespace(Namespace.of(tenant, 'x'));
      expect(await client.zcard(keys.itemKeys)).toBe(1);
      expect(await client.zcard(keys.expiry)).toBe(0);
    }
    expect(await store.evictExpired(tenants[0])).toBe(0);
    await expect(store.evictExpired(tenants[1])).rejects.toMatchObject({ code: 'CORRUPT_RECORD' });
    // The bad entries stay: nothing this library cannot read is deleted.
    expect(await client.hexists(layout.namespaceIndex(tenants[1]!), '%zz')).toBe(1);
  });

  it('evictExpired(tenant) sweeps the readable namespaces before reporting a bad one', async () => {
    const { client, layout, store } = open();
    const tenant = randomId('tenant');
    await store.put(Namespace.of(tenant, 'x'), 'gone', 1, { ttlMs: 10 });
    await client.hset(layout.namespaceIndex(tenant), '%00', 'token');
    await sleep(30);
    await expect(store.evictExpired(tenant)).rejects.toMatchObject({ code: 'CORRUPT_RECORD' });
    expect(await client.zcard(layout.namespace(Namespace.of(tenant, 'x')).itemKeys)).toBe(0);
  });

  it.runIf(wrongTypes)(
    'a key holding another type than the library stores there is CORRUPT_RECORD, and the sweep goes past it',
    async () => {
      const { client, layout, store } = open();
      const namespace = Namespace.of(randomId('tenant'), 'x');
      await store.put(namespace, 'k', 1);
      const keys = layout.namespace(namespace);
      await client.del(keys.itemKeys);
      await client.set(keys.itemKeys, 'not a sorted set');
      await expect(store.list(namespace)).rejects.toMatchObject({ code: 'CORRUPT_RECORD' });
      await expect(store.evictExpired(namespace.tenantId)).rejects.toMatchObject({
        code: 'CORRUPT_RECORD',
      });
      // Tenants whose whole namespace index is of the wrong type, among good ones: more
      // than a sweep works on at once, in the index's own order.
      for (let i = 0; i < 10; i++) {
        const broken = Namespace.of(randomId('broken'), 'x');
        await store.put(broken, 'k', 1);
        await client.del(layout.namespaceIndex(broken.tenantId));
        await client.set(layout.namespaceIndex(broken.tenantId), 'not a hash');
      }
      const others = Array.from({ length: 20 }, () => Namespace.of(randomId('good'), 'x'));
      for (const other of others) await store.put(other, 'gone', 1, { ttlMs: 10 });
      await sleep(30);
      await expect(store.evictExpired()).rejects.toMatchObject({ code: 'CORRUPT_RECORD' });
      for (const other of others) {
        expect(await client.zcard(layout.namespace(other).itemKeys)).toBe(0);
      }
    },
  );
}

/** Add a raw entry to the index of tenants the all-tenant sweep walks. */
async function addTenantEntry(client: RedisClient, layout: KeyLayout, raw: string): Promise<void> {
  await client.hset(layout.storeTenants(), raw, 'token');
}
