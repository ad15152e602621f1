import { ConfigError, CorruptRecordError, type SessionEvent } from '@entelix/core';
import type { AgentInputItem } from '@openai/agents-core';

/**
 * One event of a session's log. Every history item is one event, so the newest `n`
 * items are the newest `n` events: `getItems(n)` is one `loadLatest` call.
 *
 * A change that is not an append (removing the newest item, clearing, compacting) is
 * also an append: one event marked `startsHistory` followed by the history that
 * remains, written in one conditional append. Events before the newest such marker are
 * superseded; they are archived right after, and until then every read skips them. So
 * each change is one atomic write, and no append is ever lost to a removal.
 */
export interface SessionLogRecord {
  /** The history item, as the runner gave it. Absent only on the marker of an empty history. */
  readonly item?: AgentInputItem;
  /** The history begins at this event; everything before it is superseded. */
  readonly startsHistory?: true;
  /**
   * History transactions recorded in the same append as the history change they made,
   * so a retried operation id is recognised: on the first event of a transaction's
   * batch, that transaction; on a marker, every transaction of the history it carries on.
   */
  readonly transactions?: readonly AppliedTransaction[];
}

/** A history transaction that was applied: its operation id and a digest of its content. */
export interface AppliedTransaction {
  readonly operationId: string;
  readonly digest: string;
}

/** The current history within `events` (ascending): what follows the newest marker. */
export interface CurrentHistory {
  readonly items: AgentInputItem[];
  /** The transactions applied to this history, in the order they were recorded. */
  readonly transactions: AppliedTransaction[];
}

/** Cut `events` at the newest history marker and return the items from there on. */
export function currentHistory(events: readonly SessionEvent<SessionLogRecord>[]): CurrentHistory {
  let start = 0;
  for (let i = events.length - 1; i >= 0; i--) {
    if (readRecord(events[i] as SessionEvent<SessionLogRecord>).startsHistory === true) {
      start = i;
      break;
    }
  }
  const items: AgentInputItem[] = [];
  const transactions: AppliedTransaction[] = [];
  for (let i = start; i < events.length; i++) {
    const record = readRecord(events[i] as SessionEvent<SessionLogRecord>);
    if (record.item !== undefined) items.push(record.item);
    if (record.transactions !== undefined) transactions.push(...record.transactions);
  }
  return { items, transactions };
}

/**
 * The records of a history written from scratch: the first carries the marker, the
 * transactions the history keeps, and the first item, so an `n`-item history is still
 * `n` events; an empty history is one item-less marker.
 */
export function recordsStartingHistory(
  items: readonly AgentInputItem[],
  transactions: readonly AppliedTransaction[] = [],
): SessionLogRecord[] {
  const marker: SessionLogRecord =
    transactions.length === 0 ? { startsHistory: true } : { startsHistory: true, transactions };
  if (items.length === 0) return [marker];
  return items.map((item, index) => (index === 0 ? { ...marker, item } : { item }));
}

/** Records that append `items` to the current history, the first one recording `transaction`. */
export function recordsAppending(
  items: readonly AgentInputItem[],
  transaction?: AppliedTransaction,
): SessionLogRecord[] {
  return items.map((item, index) =>
    index === 0 && transaction !== undefined ? { item, transactions: [transaction] } : { item },
  );
}

/** Items handed in by the runner: an array of objects, else `CONFIG` before any I/O. */
export function readItemList(items: unknown, what: string): AgentInputItem[] {
  if (!Array.isArray(items)) throw new ConfigError(`${what} must be an array of history items`);
  for (const item of items) {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      throw new ConfigError(`every history item of ${what} must be an object`);
    }
  }
  return items as AgentInputItem[];
}

// Another writer of the same log (a raw `sessionLog().append`) may have stored something
// else; returning it as a history item would hand the model garbage.
function readRecord(event: SessionEvent<SessionLogRecord>): SessionLogRecord {
  const record: unknown = event.event;
  if (typeof record !== 'object' || record === null || Array.isArray(record)) {
    throw new CorruptRecordError(`session log event ${event.seq} is not a session record`);
  }
  const { item, startsHistory, transactions } = record as Record<string, unknown>;
  if (startsHistory !== undefined && startsHistory !== true) {
    throw new CorruptRecordError(`session log event ${event.seq} has a malformed history marker`);
  }
  if (transactions !== undefined && !isTransactionList(transactions)) {
    throw new CorruptRecordError(`session log event ${event.seq} has malformed transactions`);
  }
  if (item === undefined) {
    if (startsHistory !== true) {
      throw new CorruptRecordError(`session log event ${event.seq} holds no history item`);
    }
    return record as SessionLogRecord;
  }
  if (typeof item !== 'object' || item === null || Array.isArray(item)) {
    throw new CorruptRecordError(`session log event ${event.seq} holds a malformed history item`);
  }
  return record as SessionLogRecord;
}

function isTransactionList(value: unknown): value is AppliedTransaction[] {
  return (
    Array.isArray(value) &&
    value.every(
      (entry) =>
        typeof entry === 'object' &&
        entry !== null &&
        typeof entry.operationId === 'string' &&
        typeof entry.digest === 'string',
    )
  );
}
