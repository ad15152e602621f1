import { type CheckpointId, Namespace, type Persistence, ThreadKey } from '@entelix/core';
import { validateId } from '@entelix/core/adapter';
import fc from 'fast-check';
import { expect } from 'vitest';
import { defineGroup, freshId, freshKey, makeCheckpoint, type SuiteContext } from '../fixtures.js';

/** Identifier values that must be refused with INVALID_ID wherever an id goes. */
const BAD_IDS: [string, unknown][] = [
  ['a number', 42],
  ['an object', { toString: () => 'x' }],
  ['an array', ['x']],
  ['null', null],
  ['undefined', undefined],
  ['empty', ''],
  ['257 bytes', 'x'.repeat(257)],
  ['NUL', 'nul\u0000'],
  ['a lone surrogate', 'half\udc00'],
];

/** Legal ids full of characters that break naive SQL, globs, escapes and objects. */
const HOSTILE_LEGAL_IDS = [
  "'; DROP TABLE checkpoints; --",
  '%_*?[]{}\\',
  'a\\:b\\\\:c',
  '__proto__',
  'constructor',
  'prototype',
  '$1 $$ ::text',
  '\t\n\r ',
  '\u0001\u0002\u0001',
  '\u{10FFFF}',
  '🦀'.repeat(64),
];

/** Every public method, called with one hostile value in one argument position. */
function callsWith(p: Persistence, bad: unknown): [string, () => Promise<unknown>][] {
  const tenant = freshId('tenant');
  const good = ThreadKey.of(tenant, 'thread');
  const badTenantKey = { tenantId: bad, threadId: 'thread' } as unknown as ThreadKey;
  const badThreadKey = { tenantId: tenant, threadId: bad } as unknown as ThreadKey;
  const ns = Namespace.of(tenant, 'scope');
  const badScope = { tenantId: tenant, scope: [bad] } as unknown as Namespace;
  return [
    [
      'checkpointer.put(key.tenantId)',
      () => p.checkpointer().put({ ...makeCheckpoint(good, 1), key: badTenantKey }),
    ],
    [
      'checkpointer.put(id)',
      () => p.checkpointer().put({ ...makeCheckpoint(good, 1), id: bad as CheckpointId }),
    ],
    ['checkpointer.getLatest(key.threadId)', () => p.checkpointer().getLatest(badThreadKey)],
    ['checkpointer.getById(id)', () => p.checkpointer().getById(good, bad as string)],
    [
      'checkpointer.updateState(parentId)',
      () => p.checkpointer().updateState(good, bad as string, 1),
    ],
    ['checkpointer.deleteThread(key.tenantId)', () => p.checkpointer().deleteThread(badTenantKey)],
    ['store.put(namespace.scope)', () => p.store().put(badScope, 'k', 1)],
    ['store.put(key)', () => p.store().put(ns, bad as string, 1)],
    ['store.get(key)', () => p.store().get(ns, bad as string)],
    ['store.delete(key)', () => p.store().delete(ns, bad as string)],
    [
      'store.list(namespace.tenantId)',
      () => p.store().list({ tenantId: bad, scope: ['s'] } as never),
    ],
    ['store.listNamespaces(tenantId)', () => p.store().listNamespaces(bad as string)],
    ['sessionLog.append(key.threadId)', () => p.sessionLog().append(badThreadKey, [1])],
    ['sessionLog.loadSince(key.tenantId)', () => p.sessionLog().loadSince(badTenantKey, 0)],
    ['sessionLog.archiveBefore(key.threadId)', () => p.sessionLog().archiveBefore(badThreadKey, 1)],
    ['lock.tryAcquire(key.tenantId)', () => p.lock.tryAcquire(badTenantKey, { ttlMs: 1_000 })],
  ];
}

/**
 * JSON values with any UTF-16 string (lone surrogates included); the JSON round trip
 * in `map` turns the `-0` that `fc.double` can produce into `0`, which JSON cannot tell apart.
 */
const strictJsonValues = fc
  .jsonValue({ stringUnit: 'binary' })
  .map((value) => JSON.parse(JSON.stringify(value)));

async function settle(call: () => Promise<unknown>): Promise<unknown> {
  return call().then(
    () => undefined,
    (error: unknown) => error,
  );
}

/** A snapshot of all storage when the target offers one, else nothing to compare. */
async function snapshot(ctx: SuiteContext): Promise<string | undefined> {
  return ctx.snapshot?.();
}

/** Hostile input: a typed error and no change, or stored and returned exactly. */
export const hostileInputTests = defineGroup('hostile-input', ({ test }) => {
  test(
    'bad-ids-table',
    'every method refuses bad ids with INVALID_ID and changes nothing',
    async (ctx) => {
      for (const [label, bad] of BAD_IDS) {
        const before = await snapshot(ctx);
        for (const [method, call] of callsWith(ctx.a, bad)) {
          // evictExpired(undefined) is legal; every call above puts the value in an id slot.
          const error = await settle(call);
          expect(error, `${method} with ${label}`).toMatchObject({ code: 'INVALID_ID' });
        }
        expect(await snapshot(ctx), `storage after ${label}`).toEqual(before);
      }
    },
    { timeoutMs: 30_000 },
  );

  test(
    'bad-options-table',
    'options of the wrong type are CONFIG and change nothing',
    async (ctx) => {
      const key = freshKey();
      const ns = Namespace.of(key.tenantId, 'scope');
      const before = await snapshot(ctx);
      for (const options of ['string', 42, [], true]) {
        const calls: [string, () => Promise<unknown>][] = [
          [
            'checkpointer.put',
            () => ctx.a.checkpointer().put(makeCheckpoint(key, 1), options as never),
          ],
          [
            'checkpointer.listHistory',
            () => ctx.a.checkpointer().listHistory(key, options as never),
          ],
          ['store.put', () => ctx.a.store().put(ns, 'k', 1, options as never)],
          ['store.list', () => ctx.a.store().list(ns, options as never)],
          [
            'store.listNamespaces',
            () => ctx.a.store().listNamespaces(key.tenantId, options as never),
          ],
          ['sessionLog.append', () => ctx.a.sessionLog().append(key, [1], options as never)],
          ['sessionLog.loadSince', () => ctx.a.sessionLog().loadSince(key, 0, options as never)],
          ['lock.tryAcquire', () => ctx.a.lock.tryAcquire(key, options as never)],
        ];
        for (const [method, call] of calls) {
          expect(await settle(call), `${method}(${JSON.stringify(options)})`).toMatchObject({
            code: 'CONFIG',
          });
        }
      }
      for (const fence of [1n, 'lease', { key, fence: 1 }, { fence: 1n }]) {
        const error = await settle(() => ctx.a.sessionLog().append(key, [1], { fence } as never));
        expect(['CONFIG', 'INVALID_ID']).toContain((error as { code?: string }).code);
      }
      expect(await snapshot(ctx)).toEqual(before);
      expect(await ctx.a.sessionLog().head(key)).toBe(0);
    },
  );

  test(
    'hostile-legal-ids',
    'legal ids with SQL, glob and escape characters round-trip exactly',
    async ({ a, b }) => {
      for (const id of HOSTILE_LEGAL_IDS) {
        const key = ThreadKey.of(`${id.slice(0, 32)}${freshId()}`, id);
        await a.checkpointer().put(makeCheckpoint(key, { id }, { nextNode: id }));
        const read = await b.checkpointer().getLatest(key);
        expect(read?.key.threadId).toBe(id);
        expect(read?.nextNode).toBe(id);
        const ns = Namespace.of(key.tenantId, id);
        await a.store().put(ns, id, id);
        expect(await b.store().list(ns)).toEqual([id]);
        expect(await b.store().list(ns, { prefix: id })).toEqual([id]);
        expect((await b.store().listNamespaces(key.tenantId)).map((n) => n.scope[0])).toEqual([id]);
        expect(await a.sessionLog().append(key, [id])).toBe(1);
      }
    },
  );

  test(
    'prototype-keys',
    'states with __proto__ and constructor keys round-trip without pollution',
    async ({ a }) => {
      const key = freshKey();
      const ns = Namespace.of(key.tenantId, 'scope');
      const state = JSON.parse(
        '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"a":1}',
      );
      await a.checkpointer().put(makeCheckpoint(key, state));
      await a.store().put(ns, '__proto__', state);
      await a.sessionLog().append(key, [state]);
      const reads = [
        (await a.checkpointer().getLatest(key))?.state,
        (await a.store().get(ns, '__proto__'))?.value,
        (await a.sessionLog().loadSince(key, 0))[0]?.event,
      ];
      for (const read of reads) {
        expect(read).toEqual(state);
        expect(Object.keys(read as object).sort()).toEqual(['__proto__', 'a', 'constructor']);
        expect(Object.getPrototypeOf(read)).toBe(Object.prototype);
      }
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    },
  );

  test(
    'large-state',
    'a 10 MB state is stored and returned exactly',
    async ({ a }) => {
      const key = freshKey();
      const big = { blob: 'x'.repeat(10 * 1024 * 1024 - 64), tail: '🦀\u0000end' };
      await a.checkpointer().put(makeCheckpoint(key, big));
      const read = await a.checkpointer<typeof big>().getLatest(key);
      expect(read?.state.blob.length).toBe(big.blob.length);
      expect(read?.state).toEqual(big);
      await a.store().put(Namespace.of(key.tenantId, 'big'), 'k', big);
      expect(
        (await a.store<typeof big>().get(Namespace.of(key.tenantId, 'big'), 'k'))?.value.tail,
      ).toBe(big.tail);
    },
    { timeoutMs: 60_000 },
  );

  test(
    'generated-ids',
    'any generated string is either INVALID_ID everywhere or a working id',
    async ({ a }) => {
      const tenant = freshId('tenant');
      await fc.assert(
        fc.asyncProperty(fc.string({ unit: 'binary', maxLength: 70 }), async (candidate) => {
          let legal = true;
          try {
            validateId(candidate, 'candidate');
          } catch {
            legal = false;
          }
          const ns = { tenantId: tenant, scope: ['generated'] } as unknown as Namespace;
          const put = await settle(() => a.store().put(ns, candidate, candidate));
          if (!legal) {
            expect(put).toMatchObject({ code: 'INVALID_ID' });
            const head = await settle(() =>
              a.sessionLog().head({ tenantId: tenant, threadId: candidate } as never),
            );
            expect(head).toMatchObject({ code: 'INVALID_ID' });
            return;
          }
          expect(put).toBeUndefined();
          expect((await a.store().get(ns, candidate))?.value).toBe(candidate);
          const key = ThreadKey.of(tenant, candidate);
          expect(await a.sessionLog().append(key, [candidate])).toBeGreaterThan(0);
          expect((await a.sessionLog().loadSince(key, 0)).at(-1)?.event).toBe(candidate);
        }),
        { numRuns: 60 },
      );
    },
    { timeoutMs: 60_000 },
  );

  test(
    'generated-payloads',
    'generated JSON payloads round-trip exactly; others are SERIALIZATION',
    async ({ a }) => {
      const key = freshKey();
      const ns = Namespace.of(key.tenantId, 'payloads');
      await fc.assert(
        fc.asyncProperty(strictJsonValues, async (value) => {
          await a.store().put(ns, 'json', value);
          expect((await a.store().get(ns, 'json'))?.value).toStrictEqual(value);
        }),
        { numRuns: 60 },
      );
      await fc.assert(
        fc.asyncProperty(
          fc.anything({ withBigInt: true, withDate: true, withMap: true, withSet: true }),
          async (value) => {
            const error = await settle(() => a.store().put(ns, 'anything', value));
            if (error === undefined) {
              const read = (await a.store().get(ns, 'anything'))?.value;
              expect(JSON.stringify(read)).toBe(JSON.stringify(value));
            } else {
              expect(error).toMatchObject({ code: 'SERIALIZATION' });
            }
          },
        ),
        { numRuns: 60 },
      );
    },
    { timeoutMs: 60_000 },
  );
});
