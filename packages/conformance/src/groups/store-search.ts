import { Namespace, type StoreFilter, type StoreItem } from '@entelix/core';
import { expect } from 'vitest';
import { defineGroup, expectCode, freshId, sleep } from '../fixtures.js';

type Doc =
  | { kind?: string; n?: number; tags?: string[]; meta?: { a: number; b?: number } }
  | string;

const names = (items: StoreItem<unknown>[]) =>
  items.map((item) => `${item.namespace.scope.join('/')}#${item.key}`);

/** Store `search` (values, whole-segment prefixes, filters, keyset paging) and `getMany`. */
export const storeSearchTests = defineGroup('store-search', ({ test }) => [
  test(
    'prefix-order-paging',
    'search returns live items with values under a whole-segment prefix, by (namespace, key), in pages',
    async ({ a, b }) => {
      const tenant = freshId('tenant');
      const store = a.store<Doc>();
      const items: [string[], string][] = [
        [['users', 'u2'], 'b'],
        [['users', 'u1'], 'z'],
        [['users', 'u1'], 'a'],
        [['users'], 'root'],
        [['users', 'u1', 'deep'], 'k'],
        [['usersx'], 'no'],
        [['orgs', 'o1'], 'o'],
      ];
      for (const [scope, key] of items) {
        await store.put(Namespace.of(tenant, ...scope), key, { kind: scope.join('/') });
      }
      const reader = b.store<Doc>();
      const users = await reader.search(tenant, { namespacePrefix: ['users'], limit: 100 });
      expect(names(users)).toEqual([
        'users#root',
        'users/u1#a',
        'users/u1#z',
        'users/u1/deep#k',
        'users/u2#b',
      ]);
      expect(users[1]?.value).toEqual({ kind: 'users/u1' });
      expect(users[1]?.createdAt).toBeInstanceOf(Date);
      const all = await reader.search(tenant, { limit: 100 });
      expect(names(all)).toEqual(['orgs/o1#o', ...names(users), 'usersx#no']);
      const pages: string[] = [];
      let after: { namespace: Namespace; key: string } | undefined;
      for (;;) {
        const page = await reader.search(tenant, {
          namespacePrefix: ['users'],
          limit: 2,
          ...(after ? { after } : {}),
        });
        pages.push(...names(page));
        if (page.length < 2) break;
        const last = page[page.length - 1] as StoreItem<Doc>;
        after = { namespace: last.namespace, key: last.key };
      }
      expect(pages).toEqual(names(users));
      const fromScope = await reader.search(tenant, {
        limit: 2,
        after: { namespace: ['users', 'u1'], key: 'a' },
      });
      expect(names(fromScope)).toEqual(['users/u1#z', 'users/u1/deep#k']);
      expect(await reader.search(tenant, { namespacePrefix: ['nothing'], limit: 5 })).toEqual([]);
    },
  ),

  test(
    'filters',
    'filters on top-level fields: equality, $eq $ne $gt $gte $lt $lte $in $nin, applied before the limit',
    async ({ a }) => {
      const tenant = freshId('tenant');
      const ns = Namespace.of(tenant, 'docs');
      const store = a.store<Doc>();
      const docs: [string, Doc][] = [
        ['a', { kind: 'note', n: 1, tags: ['x'] }],
        ['b', { kind: 'note', n: 5, meta: { a: 1, b: 2 } }],
        ['c', { kind: 'task', n: 10 }],
        ['d', { kind: 'task', n: 2.5, tags: ['x', 'y'] }],
        ['e', { n: 7 }],
        ['f', 'not an object'],
        ['g', { kind: 'Note', n: -1 }],
        ['h', { kind: 'note', n: '5' } as unknown as Doc],
      ];
      for (const [key, value] of docs) await store.put(ns, key, value);
      const keys = async (filter: StoreFilter, limit = 100) =>
        (await store.search(tenant, { filter, limit })).map((item) => item.key);
      expect(await keys({ kind: 'note' })).toEqual(['a', 'b', 'h']);
      expect(await keys({ kind: 'note' }, 2)).toEqual(['a', 'b']);
      expect(await keys({ kind: { $eq: 'task' } })).toEqual(['c', 'd']);
      expect(await keys({ kind: { $ne: 'note' } })).toEqual(['c', 'd', 'e', 'f', 'g']);
      expect(await keys({ n: { $gt: 2.5 } })).toEqual(['b', 'c', 'e']);
      expect(await keys({ n: { $gte: 2.5, $lt: 10 } })).toEqual(['b', 'd', 'e']);
      expect(await keys({ n: { $lte: 1 } })).toEqual(['a', 'g']);
      expect(await keys({ kind: { $gt: 'note' } })).toEqual(['c', 'd']);
      expect(await keys({ kind: { $lt: 'note' } })).toEqual(['g']);
      expect(await keys({ kind: { $in: ['task', 'Note'] } })).toEqual(['c', 'd', 'g']);
      expect(await keys({ kind: { $nin: ['task', 'note'] } })).toEqual(['e', 'f', 'g']);
      expect(await keys({ tags: ['x'] })).toEqual(['a']);
      expect(await keys({ meta: { b: 2, a: 1 } })).toEqual(['b']);
      expect(await keys({ n: 5 })).toEqual(['b']);
      expect(await keys({ n: '5' })).toEqual(['h']);
      expect(await keys({ kind: 'note', n: { $gt: 1 } })).toEqual(['b']);
      expect(await keys({ missing: null })).toEqual([]);
      expect(await keys({})).toHaveLength(8);
    },
  ),

  test(
    'null-operands',
    'a null operand is the JSON null: $ne null skips a null field and keeps an absent one',
    async ({ a }) => {
      const tenant = freshId('tenant');
      const ns = Namespace.of(tenant, 'nulls');
      const store = a.store<unknown>();
      const values: [string, unknown][] = [
        ['absent', {}],
        ['null', { field: null }],
        ['number', { field: 1 }],
        ['scalar', 'not an object'],
      ];
      for (const [key, value] of values) await store.put(ns, key, value);
      const keys = async (filter: StoreFilter) =>
        (await store.search(tenant, { filter, limit: 10 })).map((item) => item.key);
      expect(await keys({ field: null })).toEqual(['null']);
      expect(await keys({ field: { $eq: null } })).toEqual(['null']);
      expect(await keys({ field: { $ne: null } })).toEqual(['absent', 'number', 'scalar']);
      // Beside a second condition.
      expect(await keys({ field: { $ne: null }, other: { $ne: 1 } })).toEqual([
        'absent',
        'number',
        'scalar',
      ]);
      expect(await keys({ field: { $in: [null, 2] } })).toEqual(['null']);
      expect(await keys({ field: { $nin: [null] } })).toEqual(['absent', 'number', 'scalar']);
      expect(await keys({ field: { $gte: null } })).toEqual([]);
    },
  ),

  test(
    'bad-filters',
    'unknown operators, non-array $in and filters that are not plain JSON objects are CONFIG',
    async ({ a }) => {
      const tenant = freshId('tenant');
      const store = a.store();
      const bad: unknown[] = [
        { kind: { $regex: 'x' } },
        { kind: { $in: 'x' } },
        { kind: { $eq: 1, plain: 2 } },
        ['kind'],
        'kind',
        { n: Number.NaN },
        new Map(),
      ];
      for (const filter of bad) {
        await expectCode(
          store.search(tenant, { filter: filter as StoreFilter, limit: 5 }),
          'CONFIG',
        );
      }
      for (const limit of [0, -1, 1.5, undefined]) {
        await expectCode(store.search(tenant, { limit: limit as never }), 'CONFIG');
      }
      await expectCode(store.search(tenant, { limit: 1, namespacePrefix: [''] }), 'INVALID_ID');
      await expectCode(store.search('', { limit: 1 }), 'INVALID_ID');
    },
  ),

  test(
    'expired-excluded',
    'search never returns an expired item, evicted or not',
    async ({ a, ms }) => {
      const tenant = freshId('tenant');
      const ns = Namespace.of(tenant, 'tmp');
      await a.store().put(ns, 'short', { kind: 'x' }, { ttlMs: ms(100) });
      await a.store().put(ns, 'long', { kind: 'x' });
      expect((await a.store().search(tenant, { limit: 5 })).map((item) => item.key)).toEqual([
        'long',
        'short',
      ]);
      await sleep(ms(200));
      expect(
        (await a.store().search(tenant, { limit: 5, filter: { kind: 'x' } })).map((i) => i.key),
      ).toEqual(['long']);
      expect((await a.store().search(tenant, { limit: 1 })).map((item) => item.key)).toEqual([
        'long',
      ]);
    },
    { needs: 'ttl' },
  ),

  test(
    'get-many',
    'getMany returns one result per request, in order, undefined for absent or expired items',
    async ({ a, b, ms, capabilities }) => {
      const tenant = freshId('tenant');
      const ns1 = Namespace.of(tenant, 'one');
      const ns2 = Namespace.of(tenant, 'two', 'deep');
      await a.store().put(ns1, 'x', { n: 1 });
      await a.store().put(ns2, 'y', { n: 2 });
      if (capabilities.ttl) await a.store().put(ns1, 'soon', { n: 3 }, { ttlMs: ms(50) });
      const results = await b.store<{ n: number }>().getMany([
        { namespace: ns2, key: 'y' },
        { namespace: ns1, key: 'missing' },
        { namespace: ns1, key: 'x' },
        { namespace: ns2, key: 'y' },
      ]);
      expect(results.map((item) => item?.value.n)).toEqual([2, undefined, 1, 2]);
      expect(results[0]?.namespace.scope).toEqual(['two', 'deep']);
      expect(results[2]?.key).toBe('x');
      expect(await a.store().getMany([])).toEqual([]);
      if (capabilities.ttl) {
        await sleep(ms(120));
        expect(await a.store().getMany([{ namespace: ns1, key: 'soon' }])).toEqual([undefined]);
      }
      await expectCode(
        a.store().getMany([
          { namespace: ns1, key: 'x' },
          { namespace: Namespace.of(freshId('tenant'), 'one'), key: 'x' },
        ]),
        'CONFIG',
      );
      await expectCode(a.store().getMany([{ namespace: ns1, key: '' }]), 'INVALID_ID');
      await expectCode(a.store().getMany('x' as never), 'CONFIG');
    },
  ),
]);
