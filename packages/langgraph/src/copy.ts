import { ConfigError, TenantId, ThreadId } from '@entelix/core';
import { compareCodePoints } from '@entelix/core/adapter';
import type { RunnableConfig } from '@langchain/core/runnables';
import {
  type BaseCheckpointSaver,
  type CheckpointTuple,
  type PendingWrite,
  WRITES_IDX_MAP,
} from '@langchain/langgraph-checkpoint';
import { TENANT_ID_KEY } from './config.js';
import { BRIDGE, hasCode } from './errors.js';
import type { EntelixSaver } from './saver.js';

/** Options of {@link copyThreads}. */
export interface CopyThreadsOptions {
  /** The tenant the copied threads belong to in Entelix. */
  tenantId: string;
  /**
   * The threads to copy. Default: every thread `source.list({})` yields, which reads the
   * whole source once more than copying does (LangGraph's savers cannot list thread ids
   * alone); for a large `PostgresSaver`, pass them, e.g. from
   * `SELECT DISTINCT thread_id FROM checkpoints`.
   */
  threadIds?: Iterable<string> | AsyncIterable<string>;
  /** Called after each thread is copied. */
  onThread?: (copied: CopiedThread) => void;
}

/** What {@link copyThreads} copied of one thread. */
export interface CopiedThread {
  readonly threadId: string;
  readonly checkpoints: number;
  /** Checkpoints the target already had (a copy run again after a failure). */
  readonly skipped: number;
  readonly writes: number;
}

/** What {@link copyThreads} copied in all. */
export interface CopyThreadsResult {
  readonly threads: number;
  readonly checkpoints: number;
  readonly skipped: number;
  readonly writes: number;
}

/**
 * Copy threads from any LangGraph checkpoint saver (`PostgresSaver`, `MemorySaver`,
 * SQLite, Redis, ...) into an Entelix saver, for one tenant: every namespace, checkpoint,
 * metadata and pending write, through the source's public `list`.
 *
 * Each thread's checkpoints are written oldest id first, so Entelix's latest (the last
 * written) is the source's latest (the highest id). A checkpoint the target already has
 * is skipped, so a copy that failed half way can simply be run again. Pending writes keep
 * the order the source returns them in: LangGraph's savers do not expose a write's task
 * path, so when that order is not the task ids' own, the copied writes get task paths
 * that sort the same way (`000000`, `000001`, ...).
 *
 * Costs one `source.list` per thread (plus one for all threads without `threadIds`), and
 * one Entelix put per checkpoint and one `putWrites` per task with writes.
 *
 * @example
 * ```ts
 * const source = PostgresSaver.fromConnString(process.env.DATABASE_URL);
 * const copied = await copyThreads(source, createEntelixSaver(persistence), {
 *   tenantId: 'acme',
 *   threadIds: ['thread-1', 'thread-2'],
 * });
 * ```
 */
export async function copyThreads(
  source: BaseCheckpointSaver,
  target: EntelixSaver,
  options: CopyThreadsOptions,
): Promise<CopyThreadsResult> {
  if (typeof source?.list !== 'function' || typeof target?.put !== 'function') {
    throw new ConfigError('copyThreads needs a source saver and an Entelix saver', {
      backend: BRIDGE,
    });
  }
  if (typeof options !== 'object' || options === null || options.tenantId === undefined) {
    throw new ConfigError('copyThreads needs { tenantId }: the tenant the threads move into', {
      backend: BRIDGE,
    });
  }
  const tenantId = TenantId.parse(options.tenantId);
  const threadIds = options.threadIds ?? threadsOf(source);
  const total = { threads: 0, checkpoints: 0, skipped: 0, writes: 0 };
  for await (const threadId of threadIds) {
    const copied = await copyThread(source, target, tenantId, ThreadId.parse(threadId));
    total.threads++;
    total.checkpoints += copied.checkpoints;
    total.skipped += copied.skipped;
    total.writes += copied.writes;
    options.onThread?.(copied);
  }
  return total;
}

async function* threadsOf(source: BaseCheckpointSaver): AsyncGenerator<string> {
  const seen = new Set<string>();
  for await (const tuple of source.list({ configurable: {} })) {
    const threadId = tuple.config.configurable?.thread_id;
    if (typeof threadId === 'string') seen.add(threadId);
  }
  yield* seen;
}

async function copyThread(
  source: BaseCheckpointSaver,
  target: EntelixSaver,
  tenantId: TenantId,
  threadId: ThreadId,
): Promise<CopiedThread> {
  const tuples: CheckpointTuple[] = [];
  for await (const tuple of source.list({ configurable: { thread_id: threadId } })) {
    tuples.push(tuple);
  }
  tuples.sort((a, b) =>
    a.checkpoint.id < b.checkpoint.id ? -1 : a.checkpoint.id > b.checkpoint.id ? 1 : 0,
  );
  let checkpoints = 0;
  let skipped = 0;
  let writes = 0;
  for (const tuple of tuples) {
    const ns = (tuple.config.configurable?.checkpoint_ns as string | undefined) ?? '';
    const configurable = { [TENANT_ID_KEY]: tenantId, thread_id: threadId, checkpoint_ns: ns };
    const parentId = tuple.parentConfig?.configurable?.checkpoint_id as string | undefined;
    let stored: RunnableConfig = {
      configurable: { ...configurable, checkpoint_id: tuple.checkpoint.id },
    };
    try {
      stored = await target.put(
        { configurable: { ...configurable, checkpoint_id: parentId } },
        tuple.checkpoint,
        tuple.metadata ?? { source: 'loop', step: 0, parents: {} },
        {},
      );
      checkpoints++;
    } catch (error) {
      // Already copied: checkpoints are immutable, so what is there is what was copied.
      if (!hasCode(error, 'CONFLICT')) throw error;
      skipped++;
    }
    const tasks = writesByTask(tuple);
    const inTaskIdOrder = tasks.every(
      (task, i) =>
        i === 0 || compareCodePoints((tasks[i - 1] as TaskWrites).taskId, task.taskId) <= 0,
    );
    for (const [i, task] of tasks.entries()) {
      const taskPath = inTaskIdOrder ? '' : String(i).padStart(6, '0');
      // putWrites numbers a regular write by its place in the call, so the special
      // channels (whose index is their own) go in a call of their own: listed first,
      // they would shift the regular writes' indexes.
      const special = task.writes.filter(([channel]) => WRITES_IDX_MAP[channel] !== undefined);
      const regular = task.writes.filter(([channel]) => WRITES_IDX_MAP[channel] === undefined);
      for (const batch of [regular, special]) {
        if (batch.length > 0) await target.putWrites(stored, batch, task.taskId, taskPath);
      }
      writes += task.writes.length;
    }
  }
  return { threadId, checkpoints, skipped, writes };
}

interface TaskWrites {
  taskId: string;
  writes: PendingWrite[];
}

/**
 * A checkpoint's pending writes grouped by task, tasks in the order of their first write
 * and writes in the source's order. A task's regular writes are one `putWrites`, which
 * numbers them 0, 1, ... in that order, unique per task as they were in the source.
 */
function writesByTask(tuple: CheckpointTuple): TaskWrites[] {
  const tasks = new Map<string, TaskWrites>();
  for (const [taskId, channel, value] of tuple.pendingWrites ?? []) {
    const task = tasks.get(taskId) ?? { taskId, writes: [] };
    task.writes.push([channel, value]);
    tasks.set(taskId, task);
  }
  return [...tasks.values()];
}
