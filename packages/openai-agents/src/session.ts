import {
  ConfigError,
  ConflictError,
  type FenceToken,
  type Persistence,
  type SessionLog,
  ThreadKey,
  type WriteOptions,
} from '@entelix/core';
import type { AgentInputItem, Session } from '@openai/agents-core';
import {
  currentHistory,
  recordsAppending,
  recordsStartingHistory,
  type SessionLogRecord,
} from './records.js';

/** How many times a rewrite re-reads and tries again when another write came first. */
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
   * How many times `popItem` reads the history and tries its conditional append when
   * another write keeps landing between the two, before it fails with `CONFLICT`. A
   * positive integer, default {@link DEFAULT_MAX_ATTEMPTS}.
   */
  maxAttempts?: number;
}

/**
 * An OpenAI Agents `Session` kept in an Entelix session log, with the optional
 * compaction capability of the runner.
 */
export interface EntelixSession extends Session {
  /** The (tenant, session id) the history is stored under. */
  readonly key: ThreadKey;
  /**
   * Make `items` (a compaction item and what follows it) the whole history, in one
   * append; the replaced events are archived.
   */
  replaceHistoryWithCompaction(items: AgentInputItem[]): Promise<void>;
}

/**
 * A `Session` of OpenAI Agents JS over any Entelix persistence bundle: the history of
 * one (tenant, session id) as events of the bundle's session log, one event per item.
 *
 * `getItems` and `addItems` are one backend call each. `popItem` and `clearSession`
 * are conditional appends, so a concurrent `addItems` is never lost to them; ordinals
 * are never reused. Ids are validated here, before any I/O (`INVALID_ID`).
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

  /**
   * Replace the whole history with `build(current)` in one conditional append (the head
   * read first is the expected head), then archive what it superseded. Retried on
   * `CONFLICT`: another append came first, so `build` sees the history with it.
   */
  async function rewrite<T>(
    build: (items: AgentInputItem[]) => { items: AgentInputItem[]; result: T } | undefined,
  ): Promise<T | undefined> {
    for (let attempt = 1; ; attempt++) {
      // Head before events: an append between the two reads makes the append below fail.
      const head = await log.head(key);
      const history = currentHistory(await log.loadSince(key, 0));
      const next = build(history.items);
      if (next === undefined) return undefined;
      const records = recordsStartingHistory(next.items);
      let newHead: number;
      try {
        newHead = await log.append(key, records, { ...write, expectedHead: head });
      } catch (error) {
        if (ConflictError.isInstance(error) && attempt < maxAttempts) continue;
        throw error;
      }
      await log.archiveBefore(key, newHead - records.length + 1, write);
      return next.result;
    }
  }

  /** Start the history afresh with `items`, whatever came before: an unconditional append. */
  async function restart(items: readonly AgentInputItem[]): Promise<void> {
    const records = recordsStartingHistory(items);
    const newHead = await log.append(key, records, write);
    await log.archiveBefore(key, newHead - records.length + 1, write);
  }

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
      const records = recordsAppending(readItems(items));
      if (records.length === 0) return;
      await log.append(key, records, write);
    },

    async popItem() {
      return rewrite((items) => {
        const newest = items.at(-1);
        if (newest === undefined) return undefined;
        return { items: items.slice(0, -1), result: newest };
      });
    },

    async clearSession() {
      await restart([]);
    },

    async replaceHistoryWithCompaction(items) {
      await restart(readItems(items));
    },
  };
}

/** The items of `addItems` and friends: an array of objects, else `CONFIG` before any I/O. */
function readItems(items: unknown): AgentInputItem[] {
  if (!Array.isArray(items)) throw new ConfigError('items must be an array of history items');
  for (const item of items) {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      throw new ConfigError('every history item must be an object');
    }
  }
  return items as AgentInputItem[];
}
