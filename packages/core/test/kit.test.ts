import { Checkpoint, Namespace, type Persistence, ThreadKey } from '@entelix/core';
import {
  type CheckpointRow,
  createPersistence,
  type PersistenceDriver,
} from '@entelix/core/adapter';
import { describe, expect, it } from 'vitest';

const key = ThreadKey.of('tenant', 'thread');
const ns = Namespace.of('tenant', 'scope');

/**
 * A persistence over drivers that record every call and answer with canned rows, to
 * check what the kit validates, hands over and decodes.
 */
function recorded(
  rows: {
    checkpoint?: CheckpointRow;
    item?: unknown;
    threads?: unknown[];
    keys?: unknown[];
    found?: unknown[];
  } = {},
) {
  const calls: { method: string; args: unknown[] }[] = [];
  const record =
    (method: string, answer: unknown = undefined) =>
    async (...args: unknown[]): Promise<any> => {
      calls.push({ method, args });
      return typeof answer === 'function' ? (answer as () => unknown)() : answer;
    };
  const driver: PersistenceDriver = {
    backend: 'recorded',
    capabilities: { multiProcess: false, rls: false, ttl: true, fencing: true },
    checkpointer: {
      put: record('checkpointer.put'),
      getLatest: record('checkpointer.getLatest', () => rows.checkpoint),
      getById: record('checkpointer.getById', () => rows.checkpoint),
      listHistory: record('checkpointer.listHistory', []),
      fork: record('checkpointer.fork'),
      deleteThread: record('checkpointer.deleteThread', 0),
      putWrites: record('checkpointer.putWrites'),
      prune: record('checkpointer.prune', 0),
      listThreads: record('checkpointer.listThreads', () => rows.threads ?? []),
    },
    store: {
      put: record('store.put'),
      get: record('store.get', () => rows.item),
      getMany: record('store.getMany', []),
      delete: record('store.delete', false),
      list: record('store.list', () => rows.keys ?? []),
      listNamespaces: record('store.listNamespaces', []),
      search: record('store.search', () => rows.found ?? []),
      evictExpired: record('store.evictExpired', 0),
    },
    sessionLog: {
      append: record('sessionLog.append', 1),
      loadSince: record('sessionLog.loadSince', []),
      loadLatest: record('sessionLog.loadLatest', []),
      head: record('sessionLog.head', 0),
      archiveBefore: record('sessionLog.archiveBefore', 0),
      truncateAfter: record('sessionLog.truncateAfter', 0),
      deleteThread: record('sessionLog.deleteThread', 0),
      listThreads: record('sessionLog.listThreads', () => rows.threads ?? []),
    },
    lock: {
      grant: record('lock.grant', 1n),
      extend: record('lock.extend', true),
      release: record('lock.release', true),
    },
    purgeTenant: record('purgeTenant', { checkpoints: 0, writes: 0, storeItems: 0, events: 0 }),
    close: async () => undefined,
  };
  return { persistence: createPersistence(driver) as Persistence, calls };
}

function checkpointRow(
  overrides: Partial<Record<keyof CheckpointRow, unknown>> = {},
): CheckpointRow {
  const cp = Checkpoint.create({ key, step: 1, state: { a: 1 } });
  return {
    tenantId: 'tenant',
    threadId: 'thread',
    ns: '',
    id: cp.id,
    parentId: null,
    step: 1,
    nextNode: null,
    metadata: '{"source":"loop"}',
    payload: '{"schema_version":1,"state":{"a":1}}',
    createdAt: 0,
    writes: [],
    ...overrides,
  } as CheckpointRow;
}

describe('the adapter kit', () => {
  it('hands the driver validated, encoded records and the fence to check', async () => {
    const { persistence, calls } = recorded();
    const lease = (await persistence.lock.tryAcquire(key, { ttlMs: 1_000 })) ?? undefined;
    const cp = Checkpoint.create({ key, step: 0, state: { n: 1 }, metadata: { source: 'input' } });
    await persistence.checkpointer().put(cp, { fence: lease });
    const put = calls.find((call) => call.method === 'checkpointer.put');
    expect(put?.args[0]).toMatchObject({
      id: cp.id,
      ns: '',
      payload: '{"schema_version":1,"state":{"n":1}}',
      metadataJson: '{"source":"input"}',
    });
    expect(put?.args[1]).toMatchObject({ fence: { lockKey: 'tenant:thread', fence: 1n } });
    await lease?.release();
  });

  it('calls no driver for a bad call, whatever is wrong', async () => {
    const { persistence, calls } = recorded();
    const bad = [
      persistence.checkpointer().getLatest({ tenantId: '', threadId: 't' } as ThreadKey),
      persistence.checkpointer().listHistory(key, { limit: 0 }),
      persistence.checkpointer().putWrites(key, { checkpointId: 'x', taskId: 't' }, []),
      persistence.store().put(ns, 'k', Number.NaN),
      persistence.store().search('tenant', { limit: 1, filter: { a: { $nope: 1 } } as never }),
      persistence.sessionLog().append(key, [1], { signal: AbortSignal.abort() }),
      persistence.sessionLog().truncateAfter(key, -1),
      persistence.purgeTenant(''),
    ];
    for (const call of bad) await expect(call).rejects.toHaveProperty('code');
    expect(calls).toEqual([]);
  });

  it('refuses every call after close() with BACKEND, without calling the driver', async () => {
    const { persistence, calls } = recorded();
    const lease = await persistence.lock.tryAcquire(key, { ttlMs: 1_000 });
    await persistence.close();
    calls.length = 0;
    const afterClose = [
      persistence.checkpointer().getLatest(key),
      persistence.checkpointer().put(Checkpoint.create({ key, step: 0, state: 1 })),
      persistence.store().get(ns, 'k'),
      persistence.store().put(ns, 'k', 1),
      persistence.sessionLog().head(key),
      persistence.sessionLog().append(key, [1]),
      persistence.lock.tryAcquire(key, { ttlMs: 1_000 }),
      lease?.release(),
      persistence.purgeTenant('tenant'),
    ];
    for (const call of afterClose) {
      await expect(call).rejects.toMatchObject({
        code: 'BACKEND',
        message: expect.stringContaining('closed'),
      });
    }
    expect(calls).toEqual([]);
    // Bad input is still reported as such: validation comes first.
    await expect(persistence.store().put(ns, '', 1)).rejects.toMatchObject({ code: 'INVALID_ID' });
  });

  it('resolves repeats within one putWrites batch: first wins for idx >= 0, last for idx < 0', async () => {
    const { persistence, calls } = recorded();
    await persistence
      .checkpointer()
      .putWrites(
        key,
        { checkpointId: Checkpoint.create({ key, step: 0, state: 1 }).id, taskId: 't' },
        [
          { idx: 0, channel: 'a', value: 'first' },
          { idx: -1, channel: 'e', value: 'early' },
          { idx: 0, channel: 'a', value: 'second' },
          { idx: -1, channel: 'e', value: 'late' },
        ],
      );
    const writes = calls.find((call) => call.method === 'checkpointer.putWrites')?.args[2];
    expect(writes).toEqual([
      { idx: 0, channel: 'a', payload: '{"schema_version":1,"state":"first"}' },
      { idx: -1, channel: 'e', payload: '{"schema_version":1,"state":"late"}' },
    ]);
  });

  it('decodes rows: fresh values, writes sorted by (taskPath, taskId, idx)', async () => {
    const row = checkpointRow({
      writes: [
        {
          taskId: 'b',
          taskPath: '~1',
          idx: 0,
          channel: 'c',
          payload: '{"schema_version":1,"state":3}',
        },
        {
          taskId: 'a',
          taskPath: '~1',
          idx: 1,
          channel: 'c',
          payload: '{"schema_version":1,"state":2}',
        },
        {
          taskId: 'z',
          taskPath: '',
          idx: 0,
          channel: 'c',
          payload: '{"schema_version":1,"state":1}',
        },
        {
          taskId: 'a',
          taskPath: '~1',
          idx: 0,
          channel: 'c',
          payload: '{"schema_version":1,"state":1.5}',
        },
      ],
    });
    const { persistence } = recorded({ checkpoint: row });
    const read = await persistence.checkpointer<{ a: number }>().getLatest(key);
    expect(read?.pendingWrites.map((w) => w.value)).toEqual([1, 1.5, 2, 3]);
    expect(read?.metadata).toEqual({ source: 'loop' });
    expect(read?.createdAt.getTime()).toBe(0);
  });

  it.each([
    ['another tenant', { tenantId: 'other' }],
    ['another thread', { threadId: 'other' }],
    ['a malformed id', { id: 'nope' }],
    ['a negative step', { step: -1 }],
    ['metadata that is not an object', { metadata: '[1]' }],
    ['metadata that is not JSON', { metadata: '{' }],
    ['a bad timestamp', { createdAt: 'yesterday' }],
    ['a state that is not text', { payload: 42 }],
    [
      'a malformed write',
      { writes: [{ taskId: 't', taskPath: '', idx: 0.5, channel: 'c', payload: '1' }] },
    ],
  ])('refuses a row with %s as CORRUPT_RECORD', async (_label, overrides) => {
    const { persistence } = recorded({ checkpoint: checkpointRow(overrides) });
    await expect(persistence.checkpointer().getLatest(key)).rejects.toMatchObject({
      code: 'CORRUPT_RECORD',
    });
  });

  it('refuses a store row of another tenant', async () => {
    const item = {
      tenantId: 'other',
      payload: '{"schema_version":1,"state":1}',
      createdAt: 0,
      updatedAt: 0,
      expiresAt: null,
    };
    const { persistence } = recorded({ item });
    await expect(persistence.store().get(ns, 'k')).rejects.toMatchObject({
      code: 'CORRUPT_RECORD',
    });
  });

  describe('refuses a page that would skip or repeat entries on the next one', () => {
    const found = (scope: string[], key: string) => ({
      tenantId: 'tenant',
      scope,
      key,
      payload: '{"schema_version":1,"state":1}',
      createdAt: 0,
      updatedAt: 0,
      expiresAt: null,
    });

    it.each([
      ['out of order', ['b', 'a'], { limit: 5 }],
      ['repeated', ['a', 'a'], { limit: 5 }],
      ['longer than its limit', ['a', 'b', 'c'], { limit: 2 }],
      ['not after the cursor', ['b', 'c'], { limit: 5, after: 'b' }],
      // U+FFFF sorts before U+10000 by code point, after it by UTF-16 code unit.
      ['in UTF-16 order', ['\u{10000}', '\uffff'], { limit: 5 }],
    ])('thread ids %s', async (_label, threads, page) => {
      const { persistence } = recorded({ threads });
      for (const list of [
        persistence.checkpointer().listThreads('tenant', page),
        persistence.sessionLog().listThreads('tenant', page),
      ]) {
        await expect(list).rejects.toMatchObject({ code: 'CORRUPT_RECORD' });
      }
    });

    it.each([
      ['out of order', ['b', 'a'], {}],
      ['longer than its limit', ['a', 'b'], { limit: 1 }],
      ['not after the cursor', ['a', 'b'], { after: 'a' }],
      ['outside the prefix', ['pa', 'qb'], { prefix: 'p' }],
    ])('store keys %s', async (_label, keys, query) => {
      const { persistence } = recorded({ keys });
      await expect(persistence.store().list(ns, query)).rejects.toMatchObject({
        code: 'CORRUPT_RECORD',
      });
    });

    it.each([
      ['out of order', [found(['b'], 'k'), found(['a'], 'k')], { limit: 5 }],
      // A proper prefix sorts first: ['a'] before ['a', 'b'], whatever the keys.
      ['by key before namespace', [found(['a', 'b'], 'a'), found(['a'], 'z')], { limit: 5 }],
      ['longer than its limit', [found(['a'], 'k'), found(['a'], 'l')], { limit: 1 }],
      [
        'not after the cursor',
        [found(['a'], 'k')],
        { limit: 5, after: { namespace: ['a'], key: 'k' } },
      ],
      ['outside the prefix', [found(['ab'], 'k')], { limit: 5, namespacePrefix: ['a'] }],
    ])('store search items %s', async (_label, rows, query) => {
      const { persistence } = recorded({ found: rows });
      await expect(persistence.store().search('tenant', query)).rejects.toMatchObject({
        code: 'CORRUPT_RECORD',
      });
    });

    it('takes a page in order, within its limit, after its cursor', async () => {
      const { persistence } = recorded({
        threads: ['b', '\uffff', '\u{10000}'],
        keys: ['pb', 'pc'],
        found: [found(['a'], 'z'), found(['a', 'b'], 'a')],
      });
      expect(
        await persistence.checkpointer().listThreads('tenant', { limit: 3, after: 'a' }),
      ).toEqual(['b', '\uffff', '\u{10000}']);
      expect(await persistence.store().list(ns, { prefix: 'p', after: 'pa', limit: 2 })).toEqual([
        'pb',
        'pc',
      ]);
      const items = await persistence.store().search('tenant', {
        namespacePrefix: ['a'],
        limit: 2,
        after: { namespace: ['a'], key: 'y' },
      });
      expect(items.map((item) => [item.namespace.scope, item.key])).toEqual([
        [['a'], 'z'],
        [['a', 'b'], 'a'],
      ]);
    });
  });
});
