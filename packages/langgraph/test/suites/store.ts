import { MAX_TTL_MS, Namespace, type Persistence } from '@entelix/core';
import { createMemoryDatabase, createMemoryPersistence } from '@entelix/memory';
import type { LangGraphRunnableConfig } from '@langchain/langgraph';
import { Annotation, START, StateGraph } from '@langchain/langgraph';
import { describe, expect, it } from 'vitest';
import { type Lane, openLane, randomId } from '../../../../test-support/lanes.js';
import { createEntelixSaver, createEntelixStore } from '../../src/index.js';
import { instrument } from '../instrument.js';

export function storeTests(lane: Lane): void {
  const opened = openLane(lane);

  function counted(pageSize = 100) {
    const { persistence: wrapped, log } = instrument(opened.persistence);
    const tenantId = randomId('tenant');
    return { store: createEntelixStore(wrapped, { tenantId, pageSize }), log, tenantId };
  }

  it('put, get, search, listNamespaces and delete', async () => {
    const { store, tenantId } = counted();
    await store.put(['users', 'u1'], 'profile', { name: 'Ada', age: 36 });
    await store.put(['users', 'u2'], 'profile', { name: 'Grace', age: 45 });
    await store.put(['users', 'u1', 'notes'], 'n1', { text: 'likes tea' });
    const first = await store.get(['users', 'u1'], 'profile');
    expect(first).toMatchObject({
      namespace: ['users', 'u1'],
      key: 'profile',
      value: { name: 'Ada', age: 36 },
    });
    await store.put(['users', 'u1'], 'profile', { name: 'Ada', age: 37 });
    const second = await store.get(['users', 'u1'], 'profile');
    expect(second?.createdAt).toEqual(first?.createdAt);
    expect(second?.updatedAt.getTime()).toBeGreaterThanOrEqual(
      first?.updatedAt.getTime() as number,
    );

    expect(
      (await store.search(['users'], { filter: { age: { $gt: 40 } } })).map((i) => i.value),
    ).toEqual([{ name: 'Grace', age: 45 }]);
    expect((await store.search(['users', 'u1'])).map((i) => [i.namespace, i.key, i.score])).toEqual(
      [
        [['users', 'u1'], 'profile', undefined],
        [['users', 'u1', 'notes'], 'n1', undefined],
      ],
    );
    expect(await store.search([], { limit: 1, offset: 1 })).toMatchObject([
      { key: 'n1', namespace: ['users', 'u1', 'notes'] },
    ]);

    expect(await store.listNamespaces()).toEqual([
      ['users', 'u1'],
      ['users', 'u1', 'notes'],
      ['users', 'u2'],
    ]);
    expect(await store.listNamespaces({ maxDepth: 2 })).toEqual([
      ['users', 'u1'],
      ['users', 'u2'],
    ]);
    expect(await store.listNamespaces({ suffix: ['notes'] })).toEqual([['users', 'u1', 'notes']]);
    expect(await store.listNamespaces({ prefix: ['users', '*', 'notes'] })).toEqual([
      ['users', 'u1', 'notes'],
    ]);
    expect(await store.listNamespaces({ prefix: ['*', 'u2'] })).toEqual([['users', 'u2']]);

    await store.delete(['users', 'u1', 'notes'], 'n1');
    expect(await store.get(['users', 'u1', 'notes'], 'n1')).toBeNull();
    expect(await store.listNamespaces({ prefix: ['users'] })).toEqual([
      ['users', 'u1'],
      ['users', 'u2'],
    ]);

    // Everything is an Entelix item of the tenant, readable as JSON.
    const raw = await opened.persistence
      .store()
      .get(Namespace.of(tenantId, 'users', 'u2'), 'profile');
    expect(raw?.value).toEqual({ name: 'Grace', age: 45 });
  });

  it('two tenants with the same namespaces never see each other', async () => {
    const acme = createEntelixStore(opened.persistence, { tenantId: randomId('acme') });
    const globex = createEntelixStore(opened.persistence, { tenantId: randomId('globex') });
    await acme.put(['memories'], 'm', { who: 'acme' });
    await globex.put(['memories'], 'm', { who: 'globex' });
    expect((await acme.get(['memories'], 'm'))?.value).toEqual({ who: 'acme' });
    expect((await globex.search(['memories'])).map((i) => i.value)).toEqual([{ who: 'globex' }]);
    await acme.delete(['memories'], 'm');
    expect(await acme.listNamespaces()).toEqual([]);
    expect(await globex.listNamespaces()).toEqual([['memories']]);
  });

  describe('cost', () => {
    it('a batch reads every get with one getMany and runs each search and listing once', async () => {
      const { store, log } = counted();
      for (let i = 0; i < 5; i++) await store.put(['ns', `p${i}`], 'k', { i });
      log.reset();
      const results = await store.batch([
        ...Array.from({ length: 5 }, (_, i) => ({ namespace: ['ns', `p${i}`], key: 'k' })),
        { namespace: ['ns', 'missing'], key: 'k' },
        { namespacePrefix: ['ns'], filter: { i: { $gte: 3 } }, limit: 10, offset: 0 },
        {
          matchConditions: [{ matchType: 'prefix' as const, path: ['ns'] }],
          maxDepth: 2,
          limit: 10,
          offset: 0,
        },
      ]);
      expect(
        results.slice(0, 6).map((item) => (item as { value?: unknown } | null)?.value ?? null),
      ).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }, { i: 3 }, { i: 4 }, null]);
      expect((results[6] as unknown as { value: unknown }[]).map((item) => item.value)).toEqual([
        { i: 3 },
        { i: 4 },
      ]);
      expect((results[7] as unknown as string[][]).length).toBe(5);
      expect(log.counts).toEqual(
        new Map([
          ['store.getMany', 1],
          ['store.search', 1],
          ['store.listNamespaces', 1],
        ]),
      );
    });

    it('puts and deletes are one call each, the last write to a key winning', async () => {
      const { store, log } = counted();
      await store.batch([
        { namespace: ['ns'], key: 'a', value: { v: 1 } },
        { namespace: ['ns'], key: 'a', value: { v: 2 } },
        { namespace: ['ns'], key: 'b', value: { v: 3 } },
        { namespace: ['ns'], key: 'b', value: null },
      ]);
      expect(log.calls.sort()).toEqual(['store.delete', 'store.put']);
      expect((await store.get(['ns'], 'a'))?.value).toEqual({ v: 2 });
      expect(await store.get(['ns'], 'b')).toBeNull();
    });

    it('a suffix or wildcard listing reads the literal prefix in pages and matches here', async () => {
      const { store, log } = counted(2);
      for (const part of ['a', 'b', 'c', 'd', 'e'])
        await store.put(['docs', part, 'v1'], 'k', { part });
      await store.put(['other', 'x', 'v1'], 'k', {});
      log.reset();
      expect(
        await store.listNamespaces({ prefix: ['docs'], suffix: ['v1'], limit: 10 }),
      ).toHaveLength(5);
      // Five namespaces under ['docs'] in pages of two: 2 + 2 + 1.
      expect(log.calls).toEqual(Array(3).fill('store.listNamespaces'));
      log.reset();
      expect(await store.listNamespaces({ suffix: ['v1'], limit: 2 })).toEqual([
        ['docs', 'a', 'v1'],
        ['docs', 'b', 'v1'],
      ]);
      expect(log.calls).toEqual(['store.listNamespaces']);
    });
  });

  it('ttlMs makes every item expire after its last put', async () => {
    let nowMs = Date.now();
    const clocked = createMemoryPersistence({
      database: createMemoryDatabase(),
      clock: () => nowMs,
    });
    const store = createEntelixStore(clocked, { tenantId: randomId('tenant'), ttlMs: 1_000 });
    await store.put(['ns'], 'k', { v: 1 });
    nowMs += 999;
    expect(await store.get(['ns'], 'k')).not.toBeNull();
    nowMs += 2;
    expect(await store.get(['ns'], 'k')).toBeNull();
    expect(await store.search(['ns'])).toEqual([]);
  });

  it('one compiled graph, a store per invocation: each tenant writes its own memories', async () => {
    const State = Annotation.Root({ who: Annotation<string> });
    const graph = new StateGraph(State)
      .addNode('remember', async (state, config: LangGraphRunnableConfig) => {
        const seen = await config.store?.get(['memories'], 'visits');
        const visits = ((seen?.value.visits as number | undefined) ?? 0) + 1;
        await config.store?.put(['memories'], 'visits', { visits, who: state.who });
        return {};
      })
      .addEdge(START, 'remember')
      .compile({ checkpointer: createEntelixSaver(opened.persistence) });
    const acme = randomId('acme');
    const globex = randomId('globex');
    const invoke = (tenantId: string) =>
      graph.invoke(
        { who: tenantId },
        {
          configurable: { tenant_id: tenantId, thread_id: randomId('thread') },
          store: createEntelixStore(opened.persistence, { tenantId }),
        },
      );
    await invoke(acme);
    await invoke(acme);
    await invoke(globex);
    const read = (tenantId: string) =>
      createEntelixStore(opened.persistence, { tenantId }).get(['memories'], 'visits');
    expect((await read(acme))?.value).toEqual({ visits: 2, who: acme });
    expect((await read(globex))?.value).toEqual({ visits: 1, who: globex });
  });

  describe('bad input: a typed error, and nothing of the batch written', () => {
    const cases: [string, object, string][] = [
      [
        'a semantic search query',
        { namespacePrefix: ['ns'], query: 'what does Ada like?', limit: 10, offset: 0 },
        'CONFIG',
      ],
      [
        'a put into the empty namespace',
        { namespace: [], key: 'k', value: { v: 1 } },
        'INVALID_ID',
      ],
      [
        'a namespace label with a period',
        { namespace: ['a.b'], key: 'k', value: { v: 1 } },
        'INVALID_ID',
      ],
      [
        'a namespace label that is empty',
        { namespace: ['a', ''], key: 'k', value: { v: 1 } },
        'INVALID_ID',
      ],
      [
        'a namespace that is not an array',
        { namespace: 'ns', key: 'k', value: { v: 1 } },
        'INVALID_ID',
      ],
      ['an empty key', { namespace: ['ns'], key: '', value: { v: 1 } }, 'INVALID_ID'],
      ['a value that is an array', { namespace: ['ns'], key: 'k', value: [1, 2] }, 'CONFIG'],
      [
        'a value that is not JSON',
        { namespace: ['ns'], key: 'k', value: { at: new Date() } },
        'SERIALIZATION',
      ],
      ['a negative search limit', { namespacePrefix: ['ns'], limit: -1, offset: 0 }, 'CONFIG'],
      [
        'an unknown filter operator',
        { namespacePrefix: ['ns'], filter: { v: { $regex: 'x' } }, limit: 1, offset: 0 },
        'CONFIG',
      ],
      [
        'a fractional maxDepth',
        { matchConditions: [], maxDepth: 1.5, limit: 1, offset: 0 },
        'CONFIG',
      ],
      [
        'an unknown match type',
        { matchConditions: [{ matchType: 'infix', path: ['a'] }], limit: 1, offset: 0 },
        'CONFIG',
      ],
      ['something that is no operation', { what: 'ever' }, 'CONFIG'],
    ];
    for (const [name, operation, code] of cases) {
      it(name, async () => {
        const { store, tenantId } = counted();
        await expect(
          store.batch([{ namespace: ['ns'], key: 'good', value: { v: 1 } }, operation as never]),
        ).rejects.toMatchObject({ code });
        expect(await opened.persistence.store().listNamespaces(tenantId)).toEqual([]);
      });
    }

    it('createEntelixStore needs a tenant and valid options', () => {
      expect(() => createEntelixStore(opened.persistence, {} as never)).toThrow(
        expect.objectContaining({ code: 'CONFIG' }),
      );
      expect(() => createEntelixStore(opened.persistence, { tenantId: '' })).toThrow(
        expect.objectContaining({ code: 'INVALID_ID' }),
      );
      expect(() => createEntelixStore(opened.persistence, { tenantId: 't', ttlMs: 0 })).toThrow(
        expect.objectContaining({ code: 'CONFIG' }),
      );
      // Refused when the store is made, not at its first put.
      expect(() =>
        createEntelixStore(opened.persistence, { tenantId: 't', ttlMs: MAX_TTL_MS + 1 }),
      ).toThrow(
        expect.objectContaining({ code: 'CONFIG', message: expect.stringMatching(/ttlMs/) }),
      );
      expect(() => createEntelixStore({} as Persistence, { tenantId: 't' })).toThrow(
        expect.objectContaining({ code: 'CONFIG' }),
      );
    });

    it('the convenience methods report bad input the same way', async () => {
      const { store } = counted();
      await expect(store.put(['a:b'], 'k', { v: 1 })).rejects.toMatchObject({
        code: 'INVALID_ID',
      });
      await expect(store.search(['ns'], { query: 'semantic' })).rejects.toMatchObject({
        code: 'CONFIG',
      });
      await expect(store.listNamespaces({ limit: -1 })).rejects.toMatchObject({ code: 'CONFIG' });
      // What the error names is what the caller passed.
      await expect(
        store.search(['ns'], { offset: Number.MAX_SAFE_INTEGER, limit: 10 }),
      ).rejects.toMatchObject({ code: 'CONFIG', message: expect.stringMatching(/offset/) });
      await expect(
        store.listNamespaces({ offset: Number.MAX_SAFE_INTEGER, limit: 10 }),
      ).rejects.toMatchObject({ code: 'CONFIG', message: expect.stringMatching(/offset/) });
    });

    it("put refuses LangGraph's reserved root label, as BaseStore's put does", async () => {
      const { store, tenantId } = counted();
      await expect(store.put(['langgraph', 'x'], 'k', { v: 1 })).rejects.toMatchObject({
        code: 'INVALID_ID',
        message: expect.stringMatching(/langgraph/),
      });
      expect(await opened.persistence.store().listNamespaces(tenantId)).toEqual([]);
    });
  });
}
