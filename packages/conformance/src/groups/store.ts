import { MAX_TTL_MS, Namespace, type StoreItem } from '@entelix/core';
import { expect } from 'vitest';
import {
  byCodePoint,
  defineGroup,
  expectCode,
  freshId,
  freshNamespace,
  sleep,
} from '../fixtures.js';

/**
 * How far the backend's clock (which stamps `updatedAt`) may be from the suite's: a
 * database server's clock, not the test process's, may be what counts.
 */
const CLOCK_SKEW_MS = 2_000;

/**
 * Delete an item whose TTL outlives its test. Expiring on its own later, it would change
 * the storage snapshot that a later test compares (what a refused call left behind).
 */
async function removeBeforeItExpires(
  store: { delete(ns: Namespace, key: string): Promise<boolean> },
  ns: Namespace,
  key: string,
): Promise<void> {
  expect(await store.delete(ns, key)).toBe(true);
}

/**
 * The expiry of an item written with `ttlMs` between `before` and `after`: exactly the
 * write's own time plus `ttlMs`, the write's time being the `updatedAt` the backend
 * stamped, which must fall within the call (give or take the backend's clock).
 */
function expectExpiry(
  item: StoreItem<unknown> | undefined,
  ttlMs: number,
  before: number,
  after: number,
): void {
  expect(item?.expiresAt).toBeInstanceOf(Date);
  const writtenAt = item?.updatedAt.getTime() as number;
  expect((item?.expiresAt?.getTime() as number) - writtenAt, 'expiresAt - updatedAt').toBe(ttlMs);
  expect(writtenAt).toBeGreaterThanOrEqual(before - CLOCK_SKEW_MS);
  expect(writtenAt).toBeLessThanOrEqual(after + CLOCK_SKEW_MS);
}

/** `Store<V>`: upsert, delete, literal prefixes, code-point order, namespaces, TTL. */
export const storeTests = defineGroup('store', ({ test }) => [
  test(
    'put-get',
    'put then get returns the item with its namespace and timestamps',
    async ({ a, b }) => {
      const ns = freshNamespace(undefined, 'users', freshId('u'));
      await a.store().put(ns, 'profile', { name: 'Ada' });
      const item = await b.store().get(ns, 'profile');
      expect(item?.value).toEqual({ name: 'Ada' });
      expect(item?.key).toBe('profile');
      expect(item?.namespace.tenantId).toBe(ns.tenantId);
      expect([...(item?.namespace.scope ?? [])]).toEqual([...ns.scope]);
      expect(item?.namespace.render()).toBe(ns.render());
      expect(item?.createdAt).toBeInstanceOf(Date);
      expect(item?.updatedAt).toBeInstanceOf(Date);
      expect(item?.expiresAt).toBeNull();
      expect(await a.store().get(ns, 'missing')).toBeUndefined();
    },
  ),

  test('upsert', 'put replaces the value, keeps createdAt and moves updatedAt', async ({ a }) => {
    const ns = freshNamespace();
    const store = a.store<number>();
    await store.put(ns, 'k', 1);
    const first = await store.get(ns, 'k');
    await sleep(5);
    await store.put(ns, 'k', 2);
    const second = await store.get(ns, 'k');
    expect(second?.value).toBe(2);
    expect(second?.createdAt.getTime()).toBe(first?.createdAt.getTime());
    expect(second?.updatedAt.getTime()).toBeGreaterThan(
      first?.updatedAt.getTime() ?? Number.POSITIVE_INFINITY,
    );
    expect(await store.list(ns)).toEqual(['k']);
  }),

  test('delete', 'delete returns true once, then false', async ({ a }) => {
    const ns = freshNamespace();
    const store = a.store();
    await store.put(ns, 'k', 'v');
    await store.put(ns, 'keep', 'v');
    expect(await store.delete(ns, 'k')).toBe(true);
    expect(await store.delete(ns, 'k')).toBe(false);
    expect(await store.get(ns, 'k')).toBeUndefined();
    expect(await store.list(ns)).toEqual(['keep']);
  }),

  test('code-point-order', 'list orders keys by Unicode code point', async ({ a }) => {
    const ns = freshNamespace();
    const store = a.store();
    const keys = [
      'b',
      'a',
      'B',
      'aa',
      'é',
      'z',
      '\uFFFD',
      '\u{1F600}',
      '\uE000',
      'A',
      '_',
      '~',
      '10',
      '9',
    ];
    for (const key of keys) await store.put(ns, key, key);
    expect(await store.list(ns)).toEqual(byCodePoint(keys));
  }),

  test(
    'literal-prefix',
    'list prefixes are literal: % _ * ? [ \\ match themselves',
    async ({ a }) => {
      const ns = freshNamespace();
      const store = a.store();
      const keys = [
        'a%b',
        'axb',
        'a_b',
        'a*b',
        'a?b',
        'a[b',
        'a]b',
        'a\\b',
        'ab',
        'a',
        'a%',
        'b%b',
      ];
      for (const key of keys) await store.put(ns, key, 1);
      for (const prefix of ['a%', 'a_', 'a*', 'a?', 'a[', 'a\\', 'a]']) {
        expect(await store.list(ns, { prefix })).toEqual(
          byCodePoint(keys.filter((k) => k.startsWith(prefix))),
        );
      }
      expect(await store.list(ns, { prefix: 'a' })).toEqual(
        byCodePoint(keys.filter((k) => k.startsWith('a'))),
      );
      expect(await store.list(ns, { prefix: 'zz' })).toEqual([]);
      expect(await store.list(ns, { prefix: '' })).toEqual(byCodePoint(keys));
    },
  ),

  test(
    'astral-prefix',
    'a prefix ending in any character bounds the range exactly',
    async ({ a }) => {
      const ns = freshNamespace();
      const store = a.store();
      const keys = ['\u{1F600}', '\u{1F600}x', '\u{1F601}', '\uFFFF', '\uFFFFa', 'é', 'éa', 'f'];
      for (const key of keys) await store.put(ns, key, 1);
      for (const prefix of ['\u{1F600}', '\uFFFF', 'é']) {
        expect(await store.list(ns, { prefix })).toEqual(
          byCodePoint(keys.filter((k) => k.startsWith(prefix))),
        );
      }
    },
  ),

  test('list-paging', 'list pages with after and limit', async ({ a }) => {
    const ns = freshNamespace();
    const store = a.store();
    const keys = Array.from({ length: 9 }, (_, i) => `key-${i}`);
    for (const key of keys) await store.put(ns, key, 1);
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await store.list(ns, { limit: 4, ...(after ? { after } : {}) });
      if (page.length === 0) break;
      expect(page.length).toBeLessThanOrEqual(4);
      seen.push(...page);
      after = page[page.length - 1];
    }
    expect(seen).toEqual(keys);
    expect(await store.list(ns, { prefix: 'key-', after: 'key-3', limit: 2 })).toEqual([
      'key-4',
      'key-5',
    ]);
  }),

  test(
    'list-one-namespace',
    'list sees one namespace only, never a neighbour or a child',
    async ({ a }) => {
      const tenant = freshId('tenant');
      const store = a.store();
      const ns = Namespace.of(tenant, 'a');
      await store.put(ns, 'mine', 1);
      await store.put(Namespace.of(tenant, 'ab'), 'neighbour', 1);
      await store.put(Namespace.of(tenant, 'a', 'b'), 'child', 1);
      await store.put(Namespace.of(freshId('tenant'), 'a'), 'other tenant', 1);
      expect(await store.list(ns)).toEqual(['mine']);
    },
  ),

  test(
    'list-namespaces',
    'listNamespaces matches whole segments, truncates and pages',
    async ({ a }) => {
      const tenant = freshId('tenant');
      const store = a.store();
      const scopes = [['a'], ['a', 'b'], ['a', 'c', 'd'], ['ab'], ['b', 'x'], ['a', 'c', 'e']];
      for (const scope of scopes) await store.put(Namespace.of(tenant, ...scope), 'k', 1);
      const list = async (options: Parameters<typeof store.listNamespaces>[1] = {}) =>
        (await store.listNamespaces(tenant, options)).map((ns) => [...ns.scope]);
      expect(await list()).toEqual([
        ['a'],
        ['a', 'b'],
        ['a', 'c', 'd'],
        ['a', 'c', 'e'],
        ['ab'],
        ['b', 'x'],
      ]);
      expect(await list({ prefix: ['a'] })).toEqual([
        ['a'],
        ['a', 'b'],
        ['a', 'c', 'd'],
        ['a', 'c', 'e'],
      ]);
      expect(await list({ prefix: ['a', 'c'] })).toEqual([
        ['a', 'c', 'd'],
        ['a', 'c', 'e'],
      ]);
      expect(await list({ prefix: ['zz'] })).toEqual([]);
      expect(await list({ maxDepth: 1 })).toEqual([['a'], ['ab'], ['b']]);
      expect(await list({ prefix: ['a'], maxDepth: 2 })).toEqual([['a'], ['a', 'b'], ['a', 'c']]);
      expect(await list({ limit: 2 })).toEqual([['a'], ['a', 'b']]);
      expect(await list({ after: ['a', 'b'], limit: 2 })).toEqual([
        ['a', 'c', 'd'],
        ['a', 'c', 'e'],
      ]);
      expect(await list({ after: Namespace.of(tenant, 'a', 'c', 'e') })).toEqual([
        ['ab'],
        ['b', 'x'],
      ]);
      const namespaces = await store.listNamespaces(tenant, { prefix: ['b'] });
      expect(namespaces[0]?.tenantId).toBe(tenant);
      expect(namespaces[0]?.render()).toBe(Namespace.of(tenant, 'b', 'x').render());
    },
  ),

  test(
    'namespace-part-boundaries',
    'namespaces with the same characters split into parts differently are distinct',
    async ({ a }) => {
      const tenant = freshId('tenant');
      const store = a.store();
      const scopes = [
        ['x\u0001', 'y'],
        ['x', '\u0001y'],
        ['x\u0001y'],
        ['x\u0002\u0001', 'y'],
        ['x', '\u0002', '\u0001y'],
      ];
      for (const [i, scope] of scopes.entries()) {
        await store.put(Namespace.of(tenant, ...scope), 'k', i);
      }
      for (const [i, scope] of scopes.entries()) {
        const ns = Namespace.of(tenant, ...scope);
        expect((await store.get(ns, 'k'))?.value).toBe(i);
        expect(await store.list(ns)).toEqual(['k']);
      }
      const listed = (await store.listNamespaces(tenant)).map((ns) => [...ns.scope]);
      expect(listed).toHaveLength(scopes.length);
      expect(listed).toEqual(expect.arrayContaining(scopes));
    },
  ),

  test(
    'list-namespaces-prefix-edges',
    'listNamespaces prefixes stop exactly at the next part, with the lowest and highest characters',
    async ({ a }) => {
      const tenant = freshId('tenant');
      const store = a.store();
      const top = '\u{10FFFF}';
      const scopes = [
        ['a'],
        ['a', '\u0001'],
        ['a', '\u0002'],
        ['a\u0001'],
        ['a\u0001', 'x'],
        ['a\u0002'],
        ['a', 'b', 'c'],
        [`a${top}`],
        [top],
        [top, 'z'],
        ['b'],
      ];
      for (const scope of scopes) await store.put(Namespace.of(tenant, ...scope), 'k', 1);
      const list = async (options: Parameters<typeof store.listNamespaces>[1]) =>
        (await store.listNamespaces(tenant, options)).map((ns) => [...ns.scope]);
      expect(await list({ prefix: ['a'] })).toEqual([
        ['a'],
        ['a', '\u0001'],
        ['a', '\u0002'],
        ['a', 'b', 'c'],
      ]);
      expect(await list({ prefix: ['a\u0001'] })).toEqual([['a\u0001'], ['a\u0001', 'x']]);
      expect(await list({ prefix: ['a\u0002'] })).toEqual([['a\u0002']]);
      expect(await list({ prefix: [top] })).toEqual([[top], [top, 'z']]);
      expect(await list({ prefix: ['a', 'b'] })).toEqual([['a', 'b', 'c']]);
      expect(await list({ prefix: ['a'], after: ['a', '\u0001'] })).toEqual([
        ['a', '\u0002'],
        ['a', 'b', 'c'],
      ]);
      expect(await list({ prefix: ['a'], maxDepth: 1 })).toEqual([['a']]);
      // ["a", "b", "c"] sorts after the cursor, but truncated it is the cursor itself.
      expect(await list({ after: ['a', 'b'], maxDepth: 2 })).toEqual([
        ['a\u0001'],
        ['a\u0001', 'x'],
        ['a\u0002'],
        [`a${top}`],
        ['b'],
        [top],
        [top, 'z'],
      ]);
    },
  ),

  test(
    'list-namespaces-order',
    'listNamespaces orders part by part in code-point order',
    async ({ a }) => {
      const tenant = freshId('tenant');
      const store = a.store();
      const parts = ['b', 'a', 'é', '\u{1F600}', '\uFFFD', 'a:b', 'a b', 'A'];
      for (const part of parts) await store.put(Namespace.of(tenant, part), 'k', 1);
      expect((await store.listNamespaces(tenant)).map((ns) => ns.scope[0])).toEqual(
        byCodePoint(parts),
      );
    },
  ),

  test(
    'list-namespaces-live-only',
    'a namespace whose items are all deleted is not listed',
    async ({ a }) => {
      const tenant = freshId('tenant');
      const store = a.store();
      await store.put(Namespace.of(tenant, 'gone'), 'k', 1);
      await store.put(Namespace.of(tenant, 'kept'), 'k', 1);
      await store.delete(Namespace.of(tenant, 'gone'), 'k');
      expect((await store.listNamespaces(tenant)).map((ns) => ns.scope[0])).toEqual(['kept']);
    },
  ),

  test(
    'bad-arguments',
    'bad keys and options are rejected before anything is written',
    async ({ a }) => {
      const ns = freshNamespace();
      const store = a.store();
      for (const key of ['', 'a\u0000', 'x'.repeat(257), '\ud800', 7, undefined]) {
        await expectCode(store.put(ns, key as never, 1), 'INVALID_ID');
        await expectCode(store.get(ns, key as never), 'INVALID_ID');
        await expectCode(store.delete(ns, key as never), 'INVALID_ID');
      }
      for (const ttlMs of [0, -1, 1.5, Number.NaN, '100']) {
        await expectCode(store.put(ns, 'k', 1, { ttlMs } as never), 'CONFIG');
      }
      for (const limit of [0, -1, 2.5]) {
        await expectCode(store.list(ns, { limit }), 'CONFIG');
        await expectCode(store.listNamespaces(ns.tenantId, { limit }), 'CONFIG');
      }
      await expectCode(store.listNamespaces(ns.tenantId, { maxDepth: 0 }), 'CONFIG');
      await expectCode(store.listNamespaces(ns.tenantId, { prefix: 'a' as never }), 'CONFIG');
      await expectCode(store.listNamespaces(ns.tenantId, { prefix: ['a', ''] }), 'INVALID_ID');
      await expectCode(
        store.put({ tenantId: ns.tenantId, scope: [] } as never, 'k', 1),
        'INVALID_ID',
      );
      expect(await store.list(ns)).toEqual([]);
      expect(await store.listNamespaces(ns.tenantId)).toEqual([]);
    },
  ),

  test(
    'ttl-expiry',
    'an expired item is never returned, evicted or not',
    async ({ a, b, ms }) => {
      const ns = freshNamespace();
      const store = a.store();
      const ttlMs = ms(150);
      const before = Date.now();
      await store.put(ns, 'short', 1, { ttlMs });
      const after = Date.now();
      await store.put(ns, 'long', 1, { ttlMs: ms(60_000) });
      await store.put(ns, 'forever', 1);
      const live = await store.get(ns, 'short');
      expectExpiry(live, ttlMs, before, after);
      expect(await store.list(ns)).toEqual(['forever', 'long', 'short']);
      await sleep(ms(300));
      expect(await store.get(ns, 'short')).toBeUndefined();
      expect(await b.store().get(ns, 'short')).toBeUndefined();
      expect(await store.list(ns)).toEqual(['forever', 'long']);
      expect(await store.delete(ns, 'short')).toBe(false);
      await removeBeforeItExpires(store, ns, 'long');
    },
    { needs: 'ttl' },
  ),

  test(
    'ttl-renewed',
    'every put sets the TTL anew from its own time; createdAt stays',
    async ({ a, ms }) => {
      const ns = freshNamespace();
      const store = a.store();
      await store.put(ns, 'k', 1, { ttlMs: ms(60_000) });
      const first = await store.get(ns, 'k');
      await sleep(20);
      const before = Date.now();
      await store.put(ns, 'k', 2, { ttlMs: ms(30_000) });
      const after = Date.now();
      const renewed = await store.get(ns, 'k');
      expectExpiry(renewed, ms(30_000), before, after);
      expect(renewed?.createdAt.getTime()).toBe(first?.createdAt.getTime());
      expect(renewed?.updatedAt.getTime()).toBeGreaterThan(first?.updatedAt.getTime() as number);
      const [many] = await store.getMany([{ namespace: ns, key: 'k' }]);
      expect(many?.expiresAt?.getTime()).toBe(renewed?.expiresAt?.getTime());
      const [found] = await store.search(ns.tenantId, { limit: 1 });
      expect(found?.expiresAt?.getTime()).toBe(renewed?.expiresAt?.getTime());
      await removeBeforeItExpires(store, ns, 'k');
    },
    { needs: 'ttl' },
  ),

  test(
    'ttl-cleared',
    'put without ttlMs makes an expiring item permanent',
    async ({ a, ms }) => {
      const ns = freshNamespace();
      const store = a.store();
      await store.put(ns, 'k', 1, { ttlMs: ms(150) });
      await store.put(ns, 'k', 2);
      expect((await store.get(ns, 'k'))?.expiresAt).toBeNull();
      await sleep(ms(300));
      expect((await store.get(ns, 'k'))?.value).toBe(2);
    },
    { needs: 'ttl' },
  ),

  test(
    'namespaces-expired',
    'a namespace whose items have all expired is not listed',
    async ({ a, ms }) => {
      const tenant = freshId('tenant');
      const store = a.store();
      await store.put(Namespace.of(tenant, 'expiring'), 'k', 1, { ttlMs: ms(150) });
      await store.put(Namespace.of(tenant, 'kept'), 'k', 1);
      await sleep(ms(300));
      expect((await store.listNamespaces(tenant)).map((ns) => ns.scope[0])).toEqual(['kept']);
    },
    { needs: 'ttl' },
  ),

  test(
    'evict-expired',
    'evictExpired(tenant) sweeps that tenant only and counts',
    async ({ a, ms }) => {
      const mine = freshNamespace();
      const theirs = freshNamespace();
      const store = a.store();
      await store.put(mine, 'x', 1, { ttlMs: ms(150) });
      await store.put(mine, 'y', 1, { ttlMs: ms(150) });
      await store.put(mine, 'kept', 1, { ttlMs: ms(60_000) });
      await store.put(theirs, 'x', 1, { ttlMs: ms(150) });
      await sleep(ms(300));
      expect(await store.evictExpired(mine.tenantId)).toBe(2);
      expect(await store.evictExpired(mine.tenantId)).toBe(0);
      expect(await store.list(mine)).toEqual(['kept']);
      expect(await store.evictExpired(theirs.tenantId)).toBe(1);
      await removeBeforeItExpires(store, mine, 'kept');
    },
    { needs: 'ttl' },
  ),

  test(
    'evict-all-tenants',
    'evictExpired() sweeps every tenant',
    async ({ a, ms }) => {
      const one = freshNamespace();
      const two = freshNamespace();
      const store = a.store();
      await store.put(one, 'x', 1, { ttlMs: ms(150) });
      await store.put(two, 'x', 1, { ttlMs: ms(150) });
      await store.put(two, 'kept', 1);
      await sleep(ms(300));
      // Other runs sharing the storage may add their own expired items to the count.
      expect(await store.evictExpired()).toBeGreaterThanOrEqual(2);
      expect(await store.evictExpired(one.tenantId)).toBe(0);
      expect(await store.evictExpired(two.tenantId)).toBe(0);
      expect(await store.list(two)).toEqual(['kept']);
    },
    { needs: 'ttl' },
  ),

  test(
    'ttl-bound',
    'a ttlMs whose expiry cannot be represented is CONFIG and writes nothing',
    async ({ a }) => {
      const ns = freshNamespace();
      const store = a.store();
      for (const ttlMs of [MAX_TTL_MS + 1, Number.MAX_SAFE_INTEGER - 1]) {
        await expectCode(store.put(ns, 'k', 1, { ttlMs }), 'CONFIG');
      }
      expect(await store.get(ns, 'k')).toBeUndefined();
      const before = Date.now();
      await store.put(ns, 'k', 1, { ttlMs: MAX_TTL_MS });
      const after = Date.now();
      expectExpiry(await store.get(ns, 'k'), MAX_TTL_MS, before, after);
    },
    { needs: 'ttl' },
  ),
]);
