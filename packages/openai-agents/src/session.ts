import {
  type AppendOptions,
  ConfigError,
  ConflictError,
  type FenceToken,
  type Persistence,
  type SessionLog,
  ThreadKey,
  type WriteOptions,
} from '@entelix/core';
import { readFence } from '@entelix/core/adapter';
import type {
  AgentInputItem,
  SessionHistoryTransactionArgs,
  SessionHistoryTransactionAwareSession,
} from '@openai/agents-core';
import {
  type CurrentHistory,
  currentHistory,
  readItemList,
  recordsAppending,
  recordsStartingHistory,
  replacingTail,
  type SessionLogRecord,
  type TailReplacement,
} from './records.js';
import { readTransactionArgs, recordOf, sameJson } from './transactions.js';

/** How many times a conditional write reads and tries again when another write came first. */
export const DEFAULT_MAX_ATTEMPTS = 5;

/** Options of {@link createEntelixSession}. */
export interface EntelixSessionOptions {
  /** The tenant the session belongs to. Required: there is no default tenant. */
  tenantId: string;
  /** The session id; it is the thread id of the session log (a valid `ThreadId`). */
  sessionId: string;
  /**
   * A lease from `withSessionLock` (or `{ key, fence }`) of the writer: every write of
   * the session carries it and is rejected with `FENCED`, changing nothing, once a
   * newer lease was granted for that lock key. The lease must be of the same tenant.
   */
  fence?: FenceToken;
  /**
   * How many times a conditional write (`popItem`, `replaceHistoryWithCompaction`,
   * `applyHistoryTransaction`) reads and tries its append when another write keeps
   * landing between the two, before it fails with `CONFLICT`. Such writes through one
   * session object queue behind each other, so only other objects' and processes'
   * writes count. A positive integer, default {@link DEFAULT_MAX_ATTEMPTS}.
   */
  maxAttempts?: number;
}

/**
 * An OpenAI Agents `Session` kept in an Entelix session log, with the optional
 * capabilities the runner calls: compaction and history transactions.
 */
export interface EntelixSession extends SessionHistoryTransactionAwareSession {
  /** The (tenant, session id) the history is stored under. */
  readonly key: ThreadKey;
  /**
   * Make `items` (a compaction item and what follows it) the whole history, in one
   * conditional append that deletes the replaced events.
   */
  replaceHistoryWithCompaction(items: AgentInputItem[]): Promise<void>;
  /**
   * Apply an append or a suffix replacement, recording its operation id in the same
   * append: a retry with the same transaction changes nothing; the same id with another
   * transaction, or a suffix that no longer matches, is `CONFLICT` and changes nothing.
   */
  applyHistoryTransaction(args: SessionHistoryTransactionArgs): Promise<void>;
}

/**
 * A `Session` of OpenAI Agents JS over any Entelix persistence bundle: the history of
 * one (tenant, session id) as events of the bundle's session log, one event per item.
 *
 * `getItems` and `addItems` are one backend call each; `clearSession` is one append.
 * Every other change reads the head and what it needs, then makes one conditional
 * append that also deletes the events it replaces, so an `addItems` of another writer
 * is never lost to it, and ordinals are never reused. `popItem` reads the newest two
 * events and deletes at most those, appending one, whatever the history's size. Ids
 * are validated here, before any I/O (`INVALID_ID`).
 *
 * @example
 * ```ts
 * import { createMemoryPersistence } from '@entelix/memory';
 * import { createEntelixSession } from '@entelix/openai-agents';
 *
 * const session = createEntelixSession(createMemoryPersistence(), {
 *   tenantId: 'acme',
 *   sessionId: 'conversation-1',
 * });
 * await session.addItems([{ role: 'user', content: 'Hello' }]);
 * ```
 */
export function createEntelixSession(
  persistence: Persistence,
  options: EntelixSessionOptions,
): EntelixSession {
  if (typeof options !== 'object' || options === null) {
    throw new ConfigError('createEntelixSession needs { tenantId, sessionId }');
  }
  const key = ThreadKey.of(options.tenantId, options.sessionId);
  const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  if (!Number.isSafeInteger(maxAttempts) || maxAttempts <= 0) {
    throw new ConfigError('maxAttempts must be a positive integer');
  }
  const log: SessionLog<SessionLogRecord> = persistence.sessionLog<SessionLogRecord>();
  // Checked now, not at the first write: a lease of another tenant is a mistake in setup.
  const fence = readFence(options.fence, key.tenantId, 'openai-agents');
  const write: WriteOptions = fence === undefined ? {} : { fence };

  /** What a conditional write appends, or `undefined` to write nothing. */
  type Change<T> = (TailReplacement & { result: T }) | undefined;

  /** This object's conditional writes, one after another: they never race each other. */
  let conditionalWrites: Promise<unknown> = Promise.resolve();

  /**
   * Read the head, then what `read` returns, let `decide` build the change, and append
   * it conditionally on that head, deleting what it replaces in the same step. On
   * `CONFLICT` another write came first (every change moves the head), so wait a random
   * moment that doubles with each attempt, read and decide again. Calls through this
   * object queue behind each other, so only other objects' and processes' writes can
   * make an attempt fail.
   */
  function conditionally<T>(
    read: () => Promise<CurrentHistory>,
    decide: (history: CurrentHistory) => Change<T>,
  ): Promise<T | undefined> {
    const run = conditionalWrites.then(() => attemptConditionally(read, decide));
    conditionalWrites = run.catch(() => undefined);
    return run;
  }

  async function attemptConditionally<T>(
    read: () => Promise<CurrentHistory>,
    decide: (history: CurrentHistory) => Change<T>,
  ): Promise<T | undefined> {
    for (let attempt = 1; ; attempt++) {
      if (attempt > 1) await pause(Math.random() * 2 ** attempt);
      // Head before events: a write between the two reads makes the append below fail.
      const head = await log.head(key);
      const change = decide(await read());
      if (change === undefined) return undefined;
      const options: AppendOptions = { ...write, expectedHead: head };
      if (change.truncateAfter !== undefined) options.truncateAfter = change.truncateAfter;
      try {
        await log.append(key, change.records, options);
      } catch (error) {
        if (ConflictError.isInstance(error) && attempt < maxAttempts) continue;
        throw error;
      }
      return change.result;
    }
  }

  const wholeHistory = async () => currentHistory(await log.loadSince(key, 0), true);
  // Removing one item touches the newest event and the one before it (see replacingTail).
  const newestTwo = async () => {
    const events = await log.loadLatest(key, { limit: 2 });
    return currentHistory(events, events.length < 2);
  };

  return {
    key,

    async getSessionId() {
      return key.threadId;
    },

    async getItems(limit) {
      if (limit === undefined) return (await wholeHistory()).items;
      if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 0) {
        throw new ConfigError('limit must be a non-negative integer');
      }
      if (limit === 0) return [];
      const events = await log.loadLatest(key, { limit });
      return currentHistory(events, events.length < limit).items;
    },

    async addItems(items) {
      const records = recordsAppending(readItemList(items, 'items'));
      if (records.length === 0) return;
      await log.append(key, records, write);
    },

    async popItem() {
      return conditionally(newestTwo, (history) => {
        const newest = history.items.at(-1);
        if (newest === undefined) return undefined;
        return { ...replacingTail(history, 1, [], []), result: newest };
      });
    },

    async clearSession() {
      // Unconditional: a clear wins over whatever came before it, transactions included.
      // One step, so an append lands either before it (and is cleared) or after it.
      await log.append(key, recordsStartingHistory([]), { ...write, truncateAfter: 0 });
    },

    async replaceHistoryWithCompaction(items) {
      const replacement = readItemList(items, 'items');
      // Conditional only so that the transactions recorded so far are carried on. Every
      // stored event goes, superseded ones a crash left behind included.
      await conditionally(wholeHistory, ({ transactions }) => ({
        truncateAfter: 0,
        records: recordsStartingHistory(replacement, transactions),
        result: undefined,
      }));
    },

    async applyHistoryTransaction(args) {
      const { operationId, transaction } = readTransactionArgs(args);
      const applied = await recordOf(operationId, transaction);
      // The whole history is read: the operation id may be recorded on any of its events.
      await conditionally(wholeHistory, (history) => {
        const { items, transactions } = history;
        const earlier = transactions.find((entry) => entry.operationId === operationId);
        if (earlier !== undefined) {
          if (earlier.digest === applied.digest) return undefined;
          throw new ConflictError(
            `history operation ${JSON.stringify(operationId)} was applied with another transaction`,
          );
        }
        if (transaction.type === 'append_items') {
          return { records: recordsAppending(transaction.items, [applied]), result: undefined };
        }
        const { expectedSuffix, replacement } = transaction;
        const suffixStart = items.length - expectedSuffix.length;
        const matches =
          suffixStart >= 0 &&
          expectedSuffix.every((expected, i) => sameJson(items[suffixStart + i], expected));
        if (!matches) {
          throw new ConflictError('the history no longer ends with the expected suffix');
        }
        return {
          ...replacingTail(history, expectedSuffix.length, replacement, [applied]),
          result: undefined,
        };
      });
    },
  };
}

/** Resolve after `ms` milliseconds. */
function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
