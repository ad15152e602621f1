import { CheckpointId, type Codec } from '@entelix/core';
import { expect } from 'vitest';
import { defineGroup, expectCode, freshKey, makeCheckpoint } from '../fixtures.js';

/**
 * Pending writes: a task's outputs attached to a checkpoint, first-wins for regular
 * indexes and last-wins for a runtime's special (negative) ones, returned with every
 * read of the checkpoint.
 */
export const pendingWritesTests = defineGroup('pending-writes', ({ test }) => [
  test(
    'with-every-read',
    'getLatest, getById and listHistory carry the writes, ordered by (taskPath, taskId, idx)',
    async ({ a, b }) => {
      const key = freshKey();
      const checkpointer = a.checkpointer<string, { v: string }>();
      const cp = makeCheckpoint(key, 'state', { ns: 'child' });
      await checkpointer.put(cp);
      const target = { checkpointId: cp.id, ns: 'child' };
      await checkpointer.putWrites(key, { ...target, taskId: 'task-b', taskPath: '~1' }, [
        { idx: 1, channel: 'y', value: { v: 'b1' } },
        { idx: 0, channel: 'x', value: { v: 'b0' } },
      ]);
      await checkpointer.putWrites(key, { ...target, taskId: 'task-a', taskPath: '~1' }, [
        { idx: 0, channel: 'x', value: { v: 'a0' } },
      ]);
      await b
        .checkpointer()
        .putWrites(key, { ...target, taskId: 'task-z' }, [
          { idx: 0, channel: 'input', value: { v: 'z0' } },
        ]);
      const expected = [
        { taskId: 'task-z', taskPath: '', idx: 0, channel: 'input', value: { v: 'z0' } },
        { taskId: 'task-a', taskPath: '~1', idx: 0, channel: 'x', value: { v: 'a0' } },
        { taskId: 'task-b', taskPath: '~1', idx: 0, channel: 'x', value: { v: 'b0' } },
        { taskId: 'task-b', taskPath: '~1', idx: 1, channel: 'y', value: { v: 'b1' } },
      ];
      const reader = b.checkpointer<string, { v: string }>();
      expect((await reader.getLatest(key, { ns: 'child' }))?.pendingWrites).toEqual(expected);
      expect((await reader.getById(key, cp.id, { ns: 'child' }))?.pendingWrites).toEqual(expected);
      expect((await reader.listHistory(key, { limit: 1 }))[0]?.pendingWrites).toEqual(expected);
    },
  ),

  test(
    'first-wins',
    'for idx >= 0 the first write of (checkpoint, task, idx) wins, also within one batch',
    async ({ a, b }) => {
      const key = freshKey();
      const cp = makeCheckpoint(key, 's');
      await a.checkpointer().put(cp);
      const target = { checkpointId: cp.id, taskId: 'task' };
      await a.checkpointer().putWrites(key, target, [
        { idx: 0, channel: 'c', value: 'first' },
        { idx: 0, channel: 'c', value: 'same batch' },
      ]);
      await b.checkpointer().putWrites(key, target, [
        { idx: 0, channel: 'other', value: 'second' },
        { idx: 1, channel: 'c', value: 'new index' },
      ]);
      const writes = (await a.checkpointer().getLatest(key))?.pendingWrites;
      expect(writes?.map((w) => [w.idx, w.channel, w.value])).toEqual([
        [0, 'c', 'first'],
        [1, 'c', 'new index'],
      ]);
      // Another task may use the same idx.
      await a
        .checkpointer()
        .putWrites(key, { ...target, taskId: 'other' }, [
          { idx: 0, channel: 'c', value: 'other task' },
        ]);
      expect((await a.checkpointer().getLatest(key))?.pendingWrites).toHaveLength(3);
    },
  ),

  test(
    'last-wins-negative',
    'for idx < 0 the last write wins, also within one batch',
    async ({ a, b }) => {
      const key = freshKey();
      const cp = makeCheckpoint(key, 's');
      await a.checkpointer().put(cp);
      const target = { checkpointId: cp.id, taskId: 'task' };
      await a.checkpointer().putWrites(key, target, [
        { idx: -1, channel: '__error__', value: 'first' },
        { idx: -3, channel: '__interrupt__', value: 'i1' },
      ]);
      await b.checkpointer().putWrites(key, target, [
        { idx: -1, channel: '__error__', value: 'second' },
        { idx: -1, channel: '__error__', value: 'third' },
      ]);
      const writes = (await a.checkpointer().getLatest(key))?.pendingWrites;
      expect(writes?.map((w) => [w.idx, w.value])).toEqual([
        [-3, 'i1'],
        [-1, 'third'],
      ]);
    },
  ),

  test(
    'with-put',
    "put's parentWrites attach to the parent in the same call, with putWrites's rules",
    async ({ a, b }) => {
      const key = freshKey();
      const checkpointer = a.checkpointer<string, string>();
      const parent = makeCheckpoint(key, 'parent', { ns: 'child' });
      await checkpointer.put(parent);
      const target = { checkpointId: parent.id, ns: 'child', taskId: 'task' };
      await checkpointer.putWrites(key, target, [
        { idx: 0, channel: 'c', value: 'first' },
        { idx: -1, channel: 'error', value: 'old' },
      ]);
      const child = makeCheckpoint(key, 'child', { ns: 'child', parentId: parent.id });
      await b.checkpointer<string, string>().put(child, {
        parentWrites: [
          {
            taskId: 'task',
            writes: [
              { idx: 0, channel: 'c', value: 'second' },
              { idx: -1, channel: 'error', value: 'new' },
            ],
          },
          {
            taskId: 'other',
            taskPath: '~1',
            writes: [
              { idx: 0, channel: 'c', value: 'other' },
              { idx: 0, channel: 'c', value: 'other again' },
            ],
          },
          {
            taskId: 'task',
            writes: [
              { idx: 1, channel: 'd', value: 'added' },
              { idx: -1, channel: 'error', value: 'newest' },
            ],
          },
        ],
      });
      const read = await checkpointer.getById(key, parent.id, { ns: 'child' });
      expect(read?.pendingWrites.map((w) => [w.taskPath, w.taskId, w.idx, w.value])).toEqual([
        ['', 'task', -1, 'newest'],
        ['', 'task', 0, 'first'],
        ['', 'task', 1, 'added'],
        ['~1', 'other', 0, 'other'],
      ]);
      const latest = await checkpointer.getLatest(key, { ns: 'child' });
      expect(latest?.id).toBe(child.id);
      expect(latest?.pendingWrites).toEqual([]);
      // Batches without a write attach nothing, and need no parent.
      const root = makeCheckpoint(key, 'root');
      await checkpointer.put(root, { parentWrites: [{ taskId: 'task', writes: [] }] });
      expect((await checkpointer.getLatest(key))?.id).toBe(root.id);
    },
  ),

  test(
    'missing-checkpoint',
    'writes to a checkpoint that does not exist (or is in another namespace) are NOT_FOUND',
    async ({ a }) => {
      const key = freshKey();
      const cp = makeCheckpoint(key, 's');
      await a.checkpointer().put(cp);
      const write = [{ idx: 0, channel: 'c', value: 1 }];
      await expectCode(
        a
          .checkpointer()
          .putWrites(key, { checkpointId: CheckpointId.create(), taskId: 't' }, write),
        'NOT_FOUND',
      );
      await expectCode(
        a.checkpointer().putWrites(key, { checkpointId: cp.id, ns: 'child', taskId: 't' }, write),
        'NOT_FOUND',
      );
      expect((await a.checkpointer().getLatest(key))?.pendingWrites).toEqual([]);
      // An empty batch writes nothing and checks nothing.
      await a
        .checkpointer()
        .putWrites(key, { checkpointId: CheckpointId.create(), taskId: 't' }, []);
    },
  ),

  test(
    'per-checkpoint',
    'writes belong to one checkpoint: the next one starts with none',
    async ({ a }) => {
      const key = freshKey();
      const checkpointer = a.checkpointer<number>();
      const first = makeCheckpoint(key, 1);
      await checkpointer.put(first);
      await checkpointer.putWrites(key, { checkpointId: first.id, taskId: 't' }, [
        { idx: 0, channel: 'c', value: 'w' },
      ]);
      await checkpointer.put(makeCheckpoint(key, 2, { parentId: first.id }));
      expect((await checkpointer.getLatest(key))?.pendingWrites).toEqual([]);
      const history = await checkpointer.listHistory(key, { limit: 2 });
      expect(history.map((cp) => cp.pendingWrites.length)).toEqual([0, 1]);
    },
  ),

  test(
    'through-codec',
    "write values pass through the checkpointer's write codec, and are fresh copies",
    async ({ a }) => {
      const key = freshKey();
      const reversing: Codec<string> = {
        encode: (value) => [...value].reverse().join(''),
        decode: (json) => [...(json as string)].reverse().join(''),
      };
      const checkpointer = a.checkpointer<number, string>({ writes: { codec: reversing } });
      const cp = makeCheckpoint(key, 1);
      await checkpointer.put(cp);
      await checkpointer.putWrites(key, { checkpointId: cp.id, taskId: 't' }, [
        { idx: 0, channel: 'c', value: 'abc' },
      ]);
      expect((await checkpointer.getLatest(key))?.pendingWrites[0]?.value).toBe('abc');
      // The stored JSON is what the codec made of it.
      const plain = a.checkpointer<number, string>();
      expect((await plain.getLatest(key))?.pendingWrites[0]?.value).toBe('cba');
      const objects = a.checkpointer<number, { list: number[] }>();
      await objects.putWrites(key, { checkpointId: cp.id, taskId: 't2' }, [
        { idx: 0, channel: 'c', value: { list: [1] } },
      ]);
      const read = await objects.getLatest(key);
      const list = read?.pendingWrites[1]?.value.list;
      expect(list).toEqual([1]);
      list?.push(2);
      expect((await objects.getLatest(key))?.pendingWrites[1]?.value).toEqual({ list: [1] });
    },
  ),

  test(
    'unserialisable-write',
    'a write value that is not strict JSON is SERIALIZATION and nothing of the batch is written',
    async ({ a }) => {
      const key = freshKey();
      const cp = makeCheckpoint(key, 1);
      await a.checkpointer().put(cp);
      await expectCode(
        a.checkpointer().putWrites(key, { checkpointId: cp.id, taskId: 't' }, [
          { idx: 0, channel: 'c', value: 1 },
          { idx: 1, channel: 'c', value: Number.NaN },
        ]),
        'SERIALIZATION',
      );
      expect((await a.checkpointer().getLatest(key))?.pendingWrites).toEqual([]);
    },
  ),
]);
