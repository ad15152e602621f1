import {
  Checkpoint,
  type JsonObject,
  type JsonValue,
  Namespace,
  type Persistence,
  ThreadKey,
} from '@entelix/core';
import { matchesMetadataFilter, matchesStoreFilter, readStoreFilter } from '@entelix/core/adapter';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { randomId } from './support.js';

// Values where a Lua filter could go wrong: numbers JavaScript prints in exponent form,
// negatives and fractions, strings whose UTF-16 order differs from code-point order,
// strings that hold the index's own separators, and nested JSON whose key order varies.
const scalar = fc.oneof(
  fc.constantFrom(0, 1, -1, 2.5, -0.5, 1e21, 1e-7, 10, 9, 100),
  fc.constantFrom(
    '',
    'a',
    'b',
    'ab',
    '\u{1F600}',
    '\uE000',
    '\uFFFF',
    'a\tb',
    'a\rb',
    '"',
    '10',
    '9',
  ),
  fc.boolean(),
  fc.constant(null),
);
const value: fc.Arbitrary<JsonValue> = fc.oneof(
  { weight: 4, arbitrary: scalar },
  { weight: 1, arbitrary: fc.array(scalar, { maxLength: 2 }) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(scalar, scalar)
      .chain(([x, y]) => fc.constantFrom<JsonValue>({ x, y }, { y, x }, { x })),
  },
);
const fieldName = fc.constantFrom('a', 'b', '"q"', 'a\tb');
const item = fc.oneof(
  { weight: 5, arbitrary: fc.dictionary(fieldName, value, { maxKeys: 3 }) },
  { weight: 1, arbitrary: value },
);
const operator = fc.constantFrom('$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin');
const condition = fc.oneof(
  value,
  fc
    .tuple(operator, value, fc.array(value, { maxLength: 3 }))
    .map(([op, operand, list]) => ({ [op]: op === '$in' || op === '$nin' ? list : operand })),
);
const storeFilter = fc.dictionary(fieldName, condition, { minKeys: 1, maxKeys: 2 });

/** Filters evaluated in Lua mean what core says they mean, on random values and filters. */
export function filterTests(open: () => Persistence): void {
  it('store search keeps exactly the items matchesStoreFilter keeps', async () => {
    const persistence = open();
    const store = persistence.store<JsonValue>();
    await fc.assert(
      fc.asyncProperty(
        fc.array(item, { minLength: 1, maxLength: 6 }),
        storeFilter,
        async (values, filter) => {
          const namespace = Namespace.of(randomId('tenant'), 'items');
          for (const [i, each] of values.entries()) await store.put(namespace, `k${i}`, each);
          const found = await store.search(namespace.tenantId, { filter, limit: 100 });
          const conditions = readStoreFilter(filter);
          const expected = values
            .map((each, i) => [`k${i}`, each] as const)
            .filter(([, each]) => matchesStoreFilter(each, conditions))
            .map(([key]) => key);
          expect(found.map((each) => each.key)).toEqual(expected);
        },
      ),
      { numRuns: 150 },
    );
  }, 60_000);

  it('checkpoint history keeps exactly the checkpoints matchesMetadataFilter keeps', async () => {
    const persistence = open();
    const checkpointer = persistence.checkpointer<number>();
    const metadata = fc.dictionary(fieldName, value, { maxKeys: 3 }) as fc.Arbitrary<JsonObject>;
    const filter = fc.dictionary(fieldName, value, {
      minKeys: 1,
      maxKeys: 2,
    }) as fc.Arbitrary<JsonObject>;
    await fc.assert(
      fc.asyncProperty(
        fc.array(metadata, { minLength: 1, maxLength: 6 }),
        filter,
        async (metas, wanted) => {
          const key = ThreadKey.of(randomId('tenant'), 'thread');
          for (const [step, each] of metas.entries()) {
            await checkpointer.put(Checkpoint.create({ key, step, state: step, metadata: each }));
          }
          const found = await checkpointer.listHistory(key, { limit: 100, filter: wanted });
          const expected = metas
            .map((each, step) => [step, each] as const)
            .filter(([, each]) => matchesMetadataFilter(each, wanted))
            .map(([step]) => step)
            .reverse();
          expect(found.map((each) => each.step)).toEqual(expected);
        },
      ),
      { numRuns: 150 },
    );
  }, 60_000);

  it('compares a lone surrogate in a top-level string as U+FFFD and every other character exactly, as the README says', async () => {
    const store = open().store<JsonValue>();
    const namespace = Namespace.of(randomId('tenant'), 'items');
    const items: [string, JsonValue][] = [
      ['high', { text: 'x\ud800', nested: { text: 'x\ud800' } }],
      ['low', { text: 'x\udfff', nested: { text: 'x\udfff' } }],
      ['replacement', { text: 'x\ufffd', nested: { text: 'x\ufffd' } }],
      ['nul', { text: 'x\u0000', nested: { text: 'x\u0000' } }],
    ];
    for (const [key, each] of items) await store.put(namespace, key, each);
    const keys = async (filter: JsonObject) =>
      (await store.search(namespace.tenantId, { filter, limit: 10 })).map((each) => each.key);
    expect(await keys({ text: 'x\udc00' })).toEqual(['high', 'low', 'replacement']);
    expect(await keys({ text: 'x\ufffd' })).toEqual(['high', 'low', 'replacement']);
    expect(await keys({ text: { $gt: 'x\ufffc' } })).toEqual(['high', 'low', 'replacement']);
    expect(await keys({ text: 'x\u0000' })).toEqual(['nul']);
    expect(await keys({ nested: { text: 'x\ud800' } })).toEqual(['high']);
    expect(await keys({ nested: { text: 'x\udc00' } })).toEqual([]);
    expect(await keys({ nested: { text: 'x\u0000' } })).toEqual(['nul']);
    // Only the comparison sees U+FFFD: what is returned is what was stored.
    expect((await store.get(namespace, 'high'))?.value).toEqual(items[0]?.[1]);
  });
}
