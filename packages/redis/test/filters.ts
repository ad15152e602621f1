import {
  Checkpoint,
  type JsonObject,
  type JsonValue,
  Namespace,
  type Persistence,
  ThreadKey,
} from '@entelix/core';
import { matchesMetadataFilter, matchesStoreFilter, readStoreFilter } from '@entelix/core/adapter';
import type { RedisClient } from '@entelix/redis';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { encodeStoreKey, KeyLayout } from '../src/keys.js';
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
    // Either side of the bytes the field index escapes (below 0x10), and its escape byte.
    'a\u0000',
    'a\u000f',
    'a\u000fz',
    'a\u0010',
    '\u0001',
    '0',
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

/** What a filter test opens: a bundle, the client under it and its key prefix. */
export interface FilterSetup {
  readonly persistence: Persistence;
  readonly client: RedisClient;
  readonly keyPrefix: string;
}

/** Filters evaluated in Lua mean what core says they mean, on random values and filters. */
export function filterTests(setup: () => FilterSetup): void {
  const open = () => setup().persistence;

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
          const expected = keysMeeting(
            values.map((each, i) => [`k${i}`, each]),
            filter,
          );
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

  it('filters the items written by 0.1.0, whose field index holds strings as hex, beside newer ones', async () => {
    const { persistence, client, keyPrefix } = setup();
    const store = persistence.store<JsonValue>();
    const layout = new KeyLayout(keyPrefix);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(item, fc.boolean()), { minLength: 1, maxLength: 6 }),
        storeFilter,
        async (values, filter) => {
          const namespace = Namespace.of(randomId('tenant'), 'items');
          for (const [i, [each, released]] of values.entries()) {
            await store.put(namespace, `k${i}`, each);
            if (released) await rewriteAsReleased(client, layout, namespace, `k${i}`);
          }
          const found = await store.search(namespace.tenantId, { filter, limit: 100 });
          const expected = keysMeeting(
            values.map(([each], i) => [`k${i}`, each]),
            filter,
          );
          expect(found.map((each) => each.key)).toEqual(expected);
        },
      ),
      { numRuns: 150 },
    );
  }, 60_000);

  it('compares every pair of strings by code point, across the escaped bytes, in items of either release', async () => {
    const { persistence, client, keyPrefix } = setup();
    const store = persistence.store<JsonValue>();
    const layout = new KeyLayout(keyPrefix);
    const strings = [
      '',
      '\u0001',
      '0',
      'a',
      'a\u0000',
      'a\u0000b',
      'a\tb',
      'a\u000f',
      'a\u000fz',
      'a\u0010',
      'ab',
      '\uE000',
      '\uFFFF',
      '\u{1F600}',
      'x\ud800',
    ];
    const namespace = Namespace.of(randomId('tenant'), 'strings');
    const keyOf = (i: number) => `k${String(i).padStart(2, '0')}`;
    // Every string twice: once as this release writes it, once as 0.1.0 did.
    const items = strings.flatMap((text) => [{ text }, { text }]);
    for (const [i, each] of items.entries()) {
      await store.put(namespace, keyOf(i), each);
      if (i % 2 === 1)
        expect(await rewriteAsReleased(client, layout, namespace, keyOf(i))).toBe(true);
    }
    const filters = strings.flatMap((operand): JsonObject[] => [
      ...['$eq', '$ne', '$gt', '$gte', '$lt', '$lte'].map((op) => ({ text: { [op]: operand } })),
      { text: { $in: [operand, 'a', 1] } },
      { text: { $nin: [operand, '0'] } },
    ]);
    for (const filter of filters) {
      const expected = keysMeeting(
        items.map((each, i) => [keyOf(i), each]),
        filter,
      );
      const found = await store.search(namespace.tenantId, { filter, limit: 100 });
      expect([filter, found.map((each) => each.key)]).toEqual([filter, expected]);
    }
  });

  it('keeps a long string field once in the field index, beside the value', async () => {
    const { persistence, client, keyPrefix } = setup();
    const namespace = Namespace.of(randomId('tenant'), 'documents');
    const text = 'x'.repeat(1_000_000);
    await persistence.store().put(namespace, 'long', { text });
    const itemKey = new KeyLayout(keyPrefix).storeItem(namespace, encodeStoreKey('long'));
    const recordLength = (await client.get(itemKey))?.length ?? 0;
    expect(recordLength).toBeGreaterThan(2 * text.length);
    expect(recordLength).toBeLessThan(2 * text.length + 1_000);
    const found = await persistence.store().search(namespace.tenantId, {
      filter: { text: { $gte: text } },
      limit: 1,
    });
    expect(found.map((each) => each.key)).toEqual(['long']);
  });
}

// The field index's escape byte, 0x0F, and the byte it stands for plus 0x30.
const ESCAPED_BYTE = new RegExp(`${String.fromCharCode(0x0f)}(.)`, 'gs');

/**
 * A record as 0.1.0 wrote it: each string field of the index as `s` and the hex of its
 * UTF-8 (0.1.0 made lone surrogates U+FFFD by the same UTF-8 encoding).
 */
function asReleasedRecord(record: string): string {
  const [header, index, ...payload] = record.split('\t');
  const entries = (index ?? '').split('\r').map((entry) => {
    const string = /^("(?:[^"\\]|\\.)*")t(.*)$/s.exec(entry);
    if (string === null) return entry;
    const text = (string[2] ?? '').replaceAll(ESCAPED_BYTE, (_, escaped: string) =>
      String.fromCharCode(escaped.charCodeAt(0) - 0x30),
    );
    return `${string[1]}s${Buffer.from(text, 'utf8').toString('hex')}`;
  });
  return [header, entries.join('\r'), ...payload].join('\t');
}

/** The keys of `items` whose value meets `filter`, in order: what a search returns. */
function keysMeeting(items: readonly (readonly [string, JsonValue])[], filter: JsonObject) {
  const conditions = readStoreFilter(filter);
  return items.filter(([, value]) => matchesStoreFilter(value, conditions)).map(([key]) => key);
}

/**
 * Rewrite the record of item `key` as 0.1.0 wrote it (see {@link asReleasedRecord}); true
 * when that changed it, that is when the item has a string field.
 */
async function rewriteAsReleased(
  client: RedisClient,
  layout: KeyLayout,
  namespace: Namespace,
  key: string,
): Promise<boolean> {
  const itemKey = layout.storeItem(namespace, encodeStoreKey(key));
  const record = await client.get(itemKey);
  if (record === null) throw new Error(`no record at ${itemKey}`);
  const released = asReleasedRecord(record);
  await client.set(itemKey, released);
  return released !== record;
}
