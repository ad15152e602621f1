import {
  ConfigError,
  ConflictError,
  type FenceToken,
  type Persistence,
  type SessionLog,
  ThreadKey,
  type WriteOptions,
} from '@entelix/core';
import type {
  AgentInputItem,
  SessionHistoryTransactionArgs,
  SessionHistoryTransactionAwareSession,
} from '@openai/agents-core';
import {
  type AppliedTransaction,
  type CurrentHistory,
  currentHistory,
  readItemList,
  recordsAppending,
  recordsStartingHistory,
  type SessionLogRecord,
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
   * `applyHistoryTransaction`) reads the history and tries its append when another
   * write keeps landing between the two, before it fails with `CONFLICT`. A positive
   * integer, default {@link DEFAULT_MAX_ATTEMPTS}.
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
   * conditional append; the replaced events are archived.
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
 * `getItems` and `addItems` are one backend call each. Every other change is one
 * conditional append, so an `addItems` of another writer is never lost to it, and
 * ordinals are never reused. Ids are validated here, before any I/O (`INVALID_ID`).
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
  const write: WriteOptions = options.fence === undefined ? {} : { fence: options.fence };

  /** What a conditional write appends, or `undefined` to write nothing. */
  type Change<T> = { records: SessionLogRecord[]; rewrites: boolean; result: T } | undefined;

  /**
   * Read the history, let `decide` build the change, and append it conditionally on
   * the head read first; on `CONFLICT` another append came first, so read and decide
   * again. A change that rewrites the history then archives what it superseded.
   */
  async function conditionally<T>(
    decide: (history: CurrentHistory) => Change<T>,
  ): Promise<T | undefined> {
    for (let attempt = 1; ; attempt++) {
      // Head before events: an append between the two reads makes the append below fail.
      const head = await log.head(key);
      const change = decide(currentHistory(await log.loadSince(key, 0)));
      if (change === undefined) return undefined;
      let newHead: number;
      try {
        newHead = await log.append(key, change.records, { ...write, expectedHead: head });
      } catch (error) {
        if (ConflictError.isInstance(error) && attempt < maxAttempts) continue;
        throw error;
      }
      if (change.rewrites) {
        await log.archiveBefore(key, newHead - change.records.length + 1, write);
      }
      return change.result;
    }
  }

  const rewriteTo = <T>(
    items: readonly AgentInputItem[],
    transactions: readonly AppliedTransaction[],
    result: T,
  ): Change<T> => ({
    records: recordsStartingHistory(items, transactions),
    rewrites: true,
    result,
  });

  return {
    key,

    async getSessionId() {
      return key.threadId;
    },

    async getItems(limit) {
      if (limit === undefined) return currentHistory(await log.loadSince(key, 0)).items;
      if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 0) {
        throw new ConfigError('limit must be a non-negative integer');
      }
      if (limit === 0) return [];
      return currentHistory(await log.loadLatest(key, { limit })).items;
    },

    async addItems(items) {
      const records = recordsAppending(readItemList(items, 'items'));
      if (records.length === 0) return;
      await log.append(key, records, write);
    },

    async popItem() {
      return conditionally(({ items, transactions }) => {
        const newest = items.at(-1);
        if (newest === undefined) return undefined;
        return rewriteTo(items.slice(0, -1), transactions, newest);
      });
    },

    async clearSession() {
      // Unconditional: a clear wins over whatever came before it, transactions included.
      // Archiving below the marker never touches an append that lands after it.
      const newHead = await log.append(key, recordsStartingHistory([]), write);
      await log.archiveBefore(key, newHead, write);
    },

    async replaceHistoryWithCompaction(items) {
      const replacement = readItemList(items, 'items');
      await conditionally(({ transactions }) => rewriteTo(replacement, transactions, undefined));
    },

    async applyHistoryTransaction(args) {
      const { operationId, transaction } = readTransactionArgs(args);
      const applied = await recordOf(operationId, transaction);
      await conditionally(({ items, transactions }) => {
        const earlier = transactions.find((entry) => entry.operationId === operationId);
        if (earlier !== undefined) {
          if (earlier.digest === applied.digest) return undefined;
          throw new ConflictError(
            `history operation ${JSON.stringify(operationId)} was applied with another transaction`,
          );
        }
        if (transaction.type === 'append_items') {
          return {
            records: recordsAppending(transaction.items, applied),
            rewrites: false,
            result: undefined,
          };
        }
        const { expectedSuffix, replacement } = transaction;
        const suffixStart = items.length - expectedSuffix.length;
        const matches =
          suffixStart >= 0 &&
          expectedSuffix.every((expected, i) => sameJson(items[suffixStart + i], expected));
        if (!matches) {
          throw new ConflictError('the history no longer ends with the expected suffix');
        }
        return rewriteTo(
          [...items.slice(0, suffixStart), ...replacement],
          [...transactions, applied],
          undefined,
        );
      });
    },
  };
}
