import { randomUUID } from 'node:crypto';
import {
  ConflictError,
  CorruptRecordError,
  type JsonObject,
  type JsonValue,
  NotFoundError,
  type ThreadKey,
} from '@entelix/core';
import type {
  CheckpointerDriver,
  CheckpointRow,
  DriverWrite,
  ParentWriteRecord,
  PendingWriteRow,
} from '@entelix/core/adapter';
import {
  BACKEND,
  expectArray,
  expectInteger,
  type FenceArguments,
  fenceArguments,
  isNilReply,
  parseJson,
  type RedisContext,
  run,
  runWrite,
  throwIfFenced,
} from './context.js';
import { type CheckpointKeys, encodeComponent, encodeThreadMember } from './keys.js';
import {
  CHECKPOINT_DELETE_THREAD,
  CHECKPOINT_FORK,
  CHECKPOINT_GET,
  CHECKPOINT_HISTORY,
  CHECKPOINT_LATEST,
  CHECKPOINT_PRUNE,
  CHECKPOINT_PUT,
  CHECKPOINT_PUT_WRITES,
  THREAD_REGISTER,
  THREAD_UNREGISTER,
} from './scripts/checkpointer.js';
import { ScriptStatus } from './scripts/lua.js';
import { listThreadIndex } from './session-log.js';

/**
 * Checkpoints of one thread in its slot (see scripts/checkpointer.ts for the keys),
 * and the tenant's index of threads holding one in the tenant's slot, kept with
 * registration tokens: a thread is listed before its first checkpoint is written and
 * unlisted only once it holds none and every concurrent registration is gone.
 */
export function createRedisCheckpointer(context: RedisContext): CheckpointerDriver {
  const readKeys = (keys: CheckpointKeys) => [
    keys.checkpointOrder,
    keys.checkpointData,
    keys.checkpointWrites,
  ];
  const fenceOf = (keys: CheckpointKeys, call: DriverWrite): FenceArguments =>
    fenceArguments(context, call.fence, keys.checkpointData);

  const threadIndex = (key: ThreadKey) => {
    const tenant = context.keys.tenantThreads(key.tenantId);
    return [tenant.checkpointThreads, tenant.checkpointThreadTokens];
  };
  const register = (key: ThreadKey, token: string) =>
    run(
      context,
      THREAD_REGISTER,
      2,
      [...threadIndex(key), encodeThreadMember(key.threadId), token],
      'put',
    );
  /** Remove the tokens an emptied thread handed back from its tenant's index entry. */
  const unregister = async (key: ThreadKey, tokens: unknown, action: string) => {
    if (typeof tokens !== 'string' || tokens === '') return;
    await run(
      context,
      THREAD_UNREGISTER,
      2,
      [...threadIndex(key), encodeThreadMember(key.threadId), tokens],
      action,
    );
  };

  const decodeReply = (reply: unknown): CheckpointRow | undefined => {
    if (isNilReply(reply)) return undefined;
    if (reply === ScriptStatus.CORRUPT) throw corrupt('is missing from the thread');
    if (typeof reply !== 'string') throw corrupt('is not a string');
    return decodeEntry(reply, 0, reply.length);
  };

  return {
    async put(record, call) {
      const keys = context.keys.checkpoint(record.key);
      const fence = fenceOf(keys, call);
      const owner = ownerMark(record.key, record.ns);
      const text =
        `${record.createdAt.getTime()}\t${record.step}\t${JSON.stringify(record.nextNode)}\t` +
        `${owner}\t${record.id}\t${record.parentId ?? ''}\t${record.metadataJson}\t${record.payload}`;
      const field = recordField(record.ns, record.id);
      const filterIndex = metadataFilterIndex(record.metadata);
      const parent =
        record.parentWrites.length === 0 || record.parentId === null
          ? []
          : [recordField(record.ns, record.parentId), writeLines(record.parentWrites)];
      const write = (token: string) =>
        runWrite(
          context,
          CHECKPOINT_PUT,
          writeKeys(keys),
          fence,
          '',
          [field, text, filterIndex, token, ...(parent.length === 0 ? [''] : parent)],
          'put',
        );
      let result = await write('');
      if (result === ScriptStatus.NEEDS_REGISTRATION) {
        const token = randomUUID();
        await register(record.key, token);
        result = await write(token);
        // Refused: the token never reached the thread's registration, so it can go
        // from the index entry again.
        if (result !== 1) await unregister(record.key, token, 'put');
      }
      throwIfFenced(result);
      if (result === ScriptStatus.NOT_FOUND) {
        throw new NotFoundError(`parent checkpoint ${record.parentId} does not exist`, {
          backend: BACKEND,
        });
      }
      if (result === ScriptStatus.CONFLICT) {
        throw new ConflictError(`checkpoint ${record.id} already exists on this thread`, {
          backend: BACKEND,
        });
      }
      expectInteger(result, 'put');
    },

    async getLatest(key, ns) {
      const keys = context.keys.checkpoint(key);
      const reply = await run(
        context,
        CHECKPOINT_LATEST,
        3,
        [...readKeys(keys), `${encodeComponent(ns)}:`],
        'getLatest',
      );
      return decodeReply(reply);
    },

    async getById(key, ns, id) {
      const keys = context.keys.checkpoint(key);
      const reply = await run(
        context,
        CHECKPOINT_GET,
        3,
        [...readKeys(keys), recordField(ns, id)],
        'getById',
      );
      return decodeReply(reply);
    },

    async listHistory(key, query) {
      const keys = context.keys.checkpoint(key);
      const filterLines =
        query.filter === undefined
          ? []
          : Object.entries(query.filter)
              // An undefined value equals nothing stored: its line matches no index.
              .map(([name, value]) =>
                value === undefined
                  ? `\n${JSON.stringify(name)}\t\n`
                  : `\n${filterLine(name, value)}\n`,
              );
      const reply = await run(
        context,
        CHECKPOINT_HISTORY,
        5,
        [
          ...readKeys(keys),
          keys.checkpointFilters,
          keys.checkpointIds,
          query.limit,
          query.ns === undefined ? '' : `${encodeComponent(query.ns)}:`,
          query.before ?? '',
          ...filterLines,
        ],
        'listHistory',
      );
      if (reply === ScriptStatus.NOT_FOUND) {
        throw new NotFoundError(`checkpoint ${query.before} is not on this thread`, {
          backend: BACKEND,
        });
      }
      if (reply === ScriptStatus.CORRUPT) throw corrupt('is missing from the thread');
      if (typeof reply !== 'string') throw corrupt('history is not a string');
      const page: CheckpointRow[] = [];
      if (reply === '') return page;
      let start = 0;
      for (;;) {
        const end = reply.indexOf('\n', start);
        if (end === -1) {
          page.push(decodeEntry(reply, start, reply.length));
          return page;
        }
        page.push(decodeEntry(reply, start, end));
        start = end + 1;
      }
    },

    async fork(fork, call) {
      const keys = context.keys.checkpoint(fork.key);
      const fence = fenceOf(keys, call);
      const owner = ownerMark(fork.key, fork.ns);
      // The script puts the parent's step + 1 and nextNode between head and tail.
      const result = await runWrite(
        context,
        CHECKPOINT_FORK,
        writeKeys(keys),
        fence,
        '',
        [
          recordField(fork.ns, fork.parentId),
          recordField(fork.ns, fork.id),
          `${fork.createdAt.getTime()}\t`,
          `\t${owner}\t${fork.id}\t${fork.parentId}\t${fork.metadataJson}\t${fork.payload}`,
          metadataFilterIndex(fork.metadata),
        ],
        'updateState',
      );
      throwIfFenced(result);
      if (result === ScriptStatus.NOT_FOUND) {
        throw new NotFoundError(`parent checkpoint ${fork.parentId} does not exist`, {
          backend: BACKEND,
        });
      }
      if (result === ScriptStatus.CONFLICT) {
        throw new ConflictError(`checkpoint ${fork.id} already exists on this thread`, {
          backend: BACKEND,
        });
      }
      if (result === ScriptStatus.CORRUPT) throw corrupt('parent is malformed');
      expectInteger(result, 'updateState');
    },

    async deleteThread(key, call) {
      const keys = context.keys.checkpoint(key);
      const fence = fenceOf(keys, call);
      const result = await runWrite(
        context,
        CHECKPOINT_DELETE_THREAD,
        writeKeys(keys),
        fence,
        '',
        [],
        'deleteThread',
      );
      throwIfFenced(result);
      const [checkpoints, , tokens] = expectArray(result, 3, 'deleteThread');
      await unregister(key, tokens, 'deleteThread');
      return expectInteger(checkpoints, 'deleteThread');
    },

    async putWrites(key, target, writes, call) {
      const keys = context.keys.checkpoint(key);
      const fence = fenceOf(keys, call);
      const { taskId, taskPath } = target;
      const result = await runWrite(
        context,
        CHECKPOINT_PUT_WRITES,
        [keys.checkpointData, keys.checkpointWrites],
        fence,
        '',
        [
          recordField(target.ns, target.checkpointId),
          writes
            .map(({ idx, channel, payload }) => writeLine(taskId, taskPath, idx, channel, payload))
            .join('\n'),
        ],
        'putWrites',
      );
      throwIfFenced(result);
      if (result === ScriptStatus.NOT_FOUND) {
        throw new NotFoundError(`checkpoint ${target.checkpointId} does not exist on this thread`, {
          backend: BACKEND,
        });
      }
      expectInteger(result, 'putWrites');
    },

    async prune(key, keep, call) {
      const keys = context.keys.checkpoint(key);
      const fence = fenceOf(keys, call);
      const result = await runWrite(
        context,
        CHECKPOINT_PRUNE,
        writeKeys(keys),
        fence,
        '',
        [keep.keepLatest, keep.ns === undefined ? '' : `${encodeComponent(keep.ns)}:`],
        'prune',
      );
      throwIfFenced(result);
      const [deleted, tokens] = expectArray(result, 2, 'prune');
      await unregister(key, tokens, 'prune');
      return expectInteger(deleted, 'prune');
    },

    listThreads(tenantId, page) {
      return listThreadIndex(
        context,
        context.keys.tenantThreads(tenantId).checkpointThreads,
        page,
        'listThreads',
      );
    },
  };
}

/** The keys of every checkpoint write script, in the scripts' order. */
function writeKeys(keys: CheckpointKeys): string[] {
  return [
    keys.checkpointRegistration,
    keys.checkpointSequence,
    keys.checkpointOrder,
    keys.checkpointData,
    keys.checkpointFilters,
    keys.checkpointWrites,
    keys.checkpointIds,
  ];
}

/**
 * One pending write as the scripts store it: `JSON(taskId) TAB idx TAB JSON(taskPath) TAB
 * JSON(channel) TAB payload`. The scripts take a batch as its lines joined by newlines.
 */
function writeLine(
  taskId: string,
  taskPath: string,
  idx: number,
  channel: string,
  payload: string,
): string {
  return `${JSON.stringify(taskId)}\t${idx}\t${JSON.stringify(taskPath)}\t${JSON.stringify(channel)}\t${payload}`;
}

function writeLines(writes: readonly ParentWriteRecord[]): string {
  return writes
    .map((write) =>
      writeLine(write.taskId, write.taskPath, write.idx, write.channel, write.payload),
    )
    .join('\n');
}

/**
 * Erase one thread's checkpoints and writes for `purgeTenant`, unfenced; returns the
 * counts.
 */
export async function purgeCheckpointThread(
  context: RedisContext,
  key: ThreadKey,
): Promise<{ checkpoints: number; writes: number }> {
  const keys = context.keys.checkpoint(key);
  const result = await runWrite(
    context,
    CHECKPOINT_DELETE_THREAD,
    writeKeys(keys),
    { key: undefined, fence: '' },
    '',
    [],
    'purgeTenant',
  );
  const [checkpoints, writes, tokens] = expectArray(result, 3, 'purgeTenant');
  const tenant = context.keys.tenantThreads(key.tenantId);
  // Only the tokens the thread handed back: a token of a first put still on its way
  // keeps the entry, so that put's checkpoint is never written on an unlisted thread.
  await run(
    context,
    THREAD_UNREGISTER,
    2,
    [
      tenant.checkpointThreads,
      tenant.checkpointThreadTokens,
      encodeThreadMember(key.threadId),
      typeof tokens === 'string' ? tokens : '',
    ],
    'purgeTenant',
  );
  return {
    checkpoints: expectInteger(checkpoints, 'purgeTenant'),
    writes: expectInteger(writes, 'purgeTenant'),
  };
}

/** The field of a checkpoint in its thread's hashes and write order: `encodedNs:id`. */
function recordField(ns: string, id: string): string {
  return `${encodeComponent(ns)}:${id}`;
}

/** The owner part of a checkpoint record: `JSON.stringify([tenantId, threadId, ns])`. */
function ownerMark(key: ThreadKey, ns: string): string {
  return JSON.stringify([key.tenantId, key.threadId, ns]);
}

/**
 * JSON text with object keys sorted at every depth: two JSON values are equal exactly
 * when their canonical texts are (numbers print the way JavaScript prints them).
 */
export function canonicalJson(value: JsonValue | undefined): string {
  if (typeof value !== 'object' || value === null) return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((each) => canonicalJson(each)).join(',')}]`;
  const entries = Object.keys(value)
    .filter((name) => value[name] !== undefined)
    .sort()
    .map((name) => `${JSON.stringify(name)}:${canonicalJson(value[name])}`);
  return `{${entries.join(',')}}`;
}

/** One line of the metadata filter index: `JSON(key) TAB canonical JSON(value)`. */
function filterLine(name: string, value: JsonValue): string {
  return `${JSON.stringify(name)}\t${canonicalJson(value)}`;
}

/** The metadata filter index (see scripts/checkpointer.ts); empty for `{}`. */
function metadataFilterIndex(metadata: JsonObject): string {
  let index = '';
  for (const [name, value] of Object.entries(metadata)) {
    if (value === undefined) continue;
    index += `\n${filterLine(name, value)}`;
  }
  return index === '' ? '' : `${index}\n`;
}

function corrupt(what: string, cause?: unknown): CorruptRecordError {
  return new CorruptRecordError(`stored checkpoint ${what}`, { cause, backend: BACKEND });
}

/**
 * Decode the entry at `text[start, end)`: a record (see scripts/checkpointer.ts for
 * the layout) followed by its pending writes' members (`field CR line`), each after a
 * carriage return.
 */
function decodeEntry(text: string, start: number, end: number): CheckpointRow {
  const writesAt = text.indexOf('\r', start);
  const recordEnd = writesAt === -1 || writesAt > end ? end : writesAt;
  const tabs: number[] = [];
  let at = start - 1;
  for (let i = 0; i < 7; i++) {
    at = text.indexOf('\t', at + 1);
    if (at === -1 || at >= recordEnd) throw corrupt('is malformed');
    tabs.push(at);
  }
  const [t1, t2, t3, t4, t5, t6, t7] = tabs as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const owner = parseJson(text.slice(t3 + 1, t4));
  const [tenantId, threadId, ns] = Array.isArray(owner) ? owner : [];
  // createdAt may precede 1970.
  const createdAtMs =
    text.charCodeAt(start) === 45
      ? -(digits(text, start + 1, t1) ?? Number.NaN)
      : digits(text, start, t1);
  const nextNodeText = text.slice(t2 + 1, t3);
  const nextNode = nextNodeText === 'null' ? null : parseJson(nextNodeText);
  return {
    tenantId,
    threadId,
    ns,
    id: text.slice(t4 + 1, t5),
    parentId: t6 === t5 + 1 ? null : text.slice(t5 + 1, t6),
    step: digits(text, t1 + 1, t2),
    nextNode: nextNode === undefined ? Number.NaN : nextNode,
    metadata: text.slice(t6 + 1, t7),
    payload: text.slice(t7 + 1, recordEnd),
    createdAt: createdAtMs,
    writes: recordEnd === end ? [] : decodeWrites(text, recordEnd + 1, end),
  };
}

/** The pending writes at `text[start, end)`: `field CR line` members joined by carriage returns. */
function decodeWrites(text: string, start: number, end: number): PendingWriteRow[] {
  const rows: PendingWriteRow[] = [];
  const parts = text.slice(start, end).split('\r');
  if (parts.length % 2 !== 0) {
    throw new CorruptRecordError('stored pending write is malformed', { backend: BACKEND });
  }
  for (let i = 1; i < parts.length; i += 2) {
    const line = parts[i] as string;
    const t1 = line.indexOf('\t');
    const t2 = t1 === -1 ? -1 : line.indexOf('\t', t1 + 1);
    const t3 = t2 === -1 ? -1 : line.indexOf('\t', t2 + 1);
    const t4 = t3 === -1 ? -1 : line.indexOf('\t', t3 + 1);
    if (t4 === -1)
      throw new CorruptRecordError('stored pending write is malformed', { backend: BACKEND });
    const idxText = line.slice(t1 + 1, t2);
    rows.push({
      taskId: parseJson(line.slice(0, t1)),
      idx: /^-?\d+$/.test(idxText) ? Number(idxText) : Number.NaN,
      taskPath: parseJson(line.slice(t2 + 1, t3)),
      channel: parseJson(line.slice(t3 + 1, t4)),
      payload: line.slice(t4 + 1),
    });
  }
  return rows;
}

/** The non-negative decimal integer at `text[start, end)`, or undefined. */
function digits(text: string, start: number, end: number): number | undefined {
  if (end <= start || end - start > 16) return undefined;
  let value = 0;
  for (let i = start; i < end; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return undefined;
    value = value * 10 + d;
  }
  return Number.isSafeInteger(value) ? value : undefined;
}
