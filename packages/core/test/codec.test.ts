import { MAX_JSON_DEPTH, strictJsonCodec } from '@entelix/core';
import { assertJsonValue, readStoreFilter } from '@entelix/core/adapter';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
}

const sparse: unknown[] = [];
sparse[2] = 1;
const cyclic: Record<string, unknown> = {};
cyclic.self = cyclic;

class List extends Array<number> {}
const withToJSON = Object.assign([1], { toJSON: () => 'x' });
const hiddenToJSON = Object.defineProperty({ a: 1 }, 'toJSON', { value: () => 'x' });

const REJECTED: [string, unknown][] = [
  ['NaN', Number.NaN],
  ['Infinity', Number.POSITIVE_INFINITY],
  ['-Infinity', Number.NEGATIVE_INFINITY],
  ['-0', -0],
  ['undefined at top level', undefined],
  ['undefined inside an array', [1, undefined]],
  ['sparse array', sparse],
  ['BigInt', 1n],
  ['symbol', Symbol('s')],
  ['function', () => 1],
  ['Date', new Date(0)],
  ['Map', new Map()],
  ['Set', new Set()],
  ['class instance', new Point(1, 2)],
  ['cycle', cyclic],
  ['symbol key', { [Symbol('k')]: 1 }],
  ['nested NaN', { a: [{ b: Number.NaN }] }],
  ['an Array subclass', List.from([1])],
  ['an array with its own toJSON', withToJSON],
  ['an object with a non-enumerable toJSON', hiddenToJSON],
  ['a nested array with its own toJSON', { list: withToJSON }],
  ['a regular expression match (an array with index and input)', 'a-b'.match(/-/)],
  ['an array with a named property, nested', { list: Object.assign([1, 2], { note: 'x' }) }],
];

describe('strict JSON codec', () => {
  it.each(REJECTED)('rejects %s with SERIALIZATION', (_label, value) => {
    expect(() => strictJsonCodec().encode(value as never)).toThrow(
      expect.objectContaining({ code: 'SERIALIZATION' }),
    );
  });

  it('accepts shared (non-cyclic) references and null-prototype objects', () => {
    const shared = { a: 1 };
    expect(() => assertJsonValue({ x: shared, y: shared })).not.toThrow();
    expect(() => assertJsonValue(Object.assign(Object.create(null), { a: 1 }))).not.toThrow();
  });

  it("names an array's property that JSON would drop", () => {
    expect(() => assertJsonValue({ found: 'a-b'.match(/-/) })).toThrow(
      `value at $.found cannot be stored: the array's property "index" would not be stored, only its elements`,
    );
  });

  it('accepts values nested deeper than the quick check walks, and names a deep flaw', () => {
    const nest = (leaf: unknown, depth: number): unknown =>
      Array.from({ length: depth }).reduce<unknown>((inner) => ({ next: [inner] }), leaf);
    expect(() => assertJsonValue(nest('leaf', 200))).not.toThrow();
    const deepCycle: Record<string, unknown> = {};
    deepCycle.loop = nest(deepCycle, 100);
    expect(() => assertJsonValue(deepCycle)).toThrow(/has a cycle/);
    expect(() => assertJsonValue(nest(Number.NaN, 3))).toThrow(
      'value at $.next[0].next[0].next[0] cannot be stored: NaN is not finite',
    );
  });

  it(`accepts ${MAX_JSON_DEPTH} levels of nesting and refuses one more, however deep`, () => {
    const nest = (levels: number): unknown =>
      Array.from({ length: levels }).reduce<unknown>(
        (inner, _, level) => (level % 2 === 0 ? [inner] : { d: inner }),
        'leaf',
      );
    expect(() => assertJsonValue(nest(MAX_JSON_DEPTH))).not.toThrow();
    for (const levels of [MAX_JSON_DEPTH + 1, 1_000_000]) {
      let error: unknown;
      try {
        assertJsonValue(nest(levels));
      } catch (caught) {
        error = caught;
      }
      expect(error).toMatchObject({ code: 'SERIALIZATION' });
      const { message } = error as Error;
      expect(message).toMatch(/value at \$[[.]\S*…\S* cannot be stored/);
      expect(message).toMatch(`arrays and objects nest more than ${MAX_JSON_DEPTH} deep`);
      expect(message.length).toBeLessThan(300);
    }
  });

  it('cuts a long path between code points', () => {
    for (const offset of [0, 1]) {
      // Keys of emoji, so a cut by code unit at either end could split a surrogate pair.
      let value: unknown = Number.NaN;
      for (let level = 0; level < 80; level++) value = { [`${'x'.repeat(offset)}🦀`]: value };
      let message = '';
      try {
        assertJsonValue(value);
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toMatch(/…/);
      expect(message.isWellFormed()).toBe(true);
    }
  });

  it('a filter that is not plain JSON is CONFIG naming the part and why, with no second prefix', () => {
    expect(() => readStoreFilter({ kind: { $in: [1, Number.NaN] } })).toThrow(
      expect.objectContaining({
        code: 'CONFIG',
        message:
          '[entelix] [core] filter must be a plain JSON object: at filter.kind.$in[1], NaN is not finite',
      }),
    );
  });

  it('accepts every JSON value and keeps it unchanged', () => {
    fc.assert(
      fc.property(
        fc.jsonValue({ stringUnit: 'binary' }).map((v) => JSON.parse(JSON.stringify(v))),
        (value) => {
          const encoded = strictJsonCodec().encode(value as never);
          expect(JSON.parse(JSON.stringify(encoded))).toEqual(value);
        },
      ),
    );
  });

  it('rejects every generated value that would not round-trip', () => {
    const anything = fc.anything({
      withBigInt: true,
      withBoxedValues: true,
      withDate: true,
      withMap: true,
      withSet: true,
      withNullPrototype: true,
      withObjectString: true,
      withSparseArray: true,
      withTypedArray: true,
      withUnicodeString: true,
    });
    fc.assert(
      fc.property(anything, (value) => {
        let accepted = true;
        try {
          assertJsonValue(value);
        } catch (error) {
          expect(error).toMatchObject({ code: 'SERIALIZATION' });
          accepted = false;
        }
        // Whatever is accepted reads back exactly (object props holding undefined are dropped).
        if (accepted)
          expect(JSON.parse(JSON.stringify(value))).toStrictEqual(dropUndefinedProps(value));
      }),
      { numRuns: 2000 },
    );
  });
});

function dropUndefinedProps(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropUndefinedProps);
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = dropUndefinedProps(v);
    return out;
  }
  return value;
}
