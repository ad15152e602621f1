import { Checkpoint, ThreadKey } from '@entelix/core';
import {
  compareCodePoints,
  jsonEquals,
  matchesMetadataFilter,
  selectNamespaceScopes,
} from '@entelix/core/adapter';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

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
    ['a bad id', { key, step: 0, state: 1, id: 'not-a-uuid' }, 'INVALID_ID'],
    ['a NUL in ns', { key, step: 0, state: 1, ns: 'a\u0000' }, 'INVALID_ID'],
    ['a 1025-byte ns', { key, step: 0, state: 1, ns: 'x'.repeat(1025) }, 'INVALID_ID'],
    ['array metadata', { key, step: 0, state: 1, metadata: [1] }, 'CONFIG'],
    ['a Date in metadata', { key, step: 0, state: 1, metadata: { at: new Date() } }, 'CONFIG'],
    ['a bad createdAt', { key, step: 0, state: 1, createdAt: new Date(Number.NaN) }, 'CONFIG'],
  ])('rejects %s', (_label, input, code) => {
    expect(() => Checkpoint.create(input as never)).toThrow(expect.objectContaining({ code }));
  });

  it('keeps a given id (lowercased), createdAt, ns and metadata', () => {
    const createdAt = new Date(0);
    const cp = Checkpoint.create({
      key,
      step: 0,
      state: 1,
      id: '1EF4F797-8335-6428-8001-8A1503F9B875',
      createdAt,
      ns: 'child',
      metadata: { source: 'loop' },
    });
    expect(cp.id).toBe('1ef4f797-8335-6428-8001-8a1503f9b875');
    expect(cp.createdAt).toBe(createdAt);
    expect(cp).toMatchObject({ ns: 'child', metadata: { source: 'loop' } });
    expect(Checkpoint.create({ key, step: 0, state: 1 })).toMatchObject({ ns: '', metadata: {} });
  });

  it('validate rejects a checkpoint without a valid createdAt', () => {
    const cp = Checkpoint.create({ key, step: 0, state: 1 });
    expect(() => Checkpoint.validate({ ...cp, createdAt: 'yesterday' })).toThrow(
      expect.objectContaining({ code: 'CONFIG' }),
    );
    expect(Checkpoint.validate(cp)).toEqual(cp);
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
    // Strings of the units around the surrogates, where the two orders part.
    const around = fc
      .array(fc.constantFrom('a', '\uD7FF', '\uE000', '\uFFFF', '\u{10000}', '\u{1F600}'), {
        maxLength: 4,
      })
      .map((parts) => parts.join(''));
    fc.assert(
      fc.property(around, around, (a, b) => {
        expect(Math.sign(compareCodePoints(a, b))).toBe(byteOrder(a, b));
      }),
      { numRuns: 2000 },
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

describe('jsonEquals and metadata filters', () => {
  it('compares JSON values structurally, objects in any key order', () => {
    expect(jsonEquals({ a: [1, { b: null }], c: 'x' }, { c: 'x', a: [1, { b: null }] })).toBe(true);
    expect(jsonEquals([1, 2], [2, 1])).toBe(false);
    expect(jsonEquals({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(jsonEquals(1, '1')).toBe(false);
    expect(jsonEquals(null, {})).toBe(false);
    expect(jsonEquals([], {})).toBe(false);
  });

  it('matches every filter key by JSON equality; an absent key matches nothing', () => {
    const metadata = { source: 'loop', step: 3, parents: { '': 'abc' } };
    expect(matchesMetadataFilter(metadata, {})).toBe(true);
    expect(matchesMetadataFilter(metadata, { source: 'loop', step: 3 })).toBe(true);
    expect(matchesMetadataFilter(metadata, { parents: { '': 'abc' } })).toBe(true);
    expect(matchesMetadataFilter(metadata, { parents: {} })).toBe(false);
    expect(matchesMetadataFilter(metadata, { missing: null })).toBe(false);
    expect(matchesMetadataFilter(metadata, { step: '3' })).toBe(false);
  });
});
