import { type JsonObject, type JsonValue, type Persistence, ThreadKey } from '@entelix/core';
import { AIMessage, HumanMessage } from '@langchain/core/messages';
import type { RunnableConfig } from '@langchain/core/runnables';
import { Command } from '@langchain/langgraph';
import {
  type BaseCheckpointSaver,
  type Checkpoint,
  type CheckpointMetadata,
  emptyCheckpoint,
  MemorySaver,
  uuid6,
} from '@langchain/langgraph-checkpoint';
import { describe, expect, it, vi } from 'vitest';
import { type Lane, openLane, randomId } from '../../../../test-support/lanes.js';
import {
  createEntelixSaver,
  type StoredCheckpoint,
  TENANT_ID_KEY,
  VALUE_TAG,
} from '../../src/index.js';
import { collect, fanOutGraph, lineGraph } from '../graphs.js';
import { instrument } from '../instrument.js';

const metadata = (step: number, extra: Record<string, unknown> = {}): CheckpointMetadata => ({
  source: step < 0 ? 'input' : 'loop',
  step,
  parents: {},
  ...extra,
});

function checkpointWith(channelValues: Record<string, unknown>): Checkpoint {
  const checkpoint = emptyCheckpoint();
  checkpoint.id = uuid6(-1);
  checkpoint.channel_values = channelValues;
  checkpoint.channel_versions = Object.fromEntries(Object.keys(channelValues).map((c) => [c, 1]));
  return checkpoint;
}

export function saverTests(lane: Lane): void {
  const opened = openLane(lane);

  /** A counted bundle over the lane's, an unbound saver on it and a fresh thread. */
  function counted() {
    const { persistence: wrapped, log } = instrument(opened.persistence);
    const saver = createEntelixSaver(wrapped, { pageSize: 10 });
    const tenantId = randomId('tenant');
    const threadId = randomId('thread');
    const config: RunnableConfig = {
      configurable: { [TENANT_ID_KEY]: tenantId, thread_id: threadId, checkpoint_ns: '' },
    };
    return { saver, log, tenantId, threadId, config, wrapped };
  }

  /** Put `count` checkpoints in a line on the thread; returns their configs, oldest first. */
  async function putLine(
    saver: ReturnType<typeof createEntelixSaver>,
    config: RunnableConfig,
    count: number,
  ): Promise<RunnableConfig[]> {
    const configs: RunnableConfig[] = [];
    let parent = config;
    for (let step = -1; step < count - 1; step++) {
      parent = await saver.put(parent, checkpointWith({ n: step }), metadata(step), {});
      configs.push(parent);
    }
    return configs;
  }

  describe('cost: each saver call is one statement or command on the wire', () => {
    it.skipIf(lane.wire === undefined)(
      `put, putWrites, getTuple, a list page and a filtered list page${lane.wire === undefined ? ' (the lane has no wire to count)' : ''}`,
      async () => {
        const sent: string[] = [];
        const saver = createEntelixSaver(
          await opened.storage.open({ onQuery: (text) => sent.push(text) }),
          {
            pageSize: 10,
          },
        );
        const config: RunnableConfig = {
          configurable: { [TENANT_ID_KEY]: randomId('tenant'), thread_id: randomId('thread') },
        };
        const onWire = async (call: () => Promise<unknown>): Promise<string[]> => {
          sent.length = 0;
          await call();
          return [...sent];
        };
        const configs = await putLine(saver, config, 12);
        const latest = configs.at(-1) as RunnableConfig;
        const calls = [
          () => saver.put(latest, checkpointWith({ a: 1 }), metadata(11), {}),
          // A put with the writes of its parent's step: one call for both.
          () =>
            Promise.all([
              saver.putWrites(latest, [['c', 4]], randomId('task')),
              saver.put(latest, checkpointWith({ a: 2 }), metadata(11), {}),
            ]),
          () =>
            saver.putWrites(
              latest,
              [
                ['a', 2],
                ['b', 3],
              ],
              'task-1',
              'path',
            ),
          () => saver.getTuple(config),
          () => saver.getTuple(latest),
          () => collect(saver.list(config, { limit: 5 })),
          () => collect(saver.list(config, { limit: 5, filter: { step: 3 } })),
          () => collect(saver.list(config, { before: latest, limit: 3 })),
        ];
        // The first call of each kind may load its script (Redis answers NOSCRIPT once).
        for (const call of calls) await call();
        for (const call of calls) expect(await onWire(call)).toHaveLength(1);
      },
    );

    it.skipIf(lane.wire === undefined)(
      `getTuple of 16 threads at once, as 16 getState callers make it: each its own thread's, at most one statement or command each${lane.wire === undefined ? ' (the lane has no wire to count)' : ''}`,
      async () => {
        const sent: string[] = [];
        const saver = createEntelixSaver(
          await opened.storage.open({ onQuery: (text) => sent.push(text) }),
        );
        const tenant = randomId('tenant');
        const configs = Array.from({ length: 16 }, (_, i) => ({
          configurable: { [TENANT_ID_KEY]: tenant, thread_id: `thread-${i}` },
        }));
        for (const [i, config] of configs.entries()) {
          await saver.put(config, checkpointWith({ i }), metadata(-1), {});
        }
        // The first call of each kind may load its script (Redis answers NOSCRIPT once).
        await saver.getTuple(configs[0] as RunnableConfig);
        sent.length = 0;
        const tuples = await Promise.all(configs.map((config) => saver.getTuple(config)));
        expect(tuples.map((tuple) => tuple?.checkpoint.channel_values)).toEqual(
          configs.map((_, i) => ({ i })),
        );
        expect(tuples.map((tuple) => tuple?.config.configurable?.thread_id)).toEqual(
          configs.map((config) => config.configurable.thread_id),
        );
        // Postgres gathers reads issued in the same turn, 8 to a statement.
        expect(sent).toHaveLength(lane.wire === 'postgres' ? 2 : 16);
      },
    );
  });

  describe('cost: each saver call is one Entelix contract call', () => {
    it('put, putWrites, getTuple and deleteThread', async () => {
      const { saver, log, config, threadId, tenantId, wrapped } = counted();
      const first = await saver.put(config, checkpointWith({ a: 1 }), metadata(-1), {});
      expect(log.calls).toEqual(['checkpointer.put']);
      log.reset();
      await saver.putWrites(
        first,
        [
          ['a', 2],
          ['b', 3],
        ],
        'task-1',
        '~__pregel_pull, n0',
      );
      expect(log.calls).toEqual(['checkpointer.putWrites']);
      log.reset();
      expect(await saver.getTuple(config)).toMatchObject({
        pendingWrites: [
          ['task-1', 'a', 2],
          ['task-1', 'b', 3],
        ],
      });
      expect(log.calls).toEqual(['checkpointer.getLatest']);
      log.reset();
      expect(await saver.getTuple(first)).toBeDefined();
      expect(log.calls).toEqual(['checkpointer.getById']);
      log.reset();
      await createEntelixSaver(wrapped, { tenantId }).deleteThread(threadId);
      expect(log.calls).toEqual(['checkpointer.deleteThread']);
      expect(await saver.getTuple(config)).toBeUndefined();
    });

    it('a list page is one listHistory call, with the filter and before applied by the backend', async () => {
      const { saver, log, config } = counted();
      const configs = await putLine(saver, config, 25);
      log.reset();
      expect(await collect(saver.list(config, { limit: 3 }))).toHaveLength(3);
      expect(log.calls).toEqual(['checkpointer.listHistory']);
      log.reset();
      const loops = await collect(saver.list(config, { filter: { source: 'input' } }));
      expect(loops.map((t) => t.metadata?.step)).toEqual([-1]);
      expect(log.calls).toEqual(['checkpointer.listHistory']);
      log.reset();
      const before = await collect(saver.list(config, { before: configs[5], limit: 2 }));
      expect(before.map((t) => t.checkpoint.id)).toEqual(
        [configs[4], configs[3]].map((c) => c?.configurable?.checkpoint_id),
      );
      expect(log.calls).toEqual(['checkpointer.listHistory']);
      log.reset();
      // Without a limit, pages of pageSize (10): 10 + 10 + 5.
      expect(await collect(saver.list(config))).toHaveLength(25);
      expect(log.calls).toEqual(Array(3).fill('checkpointer.listHistory'));
    });

    it('a tenant-wide list pages thread ids with listThreads and each thread with listHistory', async () => {
      const { saver, log, tenantId } = counted();
      for (let i = 0; i < 12; i++) {
        await putLine(saver, { configurable: { tenant_id: tenantId, thread_id: `t${i}` } }, 2);
      }
      log.reset();
      const all = await collect(saver.list({ configurable: { tenant_id: tenantId } }));
      expect(all).toHaveLength(24);
      expect(log.counts.get('checkpointer.listThreads')).toBe(2);
      expect(log.counts.get('checkpointer.listHistory')).toBe(12);
      // Threads in code-point order of their ids, each newest first.
      expect(all.map((t) => t.config.configurable?.thread_id).slice(0, 4)).toEqual([
        't0',
        't0',
        't1',
        't1',
      ]);
    });

    it('before on another thread reads that thread newest first and filters by id', async () => {
      const { saver, log, tenantId } = counted();
      const early = await putLine(
        saver,
        { configurable: { tenant_id: tenantId, thread_id: 'early' } },
        3,
      );
      const late = await putLine(
        saver,
        { configurable: { tenant_id: tenantId, thread_id: 'late' } },
        3,
      );
      log.reset();
      const anchor = late[1] as RunnableConfig;
      const found = await collect(
        saver.list(
          { configurable: { tenant_id: tenantId, thread_id: 'early' } },
          { before: anchor },
        ),
      );
      expect(found.map((t) => t.checkpoint.id)).toEqual(
        [...early].reverse().map((c) => c.configurable?.checkpoint_id),
      );
      expect(log.calls).toEqual(['checkpointer.listHistory']);
      log.reset();
      // The anchor's own thread, named only by the anchor's id: tried as a cursor first.
      const onLate = await collect(
        saver.list(
          { configurable: { tenant_id: tenantId, thread_id: 'late' } },
          { before: { configurable: { checkpoint_id: anchor.configurable?.checkpoint_id } } },
        ),
      );
      expect(onLate.map((t) => t.checkpoint.id)).toEqual([late[0]?.configurable?.checkpoint_id]);
      expect(log.calls).toEqual(['checkpointer.listHistory']);
      log.reset();
      // Tried as a cursor on a thread that does not hold it: NOT_FOUND, then a scan.
      const onEarly = await collect(
        saver.list(
          { configurable: { tenant_id: tenantId, thread_id: 'early' } },
          { before: { configurable: { checkpoint_id: anchor.configurable?.checkpoint_id } } },
        ),
      );
      expect(onEarly).toHaveLength(3);
      expect(log.calls).toEqual(['checkpointer.listHistory', 'checkpointer.listHistory']);
    });

    for (const durability of ['sync', 'async', 'exit'] as const) {
      for (const putDelayMs of [0, 15]) {
        it(`durability ${durability}, puts taking ${putDelayMs} ms: one backend call per saver call`, async () => {
          // LangGraph does not wait for a checkpoint's put before the next step, and in
          // exit durability it flushes the last writes before the last put: the saver
          // waits for the put rather than spending a failed call.
          const { persistence: wrapped, log } = instrument(opened.persistence, {
            delayMs: (method) => (method === 'checkpointer.put' ? putDelayMs : 0),
          });
          const saver = createEntelixSaver(wrapped);
          const putWrites = vi.spyOn(saver, 'putWrites');
          const put = vi.spyOn(saver, 'put');
          const getTuple = vi.spyOn(saver, 'getTuple');
          const config = {
            configurable: { tenant_id: randomId('tenant'), thread_id: randomId('thread') },
            durability,
          };
          await lineGraph(saver, 6).invoke({ log: [] }, config);
          const fan = fanOutGraph(saver, 4, new Map());
          const fanConfig = {
            ...config,
            configurable: { ...config.configurable, thread_id: randomId('fan') },
          };
          await fan.invoke({ log: [] }, fanConfig);
          await fan.invoke(new Command({ resume: 'go' }), fanConfig);
          // Each putWrites is its own call, or carried by the put of the next checkpoint.
          const carried = log.counts.get('checkpointer.put parentWrites') ?? 0;
          expect((log.counts.get('checkpointer.putWrites') ?? 0) + carried).toBe(
            putWrites.mock.calls.length,
          );
          expect(log.counts.get('checkpointer.put')).toBe(put.mock.calls.length);
          expect(log.counts.get('checkpointer.getLatest')).toBe(getTuple.mock.calls.length);
          expect(log.total()).toBe(
            putWrites.mock.calls.length -
              carried +
              put.mock.calls.length +
              getTuple.mock.calls.length,
          );
          if (durability === 'sync') expect(carried).toBeGreaterThan(0);
        });
      }
    }

    it("a graph step costs one backend call: the next checkpoint's put carries the step's writes", async () => {
      const { saver, log, config } = counted();
      const graph = lineGraph(saver, 10);
      await graph.invoke({ log: [] }, { ...config, durability: 'sync' });
      // One read of the thread's latest checkpoint; the input checkpoint, the first loop
      // checkpoint and one after each node, each put carrying the writes of the step
      // before it: the input's and each node's.
      expect(log.counts.get('checkpointer.getLatest')).toBe(1);
      expect(log.counts.get('checkpointer.put')).toBe(12);
      expect(log.counts.get('checkpointer.put parentWrites')).toBe(11);
      expect(log.counts.get('checkpointer.putWrites')).toBeUndefined();
      expect(log.total()).toBe(13);
      // Newest first: the last node writes its log alone, each other step also its edge.
      const history = await collect(saver.list(config));
      expect(history.map((tuple) => tuple.pendingWrites?.length)).toEqual([
        0,
        1,
        ...Array(10).fill(2),
      ]);
    });

    it('writes that no put takes by the next turn go out alone; a refused put leaves them to their own call', async () => {
      const { saver, log, config } = counted();
      const [root] = await putLine(saver, config, 1);
      log.reset();
      await saver.putWrites(root as RunnableConfig, [['a', 1]], 'alone');
      expect(log.calls).toEqual(['checkpointer.putWrites']);
      log.reset();
      // The put's checkpoint exists already: CONFLICT for the put, the writes still land.
      const child = await saver.put(root as RunnableConfig, checkpointWith({}), metadata(0), {});
      log.reset();
      const again = checkpointWith({});
      again.id = child.configurable?.checkpoint_id as string;
      const [written, refused] = await Promise.allSettled([
        saver.putWrites(root as RunnableConfig, [['b', 2]], 'carried'),
        saver.put(root as RunnableConfig, again, metadata(0), {}),
      ]);
      expect(written.status).toBe('fulfilled');
      expect(refused).toMatchObject({ status: 'rejected', reason: { code: 'CONFLICT' } });
      expect(log.counts.get('checkpointer.put parentWrites')).toBe(1);
      expect(log.counts.get('checkpointer.putWrites')).toBe(1);
      const tuple = await saver.getTuple(root as RunnableConfig);
      expect(tuple?.pendingWrites?.map(([task]) => task)).toEqual(['alone', 'carried']);
    });
  });

  describe('what is stored: readable JSON in Entelix fields', () => {
    it('channel values are the serializer JSON; LangChain messages stay readable', async () => {
      const { saver, config, tenantId, threadId } = counted();
      const stored = await saver.put(
        config,
        checkpointWith({
          messages: [new HumanMessage('hi'), new AIMessage('hello')],
          count: 3,
          nested: { list: [1, 'two', null] },
        }),
        metadata(4, { user: 'ada' }),
        {},
      );
      const raw = await opened.persistence
        .checkpointer<StoredCheckpoint, JsonValue>()
        .getLatest(ThreadKey.of(tenantId, threadId));
      expect(raw?.state.channel_values.count).toBe(3);
      expect(raw?.state.channel_values.nested).toEqual({ list: [1, 'two', null] });
      expect(raw?.state.channel_values.messages).toMatchObject([
        {
          lc: 1,
          type: 'constructor',
          id: ['langchain_core', 'messages', 'HumanMessage'],
          kwargs: { content: 'hi' },
        },
        {
          lc: 1,
          type: 'constructor',
          id: ['langchain_core', 'messages', 'AIMessage'],
          kwargs: { content: 'hello' },
        },
      ]);
      // LangGraph's step stays in the metadata; Entelix's step is it clamped at 0.
      expect(raw?.metadata).toEqual({ source: 'loop', step: 4, parents: {}, user: 'ada' });
      expect(raw?.step).toBe(4);
      const tuple = await saver.getTuple(stored);
      const messages = tuple?.checkpoint.channel_values.messages as HumanMessage[];
      expect(messages.map((m) => [m.type, m.content])).toEqual([
        ['human', 'hi'],
        ['ai', 'hello'],
      ]);
    });

    it('binary and non-JSON values round-trip, tagged', async () => {
      const { saver, config, tenantId, threadId } = counted();
      const values = {
        bytes: new Uint8Array([0, 1, 2, 250, 255]),
        set: new Set(['a', 'b']),
        map: new Map([['k', 1]]),
        missing: undefined,
        negativeZero: -0,
        tagged: { [VALUE_TAG]: 'looks like ours', x: 1 },
      };
      const stored = await saver.put(config, checkpointWith(values), metadata(0), {});
      const raw = await opened.persistence
        .checkpointer<StoredCheckpoint, JsonValue>()
        .getLatest(ThreadKey.of(tenantId, threadId));
      expect(raw?.state.channel_values.bytes).toEqual({
        [VALUE_TAG]: 'bytes',
        type: 'bytes',
        base64: 'AAEC+v8=',
      });
      expect(raw?.state.channel_values.tagged).toEqual({
        [VALUE_TAG]: 'json',
        value: { [VALUE_TAG]: 'looks like ours', x: 1 },
      });
      const tuple = await saver.getTuple(stored);
      expect(tuple?.checkpoint.channel_values).toEqual({ ...values, negativeZero: 0 });
      expect(tuple?.checkpoint.channel_values.bytes).toBeInstanceOf(Uint8Array);
      expect(Object.hasOwn(tuple?.checkpoint.channel_values ?? {}, 'missing')).toBe(true);
    });

    it('pending writes keep idx from WRITES_IDX_MAP and the task path order', async () => {
      const { saver, config, tenantId, threadId } = counted();
      const stored = await saver.put(config, checkpointWith({}), metadata(0), {});
      await saver.putWrites(
        stored,
        [
          ['__interrupt__', ['stop']],
          ['x', 1],
        ],
        'task-b',
        'b-path',
      );
      await saver.putWrites(stored, [['y', new Uint8Array([7])]], 'task-a', 'c-path');
      await saver.putWrites(stored, [['z', 'first']], 'task-z', 'a-path');
      const raw = await opened.persistence
        .checkpointer<StoredCheckpoint, JsonValue>()
        .getLatest(ThreadKey.of(tenantId, threadId));
      expect(raw?.pendingWrites.map((w) => [w.taskPath, w.taskId, w.idx, w.channel])).toEqual([
        ['a-path', 'task-z', 0, 'z'],
        ['b-path', 'task-b', -3, '__interrupt__'],
        ['b-path', 'task-b', 1, 'x'],
        ['c-path', 'task-a', 0, 'y'],
      ]);
      const tuple = await saver.getTuple(stored);
      expect(tuple?.pendingWrites).toEqual([
        ['task-z', 'z', 'first'],
        ['task-b', '__interrupt__', ['stop']],
        ['task-b', 'x', 1],
        ['task-a', 'y', new Uint8Array([7])],
      ]);
    });

    it("values the serializer rewrites are stored as it writes them, as MemorySaver's are", async () => {
      const { saver, config } = counted();
      const reference = new MemorySaver();
      const referenceConfig = { configurable: { thread_id: 'thread', checkpoint_ns: '' } };
      // The serializer writes any object whose lg_name is "Send" as a Send, and an array
      // as its elements alone.
      const send = { lg_name: 'Send', node: 'n', args: { q: 1 }, extra: true };
      const match = 'a-b'.match(/-/) as RegExpMatchArray;
      const values = { send, nested: [{ send }], match, matches: { list: [match] } };
      const read = async (s: BaseCheckpointSaver, c: RunnableConfig) => {
        const stored = await s.put(c, checkpointWith(values), metadata(0, { send }), {});
        await s.putWrites(stored, [['w', { send, match }]], 'task');
        const tuple = await s.getTuple(stored);
        const storedMetadata = tuple?.metadata as Record<string, unknown> | undefined;
        return [tuple?.checkpoint.channel_values, storedMetadata?.send, tuple?.pendingWrites];
      };
      const expected = await read(reference, referenceConfig);
      expect(expected[1]).toEqual({ node: 'n', args: { q: 1 } });
      expect(await read(saver, config)).toEqual(expected);
    });

    it('putWrites calls for one task, issued without waiting, take effect in the order issued', async () => {
      const { saver, config } = counted();
      const reference = new MemorySaver();
      const referenceConfig = { configurable: { thread_id: 'thread', checkpoint_ns: '' } };
      // The first value takes the serializer's longer way; the second is plain JSON.
      const outcome = async (s: BaseCheckpointSaver, c: RunnableConfig, withPut: boolean) => {
        const parent = await s.put(c, checkpointWith({}), metadata(0), {});
        const calls: Promise<unknown>[] = [];
        for (const channel of ['x', '__interrupt__']) {
          calls.push(s.putWrites(parent, [[channel, new HumanMessage('first')]], 'task', 'p'));
          calls.push(s.putWrites(parent, [[channel, 'second']], 'task', 'p'));
        }
        if (withPut) calls.push(s.put(parent, checkpointWith({}), metadata(1), {}));
        await Promise.all(calls);
        const tuple = await s.getTuple(parent);
        return tuple?.pendingWrites?.map(([, channel, value]) => [
          channel,
          typeof value === 'string' ? value : 'first',
        ]);
      };
      for (const withPut of [false, true]) {
        const expected = await outcome(reference, referenceConfig, withPut);
        // First wins for x, last wins for __interrupt__ (a negative idx).
        expect(expected).toEqual([
          ['__interrupt__', 'second'],
          ['x', 'first'],
        ]);
        expect(await outcome(saver, config, withPut), `withPut: ${withPut}`).toEqual(expected);
      }
    });

    it("LangGraph's input step -1 is Entelix step 0 and filters on the exact step", async () => {
      const { saver, config } = counted();
      await putLine(saver, config, 3);
      const byStep = await collect(saver.list(config, { filter: { step: -1 } }));
      expect(byStep.map((t) => t.metadata?.source)).toEqual(['input']);
    });
  });

  describe('writes that arrive before their checkpoint', () => {
    it('a putWrites issued just before its put is written once the put lands', async () => {
      const { saver, config } = counted();
      const checkpoint = checkpointWith({});
      const target = { configurable: { ...config.configurable, checkpoint_id: checkpoint.id } };
      const writes = saver.putWrites(target, [['x', 1]], 'task-1');
      const put = saver.put(config, checkpoint, metadata(0), {});
      await Promise.all([writes, put]);
      expect((await saver.getTuple(target))?.pendingWrites).toEqual([['task-1', 'x', 1]]);
    });

    it('a putWrites for a checkpoint no put brings is NOT_FOUND', async () => {
      const { saver, config } = counted();
      const target = { configurable: { ...config.configurable, checkpoint_id: uuid6(-1) } };
      await expect(saver.putWrites(target, [['x', 1]], 'task-1')).rejects.toMatchObject({
        code: 'NOT_FOUND',
      });
    });
  });

  describe('tenancy', () => {
    it('a call without a tenant is CONFIG, never a default tenant', async () => {
      const { saver, log, threadId } = counted();
      const noTenant = { configurable: { thread_id: threadId } };
      await expect(saver.put(noTenant, checkpointWith({}), metadata(0), {})).rejects.toMatchObject({
        code: 'CONFIG',
      });
      await expect(saver.getTuple(noTenant)).rejects.toMatchObject({ code: 'CONFIG' });
      await expect(collect(saver.list(noTenant))).rejects.toMatchObject({ code: 'CONFIG' });
      await expect(saver.putWrites(noTenant, [], 't')).rejects.toMatchObject({ code: 'CONFIG' });
      await expect(saver.deleteThread(threadId)).rejects.toMatchObject({ code: 'CONFIG' });
      expect(log.total()).toBe(0);
    });

    it('a bound saver takes the tenant from its binding and refuses any other', async () => {
      const tenantId = randomId('tenant');
      const { persistence: wrapped, log } = instrument(opened.persistence);
      const saver = createEntelixSaver(wrapped, { tenantId });
      const threadId = randomId('thread');
      const stored = await saver.put(
        { configurable: { thread_id: threadId } },
        checkpointWith({}),
        metadata(0),
        {},
      );
      expect(stored.configurable).toEqual({
        thread_id: threadId,
        checkpoint_ns: '',
        checkpoint_id: stored.configurable?.checkpoint_id,
      });
      log.reset();
      const other = { configurable: { thread_id: threadId, tenant_id: randomId('other') } };
      await expect(saver.getTuple(other)).rejects.toMatchObject({ code: 'CONFIG' });
      await expect(saver.put(other, checkpointWith({}), metadata(0), {})).rejects.toMatchObject({
        code: 'CONFIG',
      });
      await expect(saver.withTenant(randomId('other'), async () => 1)).rejects.toMatchObject({
        code: 'CONFIG',
      });
      expect(log.total()).toBe(0);
      await saver.deleteThread(threadId);
      expect(await saver.getTuple({ configurable: { thread_id: threadId } })).toBeUndefined();
    });

    it('withTenant gives an unbound saver a tenant, deleteThread included', async () => {
      const { saver, config, tenantId, threadId } = counted();
      await putLine(saver, config, 2);
      await saver.withTenant(tenantId, () => saver.deleteThread(threadId));
      expect(await saver.getTuple(config)).toBeUndefined();
    });

    it("an unbound saver's configs carry the tenant, so they can be passed back", async () => {
      const { saver, config, tenantId } = counted();
      const [first, second] = await putLine(saver, config, 2);
      expect(first?.configurable?.tenant_id).toBe(tenantId);
      const tuple = await saver.getTuple(second as RunnableConfig);
      expect(tuple?.config.configurable?.tenant_id).toBe(tenantId);
      expect(tuple?.parentConfig?.configurable?.tenant_id).toBe(tenantId);
      expect((await saver.getTuple(tuple?.parentConfig as RunnableConfig))?.checkpoint.id).toBe(
        first?.configurable?.checkpoint_id,
      );
    });
  });

  describe('bad input: a typed error and nothing written', () => {
    type BadInputSetup = ReturnType<typeof counted> & { existing: RunnableConfig };
    const cases: [string, (s: BadInputSetup) => Promise<unknown>, string][] = [
      [
        'put without thread_id',
        (s) =>
          s.saver.put(
            { configurable: { tenant_id: s.tenantId } },
            checkpointWith({}),
            metadata(0),
            {},
          ),
        'CONFIG',
      ],
      [
        'put with a checkpoint id that is not a UUID',
        (s) => s.saver.put(s.config, { ...checkpointWith({}), id: 'one' }, metadata(0), {}),
        'INVALID_ID',
      ],
      [
        'put with a parent id that is not a UUID',
        (s) =>
          s.saver.put(
            { configurable: { ...s.config.configurable, checkpoint_id: 'zero' } },
            checkpointWith({}),
            metadata(0),
            {},
          ),
        'INVALID_ID',
      ],
      [
        'put with a fractional step',
        (s) => s.saver.put(s.config, checkpointWith({}), metadata(1.5), {}),
        'CONFIG',
      ],
      [
        'put with a namespace that is not a string',
        (s) =>
          s.saver.put(
            { configurable: { ...s.config.configurable, checkpoint_ns: 7 } },
            checkpointWith({}),
            metadata(0),
            {},
          ),
        'INVALID_ID',
      ],
      [
        'put of a channel value the serializer cannot write',
        (s) => s.saver.put(s.config, checkpointWith({ callback: () => 1 }), metadata(0), {}),
        'SERIALIZATION',
      ],
      [
        // LangGraph's serializer writes a placeholder string in its place: the value would
        // be lost, not stored.
        'put of a channel value holding a bigint',
        (s) => s.saver.put(s.config, checkpointWith({ count: { n: 10n } }), metadata(0), {}),
        'SERIALIZATION',
      ],
      [
        'put with metadata holding a bigint',
        (s) => s.saver.put(s.config, checkpointWith({}), { ...metadata(0), n: 1n } as never, {}),
        'SERIALIZATION',
      ],
      [
        'putWrites of a value holding a bigint',
        (s) => s.saver.putWrites(s.existing, [['count', { n: 5n }]], 'task'),
        'SERIALIZATION',
      ],
      [
        'put without a checkpoint',
        (s) => s.saver.put(s.config, undefined as never, metadata(0), {}),
        'CONFIG',
      ],
      [
        'put with channel_values that are not an object',
        (s) =>
          s.saver.put(
            s.config,
            { ...checkpointWith({}), channel_values: [] as never },
            metadata(0),
            {},
          ),
        'CONFIG',
      ],
      [
        'put with an empty tenant',
        (s) =>
          s.saver.put(
            { configurable: { ...s.config.configurable, tenant_id: '' } },
            checkpointWith({}),
            metadata(0),
            {},
          ),
        'INVALID_ID',
      ],
      [
        'put fenced by a lease on another thread',
        (s) =>
          s.saver.put(
            {
              configurable: {
                ...s.config.configurable,
                entelix_lease: { key: ThreadKey.of(s.tenantId, 'elsewhere'), fence: 1n },
              },
            },
            checkpointWith({}),
            metadata(0),
            {},
          ),
        'CONFIG',
      ],
      [
        'put fenced by a lease of another tenant',
        (s) =>
          s.saver.put(
            {
              configurable: {
                ...s.config.configurable,
                entelix_lease: { key: ThreadKey.of('someone-else', s.threadId), fence: 1n },
              },
            },
            checkpointWith({}),
            metadata(0),
            {},
          ),
        'CONFIG',
      ],
      [
        'put fenced by something that is not a lease',
        (s) =>
          s.saver.put(
            { configurable: { ...s.config.configurable, entelix_lease: 'yes' } },
            checkpointWith({}),
            metadata(0),
            {},
          ),
        'CONFIG',
      ],
      [
        'putWrites without checkpoint_id',
        (s) => s.saver.putWrites(s.config, [['x', 1]], 'task'),
        'CONFIG',
      ],
      [
        'putWrites with a write that is not a pair',
        (s) => s.saver.putWrites(s.existing, [{ x: 1 } as never], 'task'),
        'CONFIG',
      ],
      [
        'putWrites with an empty task id',
        (s) => s.saver.putWrites(s.existing, [['x', 1]], ''),
        'INVALID_ID',
      ],
      [
        'getTuple of a checkpoint id that is not a UUID',
        (s) =>
          s.saver.getTuple({
            configurable: { ...s.config.configurable, checkpoint_id: 'latest' },
          }),
        'INVALID_ID',
      ],
      [
        'list with a negative limit',
        (s) => collect(s.saver.list(s.config, { limit: -1 })),
        'CONFIG',
      ],
      [
        'list with a filter that is not JSON',
        (s) => collect(s.saver.list(s.config, { filter: { at: new Date() } })),
        'CONFIG',
      ],
      [
        'list before a checkpoint id that is not a UUID',
        (s) =>
          collect(s.saver.list(s.config, { before: { configurable: { checkpoint_id: 'x' } } })),
        'INVALID_ID',
      ],
    ];
    for (const [name, call, code] of cases) {
      it(name, async () => {
        const setup = counted();
        const existing = await setup.saver.put(setup.config, checkpointWith({}), metadata(0), {});
        await expect(call({ ...setup, existing })).rejects.toMatchObject({ code });
        const checkpoints = opened.persistence.checkpointer();
        expect(await checkpoints.listThreads(setup.tenantId, { limit: 10 })).toEqual([
          setup.threadId,
        ]);
        const history = await checkpoints.listHistory(
          ThreadKey.of(setup.tenantId, setup.threadId),
          {
            limit: 10,
          },
        );
        expect(history.map((cp) => [cp.id, cp.pendingWrites])).toEqual([
          [existing.configurable?.checkpoint_id, []],
        ]);
      });
    }

    it('createEntelixSaver refuses what is not a Persistence, a bad page size or an empty tenant', () => {
      expect(() => createEntelixSaver({} as Persistence)).toThrow(
        expect.objectContaining({ code: 'CONFIG' }),
      );
      expect(() => createEntelixSaver(opened.persistence, { pageSize: 0 })).toThrow(
        expect.objectContaining({ code: 'CONFIG' }),
      );
      expect(() => createEntelixSaver(opened.persistence, { tenantId: '' })).toThrow(
        expect.objectContaining({ code: 'INVALID_ID' }),
      );
    });
  });

  it('next versions: integers, and the counter form of string versions', () => {
    const saver = createEntelixSaver(opened.persistence);
    expect(saver.getNextVersion(undefined)).toBe(1);
    expect(saver.getNextVersion(41)).toBe(42);
    const next = String(
      saver.getNextVersion('00000000000000000000000000000002.0123456789' as never),
    );
    expect(next).toMatch(/^00000000000000000000000000000003\.\d{16}$/);
    expect(() => saver.getNextVersion('not a version' as never)).toThrow(
      expect.objectContaining({ code: 'CORRUPT_RECORD' }),
    );
  });

  it('a legacy checkpoint (format < 4) moves its parent pending sends into TASKS once, at put', async () => {
    const { saver, log, config } = counted();
    const legacy = { ...checkpointWith({}), v: 1 };
    const parent = await saver.put(config, legacy, metadata(0), {});
    await saver.putWrites(parent, [['__pregel_tasks', 'send-1']], 'task-1');
    log.reset();
    const child = await saver.put(parent, { ...checkpointWith({}), v: 1 }, metadata(1), {});
    expect(log.calls).toEqual(['checkpointer.getById', 'checkpointer.put']);
    const tuple = await saver.getTuple(child);
    expect(tuple?.checkpoint.channel_values).toEqual({ __pregel_tasks: ['send-1'] });
    const raw = tuple?.metadata as JsonObject;
    expect(raw.step).toBe(1);
  });
}
