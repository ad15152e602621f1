import {
  type CheckpointId,
  CheckpointId as CheckpointIds,
  type ErrorCode,
  type JsonObject,
  type JsonValue,
  Namespace,
  type Persistence,
  type StoreFilter,
  ThreadKey,
  withSessionLock,
} from '@entelix/core';
import {
  compareCodePoints,
  compareScopes,
  MAX_JSON_DEPTH,
  validateId,
} from '@entelix/core/adapter';
import fc from 'fast-check';
import { expect } from 'vitest';
import { defineGroup, freshId, freshKey, makeCheckpoint, settle, tenantView } from '../fixtures.js';

/** Arrays and objects nested `levels` deep, alternating, around one string. */
function nested(levels: number): JsonValue {
  let value: JsonValue = 'bottom';
  for (let level = 1; level <= levels; level++) value = level % 2 === 0 ? [value] : { d: value };
  return value;
}

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

/** Checkpoint namespaces and task paths that must be refused with INVALID_ID (`''` is legal). */
const BAD_PATHS: [string, unknown][] = [
  ['NUL', 'child\u0000'],
  ['a lone surrogate', 'child\ud800'],
  ['1025 bytes', 'x'.repeat(1025)],
  ['1026 bytes in 513 characters', 'é'.repeat(513)],
  ['a number', 7],
  ['null', null],
  ['an object', { toString: () => 'child' }],
  ['an array', ['child']],
];

/** Metadata and filters that are not plain JSON objects: CONFIG wherever one goes. */
const NOT_JSON_OBJECTS: [string, unknown][] = [
  ['an array', ['source']],
  ['a string', 'source'],
  ['a number', 1],
  ['null', null],
  ['a Date', new Date(0)],
  ['a Map', new Map([['source', 'loop']])],
  ['a class instance', new URL('https://example.com')],
  ['a Date inside', { at: new Date(0) }],
  ['NaN inside', { n: Number.NaN }],
  ['undefined inside an array', { list: [1, undefined] }],
  ['a BigInt inside', { n: 1n }],
  // JSON.stringify writes what toJSON returns: [2], where the value checked was [1].
  ['an array with its own toJSON inside', { n: Object.assign([1], { toJSON: () => [2] }) }],
  ['an Array subclass inside', { n: Uint8Array.from([1]) }],
  ['an Array subclass instance inside', { n: new (class extends Array {})() }],
  // JSON.stringify writes the elements alone: index and input would be lost.
  ['a regular expression match inside', { n: 'a-b'.match(/-/) }],
];

/** Store filters with operators that do not exist or are misused. */
const BAD_OPERATORS: [string, unknown][] = [
  ['$regex', { kind: { $regex: '^a' } }],
  ['$exists', { kind: { $exists: true } }],
  ['$where', { kind: { $where: 'this.kind' } }],
  ['$in without an array', { kind: { $in: 'a' } }],
  ['$nin without an array', { kind: { $nin: 1 } }],
  ['operators mixed with plain keys', { kind: { $eq: 'a', other: 'b' } }],
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

/** Names that a plain JavaScript object already has: an index kept in one finds them. */
const PROTOTYPE_NAMES = [
  '__proto__',
  'constructor',
  'hasOwnProperty',
  'isPrototypeOf',
  'toString',
  'valueOf',
];

type Call = [position: string, call: () => Promise<unknown>];

/**
 * Every public method, called with one hostile value in one id position, all in
 * `tenant` (or in no valid tenant at all). A position that legally takes the value (an
 * omitted option, `null` for "no parent") leaves it out.
 */
function callsWith(p: Persistence, tenant: string, bad: unknown): Call[] {
  const good = ThreadKey.of(tenant, 'thread');
  const badTenantKey = { tenantId: bad, threadId: 'thread' } as unknown as ThreadKey;
  const badThreadKey = { tenantId: tenant, threadId: bad } as unknown as ThreadKey;
  const ns = Namespace.of(tenant, 'scope');
  const badScope = { tenantId: tenant, scope: [bad] } as unknown as Namespace;
  const badTenantNs = { tenantId: bad, scope: ['scope'] } as unknown as Namespace;
  const cp = makeCheckpoint(good, 1);
  const target = { checkpointId: cp.id, taskId: 'task' };
  const write = { idx: 0, channel: 'channel', value: 1 };
  const text = bad as string;
  const optional = bad !== undefined;
  const nullable = bad !== undefined && bad !== null;
  const checkpointer = p.checkpointer();
  const store = p.store();
  const log = p.sessionLog();
  const calls: (Call | false)[] = [
    ['checkpointer.put(key.tenantId)', () => checkpointer.put({ ...cp, key: badTenantKey })],
    ['checkpointer.put(key.threadId)', () => checkpointer.put({ ...cp, key: badThreadKey })],
    ['checkpointer.put(id)', () => checkpointer.put({ ...cp, id: bad as CheckpointId })],
    nullable && [
      'checkpointer.put(parentId)',
      () => checkpointer.put({ ...cp, parentId: bad as CheckpointId }),
    ],
    nullable && ['checkpointer.put(nextNode)', () => checkpointer.put({ ...cp, nextNode: text })],
    ['checkpointer.getLatest(key.threadId)', () => checkpointer.getLatest(badThreadKey)],
    ['checkpointer.getById(key.tenantId)', () => checkpointer.getById(badTenantKey, cp.id)],
    ['checkpointer.getById(id)', () => checkpointer.getById(good, text)],
    [
      'checkpointer.listHistory(key.tenantId)',
      () => checkpointer.listHistory(badTenantKey, { limit: 1 }),
    ],
    optional && [
      'checkpointer.listHistory(before)',
      () => checkpointer.listHistory(good, { limit: 1, before: text }),
    ],
    [
      'checkpointer.updateState(key.threadId)',
      () => checkpointer.updateState(badThreadKey, cp.id, 1),
    ],
    ['checkpointer.updateState(parentId)', () => checkpointer.updateState(good, text, 1)],
    ['checkpointer.deleteThread(key.tenantId)', () => checkpointer.deleteThread(badTenantKey)],
    [
      'checkpointer.put(parentWrites.taskId)',
      () =>
        checkpointer.put(
          { ...cp, parentId: target.checkpointId },
          { parentWrites: [{ taskId: text, writes: [write] }] },
        ),
    ],
    [
      'checkpointer.putWrites(key.threadId)',
      () => checkpointer.putWrites(badThreadKey, target, [write]),
    ],
    [
      'checkpointer.putWrites(checkpointId)',
      () => checkpointer.putWrites(good, { ...target, checkpointId: text }, [write]),
    ],
    [
      'checkpointer.putWrites(taskId)',
      () => checkpointer.putWrites(good, { ...target, taskId: text }, [write]),
    ],
    ['checkpointer.prune(key.tenantId)', () => checkpointer.prune(badTenantKey, { keepLatest: 0 })],
    ['checkpointer.listThreads(tenantId)', () => checkpointer.listThreads(text, { limit: 1 })],
    optional && [
      'checkpointer.listThreads(after)',
      () => checkpointer.listThreads(tenant, { limit: 1, after: text }),
    ],
    ['store.put(namespace.tenantId)', () => store.put(badTenantNs, 'k', 1)],
    ['store.put(namespace.scope)', () => store.put(badScope, 'k', 1)],
    ['store.put(key)', () => store.put(ns, text, 1)],
    ['store.get(key)', () => store.get(ns, text)],
    [
      'store.getMany(namespace.tenantId)',
      () => store.getMany([{ namespace: badTenantNs, key: 'k' }]),
    ],
    [
      'store.getMany(key)',
      () =>
        store.getMany([
          { namespace: ns, key: 'k' },
          { namespace: ns, key: text },
        ]),
    ],
    ['store.delete(key)', () => store.delete(ns, text)],
    ['store.list(namespace.tenantId)', () => store.list(badTenantNs)],
    optional && ['store.list(after)', () => store.list(ns, { after: text })],
    ['store.listNamespaces(tenantId)', () => store.listNamespaces(text)],
    ['store.listNamespaces(prefix)', () => store.listNamespaces(tenant, { prefix: [text] })],
    ['store.search(tenantId)', () => store.search(text, { limit: 1 })],
    [
      'store.search(namespacePrefix)',
      () => store.search(tenant, { limit: 1, namespacePrefix: ['scope', text] }),
    ],
    [
      'store.search(after.key)',
      () => store.search(tenant, { limit: 1, after: { namespace: ns, key: text } }),
    ],
    // evictExpired() without a tenant legitimately sweeps every tenant.
    optional && ['store.evictExpired(tenantId)', () => store.evictExpired(text)],
    ['sessionLog.append(key.threadId)', () => log.append(badThreadKey, [1])],
    ['sessionLog.loadSince(key.tenantId)', () => log.loadSince(badTenantKey, 0)],
    ['sessionLog.loadLatest(key.threadId)', () => log.loadLatest(badThreadKey, { limit: 1 })],
    ['sessionLog.head(key.tenantId)', () => log.head(badTenantKey)],
    ['sessionLog.archiveBefore(key.threadId)', () => log.archiveBefore(badThreadKey, 1)],
    ['sessionLog.truncateAfter(key.tenantId)', () => log.truncateAfter(badTenantKey, 0)],
    ['sessionLog.deleteThread(key.threadId)', () => log.deleteThread(badThreadKey)],
    ['sessionLog.listThreads(tenantId)', () => log.listThreads(text, { limit: 1 })],
    optional && [
      'sessionLog.listThreads(after)',
      () => log.listThreads(tenant, { limit: 1, after: text }),
    ],
    ['lock.tryAcquire(key.tenantId)', () => p.lock.tryAcquire(badTenantKey, { ttlMs: 1_000 })],
    [
      'lock.acquire(key.threadId)',
      () => p.lock.acquire(badThreadKey, { ttlMs: 1_000, timeoutMs: 100 }),
    ],
    ['withSessionLock(key.tenantId)', () => withSessionLock(p.lock, badTenantKey, async () => 1)],
    ['purgeTenant(tenantId)', () => p.purgeTenant(text)],
  ];
  return calls.filter((call): call is Call => call !== false);
}

/** Every position that takes a checkpoint namespace or a task path, given `bad`. */
function callsWithPath(p: Persistence, key: ThreadKey, id: CheckpointId, bad: unknown): Call[] {
  const checkpointer = p.checkpointer();
  const ns = bad as string;
  const target = { checkpointId: id, taskId: 'task' };
  const write = [{ idx: 0, channel: 'channel', value: 'refused' }];
  return [
    ['checkpointer.put(checkpoint.ns)', () => checkpointer.put({ ...makeCheckpoint(key, 1), ns })],
    [
      'checkpointer.put(parentWrites.taskPath)',
      () =>
        checkpointer.put(makeCheckpoint(key, 1, { parentId: id }), {
          parentWrites: [{ taskId: 'task', taskPath: ns, writes: write }],
        }),
    ],
    ['checkpointer.getLatest(ns)', () => checkpointer.getLatest(key, { ns })],
    ['checkpointer.getById(ns)', () => checkpointer.getById(key, id, { ns })],
    ['checkpointer.listHistory(ns)', () => checkpointer.listHistory(key, { limit: 1, ns })],
    ['checkpointer.updateState(ns)', () => checkpointer.updateState(key, id, 1, { ns })],
    [
      'checkpointer.putWrites(target.ns)',
      () => checkpointer.putWrites(key, { ...target, ns }, write),
    ],
    [
      'checkpointer.putWrites(target.taskPath)',
      () => checkpointer.putWrites(key, { ...target, taskPath: ns }, write),
    ],
    ['checkpointer.prune(ns)', () => checkpointer.prune(key, { keepLatest: 0, ns })],
    ...callsWithChannel(p, key, id, bad),
  ];
}

/**
 * Every position of a pending write's channel, given `bad` there: a channel is checked
 * like a path (runtimes name channels after their nodes), except that it is never empty.
 */
function callsWithChannel(p: Persistence, key: ThreadKey, id: CheckpointId, bad: unknown): Call[] {
  const checkpointer = p.checkpointer();
  const good = { idx: 0, channel: 'channel', value: 'refused' };
  const writes = [good, { ...good, idx: 1, channel: bad as string }];
  return [
    [
      'checkpointer.putWrites(channel)',
      () => checkpointer.putWrites(key, { checkpointId: id, taskId: 'task' }, writes),
    ],
    [
      'checkpointer.put(parentWrites.channel)',
      () =>
        checkpointer.put(makeCheckpoint(key, 1, { parentId: id }), {
          parentWrites: [{ taskId: 'task', writes }],
        }),
    ],
  ];
}

/** Every method that takes an options object, given `options` in its place. */
function callsWithOptions(p: Persistence, key: ThreadKey, options: unknown): Call[] {
  const ns = Namespace.of(key.tenantId, 'scope');
  const cp = makeCheckpoint(key, 1);
  const o = options as never;
  const checkpointer = p.checkpointer();
  const store = p.store();
  const log = p.sessionLog();
  return [
    ['checkpointer.put', () => checkpointer.put(cp, o)],
    ['checkpointer.getLatest', () => checkpointer.getLatest(key, o)],
    ['checkpointer.getById', () => checkpointer.getById(key, cp.id, o)],
    ['checkpointer.listHistory', () => checkpointer.listHistory(key, o)],
    ['checkpointer.updateState', () => checkpointer.updateState(key, cp.id, 1, o)],
    ['checkpointer.deleteThread', () => checkpointer.deleteThread(key, o)],
    [
      'checkpointer.putWrites',
      () => checkpointer.putWrites(key, { checkpointId: cp.id, taskId: 't' }, [], o),
    ],
    ['checkpointer.prune', () => checkpointer.prune(key, o)],
    ['checkpointer.listThreads', () => checkpointer.listThreads(key.tenantId, o)],
    ['store.put', () => store.put(ns, 'k', 1, o)],
    ['store.get', () => store.get(ns, 'k', o)],
    ['store.getMany', () => store.getMany([{ namespace: ns, key: 'k' }], o)],
    ['store.delete', () => store.delete(ns, 'k', o)],
    ['store.list', () => store.list(ns, o)],
    ['store.listNamespaces', () => store.listNamespaces(key.tenantId, o)],
    ['store.search', () => store.search(key.tenantId, o)],
    ['store.evictExpired', () => store.evictExpired(key.tenantId, o)],
    ['sessionLog.append', () => log.append(key, [1], o)],
    ['sessionLog.loadSince', () => log.loadSince(key, 0, o)],
    ['sessionLog.loadLatest', () => log.loadLatest(key, o)],
    ['sessionLog.head', () => log.head(key, o)],
    ['sessionLog.archiveBefore', () => log.archiveBefore(key, 1, o)],
    ['sessionLog.truncateAfter', () => log.truncateAfter(key, 0, o)],
    ['sessionLog.deleteThread', () => log.deleteThread(key, o)],
    ['sessionLog.listThreads', () => log.listThreads(key.tenantId, o)],
    ['lock.tryAcquire', () => p.lock.tryAcquire(key, o)],
    ['lock.acquire', () => p.lock.acquire(key, o)],
    ['withSessionLock', () => withSessionLock(p.lock, key, async () => 1, o)],
    ['purgeTenant', () => p.purgeTenant(key.tenantId, o)],
  ];
}

/**
 * JSON values with any UTF-16 string (lone surrogates included); the JSON round trip
 * in `map` turns the `-0` that `fc.double` can produce into `0`, which JSON cannot tell apart.
 */
const strictJsonValues = fc
  .jsonValue({ stringUnit: 'binary' })
  .map((value) => JSON.parse(JSON.stringify(value)));

/** Hostile input: a typed error and no change, or stored and returned exactly. */
export const hostileInputTests = defineGroup('hostile-input', ({ test }) => [
  test(
    'bad-ids-table',
    'every method refuses bad ids in every id position with INVALID_ID and changes nothing',
    async ({ a, captureStorage }) => {
      for (const [label, bad] of BAD_IDS) {
        const tenant = freshId('tenant');
        const storage = await captureStorage(() => tenantView(a, tenant, ['thread']));
        for (const [position, call] of callsWith(a, tenant, bad)) {
          expect(await settle(call), `${position} with ${label}`).toMatchObject({
            code: 'INVALID_ID',
          });
        }
        await storage.expectUnchanged(`storage after ${label}`);
      }
    },
    { timeoutMs: 30_000 },
  ),

  test(
    'bad-ns-table',
    'a bad checkpoint namespace, task path or write channel is INVALID_ID in every position and changes nothing; 1024 bytes is legal, and an empty channel is not',
    async ({ a, captureStorage }) => {
      const key = freshKey();
      const cp = makeCheckpoint(key, 'kept');
      await a.checkpointer().put(cp);
      await a
        .checkpointer()
        .putWrites(key, { checkpointId: cp.id, taskId: 'task' }, [
          { idx: 0, channel: 'channel', value: 'kept' },
        ]);
      const storage = await captureStorage(() => tenantView(a, key.tenantId));
      for (const [label, bad] of BAD_PATHS) {
        for (const [position, call] of callsWithPath(a, key, cp.id, bad)) {
          expect(await settle(call), `${position} with ${label}`).toMatchObject({
            code: 'INVALID_ID',
          });
        }
      }
      for (const [position, call] of callsWithChannel(a, key, cp.id, '')) {
        expect(await settle(call), `${position} empty`).toMatchObject({ code: 'INVALID_ID' });
      }
      await storage.expectUnchanged();
      const longest = 'é'.repeat(512);
      const deep = makeCheckpoint(key, 'deep', { ns: longest });
      await a.checkpointer().put(deep);
      expect((await a.checkpointer().getLatest(key, { ns: longest }))?.id).toBe(deep.id);
      await a
        .checkpointer()
        .putWrites(key, { checkpointId: deep.id, ns: longest, taskId: 't', taskPath: longest }, [
          { idx: 0, channel: longest, value: 1 },
        ]);
      expect(
        (await a.checkpointer().getById(key, deep.id, { ns: longest }))?.pendingWrites,
      ).toEqual([{ taskId: 't', taskPath: longest, idx: 0, channel: longest, value: 1 }]);
    },
    { timeoutMs: 30_000 },
  ),

  test(
    'bad-options-table',
    'options of the wrong type are CONFIG on every method and change nothing',
    async ({ a, captureStorage }) => {
      const key = freshKey();
      const storage = await captureStorage(() => tenantView(a, key.tenantId, [key.threadId]));
      for (const options of ['string', 42, [], true]) {
        for (const [method, call] of callsWithOptions(a, key, options)) {
          expect(await settle(call), `${method}(${JSON.stringify(options)})`).toMatchObject({
            code: 'CONFIG',
          });
        }
      }
      for (const fence of [1n, 'lease', { key, fence: 1 }, { fence: 1n }]) {
        const error = await settle(() => a.sessionLog().append(key, [1], { fence } as never));
        expect(['CONFIG', 'INVALID_ID']).toContain((error as { code?: string }).code);
      }
      const child = makeCheckpoint(key, 1, { parentId: CheckpointIds.create() });
      const write = { idx: 0, channel: 'c', value: 1 };
      for (const parentWrites of [
        'writes',
        [null],
        [{ taskId: 't', writes: 'writes' }],
        [{ taskId: 't', writes: [write, { ...write, idx: 0.5 }] }],
      ]) {
        const error = await settle(() =>
          a.checkpointer().put(child, { parentWrites: parentWrites as never }),
        );
        expect(error, `parentWrites ${JSON.stringify(parentWrites)}`).toMatchObject({
          code: 'CONFIG',
        });
      }
      await storage.expectUnchanged();
      expect(await a.sessionLog().head(key)).toBe(0);
    },
    { timeoutMs: 30_000 },
  ),

  test(
    'bad-json-objects',
    'metadata and filters that are not plain JSON objects, and unknown filter operators, are CONFIG and change nothing',
    async ({ a, captureStorage }) => {
      const key = freshKey();
      const cp = makeCheckpoint(key, 'kept', { metadata: { source: 'loop' } });
      await a.checkpointer().put(cp);
      await a.store().put(Namespace.of(key.tenantId, 'docs'), 'k', { kind: 'a' });
      const storage = await captureStorage(() => tenantView(a, key.tenantId));
      for (const [label, bad] of NOT_JSON_OBJECTS) {
        const value = bad as JsonObject;
        const calls: Call[] = [
          [
            'checkpointer.put(checkpoint.metadata)',
            () => a.checkpointer().put({ ...makeCheckpoint(key, 1), metadata: value }),
          ],
          [
            'checkpointer.updateState(metadata)',
            () => a.checkpointer().updateState(key, cp.id, 1, { metadata: value }),
          ],
          [
            'checkpointer.listHistory(filter)',
            () => a.checkpointer().listHistory(key, { limit: 5, filter: value }),
          ],
          [
            'store.search(filter)',
            () => a.store().search(key.tenantId, { limit: 5, filter: value as StoreFilter }),
          ],
        ];
        for (const [position, call] of calls) {
          expect(await settle(call), `${position} with ${label}`).toMatchObject({ code: 'CONFIG' });
        }
      }
      for (const [label, filter] of BAD_OPERATORS) {
        const error = await settle(() =>
          a.store().search(key.tenantId, { limit: 5, filter: filter as StoreFilter }),
        );
        expect(error, label).toMatchObject({ code: 'CONFIG' });
      }
      await storage.expectUnchanged();
    },
  ),

  test(
    'out-of-range-values',
    'a step over 2^52, a createdAt outside the years 1 to 9999, a fence over 2^63 - 1 and a signal without listener methods are CONFIG and change nothing; the limits themselves are legal',
    async ({ a, captureStorage }) => {
      const key = freshKey();
      const cp = makeCheckpoint(key, 'kept');
      await a.checkpointer().put(cp);
      const storage = await captureStorage(() => tenantView(a, key.tenantId));
      const fence = { key, fence: 2n ** 63n };
      const calls: Call[] = [
        [
          'checkpointer.put(step)',
          () => a.checkpointer().put({ ...makeCheckpoint(key, 1), step: 2 ** 52 + 1 }),
        ],
        ...['0000-12-31T23:59:59.999Z', '+010000-01-01T00:00:00.000Z'].map(
          (iso): Call => [
            `checkpointer.put(createdAt ${iso})`,
            () => a.checkpointer().put({ ...makeCheckpoint(key, 1), createdAt: new Date(iso) }),
          ],
        ),
        ['checkpointer.put(fence)', () => a.checkpointer().put(makeCheckpoint(key, 1), { fence })],
        ['sessionLog.append(fence)', () => a.sessionLog().append(key, [1], { fence })],
        [
          'lock.tryAcquire(signal)',
          () => a.lock.tryAcquire(key, { ttlMs: 60_000, signal: { aborted: false } as never }),
        ],
      ];
      for (const [position, call] of calls) {
        expect(await settle(call), position).toMatchObject({ code: 'CONFIG' });
      }
      await storage.expectUnchanged();
      // The refused acquire granted nothing.
      const lease = await a.lock.tryAcquire(key, { ttlMs: 60_000 });
      expect(lease).toBeDefined();
      await lease?.release();

      const highest = makeCheckpoint(key, 'highest', { step: 2 ** 52, parentId: cp.id });
      await a.checkpointer().put(highest);
      await a.checkpointer().updateState(key, highest.id, 'updated');
      expect((await a.checkpointer().getLatest(key))?.step).toBe(2 ** 52 + 1);
      for (const iso of ['0001-01-01T00:00:00.000Z', '9999-12-31T23:59:59.999Z']) {
        const dated = { ...makeCheckpoint(key, iso), createdAt: new Date(iso) };
        await a.checkpointer().put(dated);
        expect((await a.checkpointer().getById(key, dated.id))?.createdAt.toISOString()).toBe(iso);
      }
    },
  ),

  test(
    'refused-writes',
    'writes refused with NOT_FOUND or CONFLICT (missing checkpoints and parents, existing ids, a wrong expectedHead) change nothing',
    async ({ a, b, captureStorage }) => {
      const key = freshKey();
      const sibling = ThreadKey.of(key.tenantId, freshId('thread'));
      const checkpointer = a.checkpointer<string>();
      const log = a.sessionLog<string>();
      const cp = makeCheckpoint(key, 'kept', { ns: 'child' });
      await checkpointer.put(cp);
      await checkpointer.putWrites(key, { checkpointId: cp.id, ns: 'child', taskId: 't' }, [
        { idx: 0, channel: 'c', value: 'kept' },
      ]);
      await log.append(key, ['kept']);
      const storage = await captureStorage(() =>
        tenantView(a, key.tenantId, [key.threadId, sibling.threadId]),
      );
      const missing = CheckpointIds.create();
      const writes = [
        { idx: 0, channel: 'c', value: 'refused' },
        { idx: -1, channel: 'e', value: 'refused' },
      ];
      const orphan = makeCheckpoint(key, 'refused', { ns: 'child', parentId: missing });
      const parentWrites = [{ taskId: 't', writes }];
      const refused: [string, () => Promise<unknown>, ErrorCode][] = [
        [
          'put with parentWrites of a missing parent',
          () => checkpointer.put(orphan, { parentWrites }),
          'NOT_FOUND',
        ],
        [
          'put with parentWrites of a parent in another namespace',
          () => checkpointer.put({ ...orphan, ns: '', parentId: cp.id }, { parentWrites }),
          'NOT_FOUND',
        ],
        [
          'put of an existing checkpoint with parentWrites of a missing parent',
          () => checkpointer.put({ ...cp, parentId: missing }, { parentWrites }),
          'NOT_FOUND',
        ],
        [
          'put with parentWrites of an existing checkpoint',
          () => checkpointer.put({ ...cp, state: 'refused', parentId: cp.id }, { parentWrites }),
          'CONFLICT',
        ],
        [
          'put with parentWrites and no parent',
          () => checkpointer.put({ ...orphan, parentId: null }, { parentWrites }),
          'CONFIG',
        ],
        [
          'putWrites to a missing checkpoint',
          () => checkpointer.putWrites(key, { checkpointId: missing, taskId: 't' }, writes),
          'NOT_FOUND',
        ],
        [
          'putWrites to the checkpoint id in another namespace',
          () => checkpointer.putWrites(key, { checkpointId: cp.id, taskId: 't' }, writes),
          'NOT_FOUND',
        ],
        [
          'putWrites to the checkpoint id on another thread',
          () =>
            b
              .checkpointer()
              .putWrites(sibling, { checkpointId: cp.id, ns: 'child', taskId: 't' }, writes),
          'NOT_FOUND',
        ],
        [
          'updateState from a missing parent',
          () => checkpointer.updateState(key, missing, 'refused', { ns: 'child' }),
          'NOT_FOUND',
        ],
        [
          'updateState from a parent in another namespace',
          () => checkpointer.updateState(key, cp.id, 'refused'),
          'NOT_FOUND',
        ],
        [
          'put of an existing checkpoint',
          () => b.checkpointer().put({ ...cp, state: 'refused' }),
          'CONFLICT',
        ],
        [
          'append behind the head',
          () => log.append(key, ['refused', 'refused'], { expectedHead: 0 }),
          'CONFLICT',
        ],
        [
          'append ahead of the head',
          () => b.sessionLog().append(key, ['refused'], { expectedHead: 2 }),
          'CONFLICT',
        ],
        [
          'append to an empty thread expecting events',
          () => log.append(sibling, ['refused'], { expectedHead: 1 }),
          'CONFLICT',
        ],
        [
          'an empty append expecting another head',
          () => log.append(key, [], { expectedHead: 5 }),
          'CONFLICT',
        ],
        [
          'listHistory before a missing checkpoint',
          () => checkpointer.listHistory(key, { limit: 1, before: missing }),
          'NOT_FOUND',
        ],
      ];
      for (const [name, call, code] of refused) {
        expect(await settle(call), name).toMatchObject({ code });
      }
      await storage.expectUnchanged();
      // Writes stored against a checkpoint that did not exist would surface once one does.
      await checkpointer.put(makeCheckpoint(key, 'later', { id: missing }));
      await checkpointer.put(makeCheckpoint(key, 'later', { id: cp.id }));
      await checkpointer.put(makeCheckpoint(sibling, 'later', { id: cp.id, ns: 'child' }));
      expect(await checkpointer.getById(key, orphan.id, { ns: 'child' })).toBeUndefined();
      expect(await checkpointer.getById(key, orphan.id)).toBeUndefined();
      expect((await checkpointer.getById(key, missing))?.pendingWrites).toEqual([]);
      expect((await checkpointer.getById(key, cp.id))?.pendingWrites).toEqual([]);
      expect((await checkpointer.getById(sibling, cp.id, { ns: 'child' }))?.pendingWrites).toEqual(
        [],
      );
    },
  ),

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
  ),

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
  ),

  test(
    'prototype-names',
    'ids named like Object.prototype members work as tenants, threads, namespaces, scope parts and keys, beside other data of the same tenant',
    async ({ a, b }) => {
      // The tenants named so are the same on every run, so nothing here assumes they
      // start empty, and nothing erases them: a run before this one may have used them.
      const shared = freshId('tenant');
      for (const name of PROTOTYPE_NAMES) {
        // Each tenant holds data before the named ids are written beside it, so a
        // backend keeping per-tenant indexes in plain objects finds the name there.
        for (const tenant of [name, shared]) {
          await a.store().put(Namespace.of(tenant, 'before'), 'before', 0);
          await a.store().put(Namespace.of(tenant, name), name, name);
          await a.store().put(Namespace.of(tenant, name, name), 'before', 0);
          const key = ThreadKey.of(tenant, name);
          const cp = makeCheckpoint(key, name, { ns: name });
          await a.checkpointer().put(makeCheckpoint(ThreadKey.of(tenant, 'before'), 0));
          await a.checkpointer().put(cp);
          await a.sessionLog().append(ThreadKey.of(tenant, 'before'), [0]);
          await a.sessionLog().append(key, [name]);
          expect((await b.checkpointer().getLatest(key, { ns: name }))?.id).toBe(cp.id);
          expect(await b.store().list(Namespace.of(tenant, name))).toEqual([name]);
          const [last] = await b.sessionLog().loadLatest(key, { limit: 1 });
          expect(last?.event).toBe(name);
        }
        const scopes = (await b.store().listNamespaces(name)).map((ns) => ns.scope);
        expect(scopes).toEqual([['before'], [name], [name, name]].sort(compareScopes));
        const threads = ['before', name].sort(compareCodePoints);
        expect(await b.checkpointer().listThreads(name, { limit: 10 })).toEqual(threads);
        expect(await b.sessionLog().listThreads(name, { limit: 10 })).toEqual(threads);
      }
      const sorted = ['before', ...PROTOTYPE_NAMES].sort(compareCodePoints);
      expect(await b.checkpointer().listThreads(shared, { limit: 20 })).toEqual(sorted);
      expect(await b.sessionLog().listThreads(shared, { limit: 20 })).toEqual(sorted);
      const sharedScopes = (await b.store().listNamespaces(shared)).map((ns) => ns.scope);
      expect(sharedScopes.filter((scope) => scope.length === 1).map(([part]) => part)).toEqual(
        sorted,
      );
    },
    { timeoutMs: 30_000 },
  ),

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
      const namespace = Namespace.of(key.tenantId, 'big');
      await a.store().put(namespace, 'k', big);
      expect((await a.store<typeof big>().get(namespace, 'k'))?.value.tail).toBe(big.tail);
      // Gone again, so that the storage snapshots of the tests after this one stay small.
      await a.checkpointer().deleteThread(key);
      await a.store().delete(namespace, 'k');
    },
    { timeoutMs: 60_000 },
  ),

  test(
    'deep-nesting',
    'values, metadata and filters nested 1,000 levels deep are stored and matched exactly; one level more, or a hundred thousand, is SERIALIZATION or CONFIG and changes nothing',
    async ({ a, captureStorage }) => {
      const key = freshKey();
      const namespace = Namespace.of(key.tenantId, 'deep');
      const deepest = nested(MAX_JSON_DEPTH);
      const cp = makeCheckpoint(key, deepest, { metadata: { deep: nested(MAX_JSON_DEPTH - 1) } });
      await a.checkpointer().put(cp);
      expect((await a.checkpointer().getLatest(key))?.state).toEqual(deepest);
      const history = await a
        .checkpointer()
        .listHistory(key, { limit: 5, filter: { deep: nested(MAX_JSON_DEPTH - 1) } });
      expect(history.map(({ id }) => id)).toEqual([cp.id]);
      await a.store().put(namespace, 'k', { field: nested(MAX_JSON_DEPTH - 1) });
      expect((await a.store().get(namespace, 'k'))?.value).toEqual({
        field: nested(MAX_JSON_DEPTH - 1),
      });
      const found = await a.store().search(key.tenantId, {
        limit: 5,
        filter: { field: nested(MAX_JSON_DEPTH - 1) } as StoreFilter,
      });
      expect(found.map((item) => item.key)).toEqual(['k']);
      await a.sessionLog().append(key, [deepest]);
      expect((await a.sessionLog().loadSince(key, 0)).map(({ event }) => event)).toEqual([deepest]);

      const storage = await captureStorage(() => tenantView(a, key.tenantId));
      for (const levels of [MAX_JSON_DEPTH + 1, 100_000]) {
        const tooDeep = nested(levels);
        const calls: [string, () => Promise<unknown>, ErrorCode][] = [
          [
            'checkpointer.put(state)',
            () => a.checkpointer().put(makeCheckpoint(key, tooDeep)),
            'SERIALIZATION',
          ],
          [
            'checkpointer.put(metadata)',
            () => a.checkpointer().put(makeCheckpoint(key, 1, { metadata: { deep: tooDeep } })),
            'CONFIG',
          ],
          [
            'checkpointer.listHistory(filter)',
            () => a.checkpointer().listHistory(key, { limit: 5, filter: { deep: tooDeep } }),
            'CONFIG',
          ],
          ['store.put(value)', () => a.store().put(namespace, 'k2', tooDeep), 'SERIALIZATION'],
          [
            'store.search(filter)',
            () =>
              a
                .store()
                .search(key.tenantId, { limit: 5, filter: { field: tooDeep } as StoreFilter }),
            'CONFIG',
          ],
          [
            'sessionLog.append(event)',
            () => a.sessionLog().append(key, [tooDeep]),
            'SERIALIZATION',
          ],
        ];
        for (const [position, call, code] of calls) {
          expect(await settle(call), `${position} nested ${levels} deep`).toMatchObject({ code });
        }
      }
      await storage.expectUnchanged();
    },
    { timeoutMs: 30_000 },
  ),

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
  ),

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
  ),
]);
