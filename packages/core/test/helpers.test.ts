import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Checkpoint,
  compareCodePoints,
  readListHistoryOptions,
  readListNamespacesOptions,
  readLoadSinceArguments,
  readStoreListOptions,
  readStorePutOptions,
  selectNamespaceScopes,
  ThreadKey,
} from '../src/index.js';

const key = ThreadKey.of('tenant', 'thread');

describe('Checkpoint.create', () => {
  it('returns a frozen checkpoint with a fresh id and createdAt', () => {
    const cp = Checkpoint.create({ key, step: 0, state: { a: 1 } });
    expect(cp).toMatchObject({ key, step: 0, state: { a: 1 }, nextNode: null, parentId: null });
    expect(cp.createdAt).toBeInstanceOf(Date);
    expect(Object.isFrozen(cp)).toBe(true);
    expect(Checkpoint.create({ key, step: 1, state: 1 }).id > cp.id).toBe(true);
  });

  it.each([
    ['negative step', { key, step: -1, state: 1 }, 'CONFIG'],
    ['fractional step', { key, step: 1.5, state: 1 }, 'CONFIG'],
    ['unsafe step', { key, step: 2 ** 53, state: 1 }, 'CONFIG'],
    ['empty tenant', { key: { tenantId: '', threadId: 't' }, step: 0, state: 1 }, 'INVALID_ID'],
    ['bad parent', { key, step: 0, state: 1, parentId: 'nope' }, 'INVALID_ID'],
    ['empty nextNode', { key, step: 0, state: 1, nextNode: '' }, 'INVALID_ID'],
  ])('rejects %s', (_label, input, code) => {
    expect(() => Checkpoint.create(input as never)).toThrow(expect.objectContaining({ code }));
  });

  it('validate rejects a checkpoint without a valid createdAt', () => {
    const cp = Checkpoint.create({ key, step: 0, state: 1 });
    expect(() => Checkpoint.validate({ ...cp, createdAt: 'yesterday' })).toThrow(
      expect.objectContaining({ code: 'CONFIG' }),
    );
    expect(Checkpoint.validate(cp)).toEqual(cp);
  });
});

describe('option readers', () => {
  it('require positive integer limits', () => {
    for (const limit of [0, -1, 1.5, Number.NaN, '5', null]) {
      expect(() => readListHistoryOptions({ limit })).toThrow(
        expect.objectContaining({ code: 'CONFIG' }),
      );
      expect(() => readStoreListOptions({ limit })).toThrow(
        expect.objectContaining({ code: 'CONFIG' }),
      );
      expect(() => readListNamespacesOptions({ limit })).toThrow(
        expect.objectContaining({ code: 'CONFIG' }),
      );
      expect(() => readLoadSinceArguments(0, { limit })).toThrow(
        expect.objectContaining({ code: 'CONFIG' }),
      );
    }
    expect(() => readListHistoryOptions(undefined)).toThrow(
      expect.objectContaining({ code: 'CONFIG' }),
    );
  });

  it('require non-negative integer cursors and positive TTLs', () => {
    expect(() => readLoadSinceArguments(-1, {})).toThrow(
      expect.objectContaining({ code: 'CONFIG' }),
    );
    expect(readLoadSinceArguments(0, undefined)).toMatchObject({ cursor: 0, limit: undefined });
    expect(() => readStorePutOptions({ ttlMs: 0 })).toThrow(
      expect.objectContaining({ code: 'CONFIG' }),
    );
    expect(readStorePutOptions({ ttlMs: 10 }).ttlMs).toBe(10);
  });

  it('validate prefixes and after cursors as ids', () => {
    expect(() => readStoreListOptions({ after: '' })).toThrow(
      expect.objectContaining({ code: 'INVALID_ID' }),
    );
    expect(readStoreListOptions({ prefix: '' }).prefix).toBeUndefined();
    expect(() => readListNamespacesOptions({ prefix: ['a', ''] })).toThrow(
      expect.objectContaining({ code: 'INVALID_ID' }),
    );
    expect(() => readListNamespacesOptions({ prefix: 'a' })).toThrow(
      expect.objectContaining({ code: 'CONFIG' }),
    );
  });

  it('reject options that are not objects', () => {
    expect(() => readStoreListOptions('x')).toThrow(expect.objectContaining({ code: 'CONFIG' }));
    expect(() => readStoreListOptions([])).toThrow(expect.objectContaining({ code: 'CONFIG' }));
  });
});

describe('compareCodePoints', () => {
  it('orders astral characters after U+E000-U+FFFF, unlike <', () => {
    expect('\u{1F600}' < '\uFFFF').toBe(true);
    expect(compareCodePoints('\u{1F600}', '\uFFFF')).toBeGreaterThan(0);
  });

  it('agrees with UTF-8 byte order', () => {
    const encoder = new TextEncoder();
    const byteOrder = (a: string, b: string) =>
      Buffer.compare(encoder.encode(a), encoder.encode(b));
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (a, b) => {
        expect(Math.sign(compareCodePoints(a, b))).toBe(byteOrder(a, b));
      }),
    );
  });
});

describe('selectNamespaceScopes', () => {
  const scopes = [['a'], ['a', 'b'], ['a', 'c', 'd'], ['ab'], ['b']];
  it('matches whole parts only', () => {
    expect(selectNamespaceScopes(scopes, { prefix: ['a'] })).toEqual([
      ['a'],
      ['a', 'b'],
      ['a', 'c', 'd'],
    ]);
  });
  it('truncates to maxDepth and de-duplicates', () => {
    expect(selectNamespaceScopes(scopes, { prefix: [], maxDepth: 1 })).toEqual([
      ['a'],
      ['ab'],
      ['b'],
    ]);
  });
  it('pages with after and limit', () => {
    expect(selectNamespaceScopes(scopes, { prefix: [], after: ['a', 'b'], limit: 2 })).toEqual([
      ['a', 'c', 'd'],
      ['ab'],
    ]);
  });
});
