import type { Codec, JsonValue } from '@entelix/core';
import { expect } from 'vitest';
import { defineGroup, expectCode, freshKey, freshNamespace, makeCheckpoint } from '../fixtures.js';

const cyclic: Record<string, unknown> = { a: 1 };
cyclic.self = cyclic;

/** Values the strict codec must refuse: they would not read back unchanged. */
const NOT_JSON: [string, unknown][] = [
  ['NaN', { n: Number.NaN }],
  ['Infinity', [Number.POSITIVE_INFINITY]],
  ['undefined in an array', [1, undefined]],
  ['undefined at top level', undefined],
  ['BigInt', { n: 1n }],
  ['Date', { at: new Date(0) }],
  ['Map', new Map([[1, 2]])],
  ['Set', { s: new Set([1]) }],
  ['class instance', { u: new URL('https://example.com') }],
  ['cycle', cyclic],
];

const dateCodec: Codec<Date> = {
  encode: (date) => date.toISOString(),
  decode: (json: JsonValue) => new Date(json as string),
};

type Doc = { list: number[]; nested: { x: number } };

/**
 * Change everything a read returned, in place: add a key to every object and an
 * element to every array, set every `Date` to the epoch. Frozen parts stay as they are,
 * which a fresh value may be.
 */
function scribble(value: unknown): void {
  if (typeof value !== 'object' || value === null) return;
  if (value instanceof Date) {
    value.setTime(0);
    return;
  }
  for (const child of Object.values(value)) scribble(child);
  if (Array.isArray(value)) Reflect.set(value, value.length, 'scribbled');
  else Reflect.set(value, 'scribbled', true);
}

/**
 * Through one contract instance: read with each method, scribble over what it
 * returned, then read with every method again; each later read must still match.
 */
async function expectFreshReads(
  reads: readonly [string, () => Promise<unknown>][],
  expected: Record<string, unknown>,
): Promise<void> {
  for (const [scribbled, read] of reads) {
    const first = await read();
    expect(first, scribbled).toMatchObject(expected);
    scribble(first);
    for (const [name, again] of reads) {
      const later = (await again()) as Record<string, unknown>;
      for (const [field, value] of Object.entries(expected)) {
        expect(later[field], `${name}().${field} after scribbling on ${scribbled}()`).toEqual(
          value,
        );
      }
    }
  }
}

/** Payloads: strict codec, schema-version envelope, fresh copies, exact strings. */
export const payloadTests = defineGroup('payload', ({ test }) => [
  test(
    'strict-codec',
    'values that do not round-trip are SERIALIZATION and write nothing',
    async ({ a }) => {
      const key = freshKey();
      const ns = freshNamespace(key.tenantId);
      for (const [label, value] of NOT_JSON) {
        const error = await a
          .checkpointer()
          .put(makeCheckpoint(key, value))
          .catch((e: unknown) => e);
        expect(error, label).toMatchObject({ code: 'SERIALIZATION' });
        await expectCode(a.store().put(ns, 'k', value), 'SERIALIZATION');
        await expectCode(a.sessionLog().append(key, ['fine', value]), 'SERIALIZATION');
      }
      expect(await a.checkpointer().getLatest(key)).toBeUndefined();
      expect(await a.store().get(ns, 'k')).toBeUndefined();
      expect(await a.sessionLog().head(key)).toBe(0);
    },
  ),

  test(
    'exact-strings',
    'strings with NUL, lone surrogates and escapes read back exactly',
    async ({ a }) => {
      const key = freshKey();
      const ns = freshNamespace(key.tenantId);
      const value = {
        text: 'nul\u0000 lone\ud800 quote" back\\ nl\n \u2028 🦀',
        n: -1.5e-7,
        big: 2 ** 53 - 1,
      };
      await a.checkpointer().put(makeCheckpoint(key, value));
      expect((await a.checkpointer().getLatest(key))?.state).toEqual(value);
      await a.store().put(ns, 'k', value);
      expect((await a.store().get(ns, 'k'))?.value).toEqual(value);
      await a.sessionLog().append(key, [value]);
      expect((await a.sessionLog().loadSince(key, 0))[0]?.event).toEqual(value);
    },
  ),

  test(
    'fresh-copies',
    'reads return fresh values: mutating them or the input changes nothing',
    async ({ a }) => {
      const key = freshKey();
      const ns = freshNamespace(key.tenantId);
      const state = { list: [1, 2], nested: { x: 1 } };
      await a.checkpointer().put(makeCheckpoint(key, state));
      await a.store().put(ns, 'k', state);
      await a.sessionLog().append(key, [state]);
      state.list.push(99);
      state.nested.x = 99;
      const first = await a.checkpointer<typeof state>().getLatest(key);
      first?.state.list.push(3);
      const item = await a.store<typeof state>().get(ns, 'k');
      item?.value.list.push(3);
      const [event] = await a.sessionLog<typeof state>().loadSince(key, 0);
      event?.event.list.push(3);
      expect((await a.checkpointer().getLatest(key))?.state).toEqual({
        list: [1, 2],
        nested: { x: 1 },
      });
      expect((await a.store().get(ns, 'k'))?.value).toEqual({ list: [1, 2], nested: { x: 1 } });
      expect((await a.sessionLog().loadSince(key, 0))[0]?.event).toEqual({
        list: [1, 2],
        nested: { x: 1 },
      });
    },
  ),

  test(
    'fresh-reads-one-instance',
    'reads through one checkpointer, store or session log are fresh every time: mutating one read changes no later read',
    async ({ a }) => {
      const key = freshKey();
      const ns = freshNamespace(key.tenantId);
      const doc = () => ({ list: [1, 2], nested: { x: 1 } });
      const metadata = { tags: ['a'], nested: { x: 1 } };

      const checkpointer = a.checkpointer<Doc, Doc>();
      const cp = makeCheckpoint(key, doc(), { metadata });
      await checkpointer.put(cp);
      await checkpointer.putWrites(key, { checkpointId: cp.id, taskId: 't' }, [
        { idx: 0, channel: 'c', value: doc() },
      ]);
      const checkpointReads: [string, () => Promise<unknown>][] = [
        ['getLatest', () => checkpointer.getLatest(key)],
        ['getById', () => checkpointer.getById(key, cp.id)],
        ['listHistory', async () => (await checkpointer.listHistory(key, { limit: 1 }))[0]],
      ];
      const savedCheckpoint = {
        state: doc(),
        metadata,
        createdAt: cp.createdAt,
        pendingWrites: [{ taskId: 't', taskPath: '', idx: 0, channel: 'c', value: doc() }],
      };
      await expectFreshReads(checkpointReads, savedCheckpoint);

      const store = a.store<Doc>();
      await store.put(ns, 'k', doc());
      const stored = await store.get(ns, 'k');
      const storeReads: [string, () => Promise<unknown>][] = [
        ['get', () => store.get(ns, 'k')],
        ['getMany', async () => (await store.getMany([{ namespace: ns, key: 'k' }]))[0]],
        ['search', async () => (await store.search(ns.tenantId, { limit: 1 }))[0]],
      ];
      await expectFreshReads(storeReads, {
        key: 'k',
        value: doc(),
        createdAt: stored?.createdAt,
        updatedAt: stored?.updatedAt,
        expiresAt: null,
      });

      const log = a.sessionLog<Doc>();
      await log.append(key, [doc()]);
      const [appended] = await log.loadSince(key, 0);
      const eventReads: [string, () => Promise<unknown>][] = [
        ['loadSince', async () => (await log.loadSince(key, 0))[0]],
        ['loadLatest', async () => (await log.loadLatest(key, { limit: 1 }))[0]],
      ];
      await expectFreshReads(eventReads, { seq: 1, event: doc(), ts: appended?.ts });
    },
  ),

  test(
    'future-schema',
    'a payload from a newer schema version is SCHEMA_VERSION_MISMATCH',
    async ({ a }) => {
      const key = freshKey();
      const ns = freshNamespace(key.tenantId);
      const cp = makeCheckpoint(key, 'v2');
      await a.checkpointer({ schemaVersion: 2 }).put(cp);
      await a.store({ schemaVersion: 2 }).put(ns, 'k', 'v2');
      await a.sessionLog({ schemaVersion: 2 }).append(key, ['v2']);
      await expectCode(a.checkpointer().getLatest(key), 'SCHEMA_VERSION_MISMATCH');
      await expectCode(a.checkpointer().getById(key, cp.id), 'SCHEMA_VERSION_MISMATCH');
      await expectCode(a.store().get(ns, 'k'), 'SCHEMA_VERSION_MISMATCH');
      await expectCode(a.sessionLog().loadSince(key, 0), 'SCHEMA_VERSION_MISMATCH');
      // Nothing was written back: the newer reader still sees its own payloads.
      expect(
        await a.checkpointer({ schemaVersion: 2 }).listHistory(key, { limit: 5 }),
      ).toHaveLength(1);
      expect((await a.store({ schemaVersion: 2 }).get(ns, 'k'))?.value).toBe('v2');
    },
  ),

  test('upcasters', 'older payloads are lifted by registered upcasters', async ({ a }) => {
    const key = freshKey();
    const ns = freshNamespace(key.tenantId);
    await a.checkpointer().put(makeCheckpoint(key, 'old'));
    await a.store().put(ns, 'k', 'old');
    await a.sessionLog().append(key, ['old']);
    const options = {
      schemaVersion: 2,
      upcasters: { 1: (state: JsonValue) => ({ lifted: state }) },
    };
    expect((await a.checkpointer(options).getLatest(key))?.state).toEqual({ lifted: 'old' });
    expect((await a.store(options).get(ns, 'k'))?.value).toEqual({ lifted: 'old' });
    expect((await a.sessionLog(options).loadSince(key, 0))[0]?.event).toEqual({ lifted: 'old' });
  }),

  test('custom-codec', 'a custom codec encodes on write and decodes on read', async ({ a }) => {
    const key = freshKey();
    const ns = freshNamespace(key.tenantId);
    const date = new Date('2026-05-06T07:08:09.010Z');
    await a.checkpointer({ codec: dateCodec }).put(makeCheckpoint(key, date));
    const read = (await a.checkpointer({ codec: dateCodec }).getLatest(key))?.state;
    expect(read).toBeInstanceOf(Date);
    expect(read?.getTime()).toBe(date.getTime());
    await a.store({ codec: dateCodec }).put(ns, 'k', date);
    expect((await a.store({ codec: dateCodec }).get(ns, 'k'))?.value.getTime()).toBe(
      date.getTime(),
    );
    await a.sessionLog({ codec: dateCodec }).append(key, [date]);
    expect((await a.sessionLog({ codec: dateCodec }).loadSince(key, 0))[0]?.event.getTime()).toBe(
      date.getTime(),
    );
    expect((await a.checkpointer().getLatest(key))?.state).toBe(date.toISOString());
  }),
]);
