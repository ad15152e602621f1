import { ConfigError, CorruptRecordError, type SessionEvent } from '@entelix/core';
import type { AgentInputItem } from '@openai/agents-core';

/**
 * One event of a session's log. Every history item is one event, so the newest `n`
 * items are the newest `n` events: `getItems(n)` is one `loadLatest` call.
 *
 * A change that is not a plain append (removing the newest item, replacing a suffix,
 * compacting, clearing) is one append that deletes the events it replaces in the same
 * step (`append` with `truncateAfter`), conditional on the head it read (a clear
 * excepted), so it never leaves them behind. A history written from its start begins
 * with one event marked `startsHistory`: anything older a log may still hold (written
 * before changes deleted what they replaced) is superseded, and every read skips it.
 */
export interface SessionLogRecord {
  /** The history item, as the runner gave it. Absent only on the marker of an empty history. */
  readonly item?: AgentInputItem;
  /** The history begins at this event; everything before it is superseded. */
  readonly startsHistory?: true;
  /**
   * History transactions recorded in the same append as the history change they made,
   * so a retried operation id is recognised. They may sit on any event of the history:
   * a change that deletes an event carries the event's transactions on to what it appends.
   */
  readonly transactions?: readonly AppliedTransaction[];
}

/** A history transaction that was applied: its operation id and a digest of its content. */
export interface AppliedTransaction {
  readonly operationId: string;
  readonly digest: string;
}

/** A stored event of the history, checked. */
export interface HistoryEvent {
  readonly seq: number;
  readonly record: SessionLogRecord;
}

/** The current history, or its newest part, within the events a read returned. */
export interface CurrentHistory {
  readonly items: AgentInputItem[];
  /** The transactions recorded on `events`, in the order they were recorded. */
  readonly transactions: AppliedTransaction[];
  /** The events holding `items` (and an empty history's marker), ascending. */
  readonly events: HistoryEvent[];
  /** `events` begin where the history does: at its marker, or at the log's first event. */
  readonly fromStart: boolean;
}

/**
 * Cut `events` (ascending, the newest events of the log) at the newest history marker.
 * `wholeLog` says that `events` are every event the log holds, so that without a
 * marker the history starts at the first of them.
 */
export function currentHistory(
  events: readonly SessionEvent<SessionLogRecord>[],
  wholeLog: boolean,
): CurrentHistory {
  const checked = events.map((event) => ({ seq: event.seq, record: readRecord(event) }));
  const marker = checked.findLastIndex((event) => event.record.startsHistory === true);
  const history = marker === -1 ? checked : checked.slice(marker);
  const items: AgentInputItem[] = [];
  const transactions: AppliedTransaction[] = [];
  for (const { record } of history) {
    if (record.item !== undefined) items.push(record.item);
    if (record.transactions !== undefined) transactions.push(...record.transactions);
  }
  return { items, transactions, events: history, fromStart: marker !== -1 || wholeLog };
}

/** What one conditional append writes: the events it deletes first, then `records`. */
export interface TailReplacement {
  /** Delete the events after this ordinal in the same append; absent: delete nothing. */
  readonly truncateAfter?: number;
  readonly records: SessionLogRecord[];
}

/**
 * The append that replaces the newest `removed` items of `history` with `items` and
 * records `transactions`, touching only the events of the tail it changes.
 *
 * A deleted event may carry transactions, which must survive it (a retried operation
 * id is recognised until `clearSession`), so they move onto the first record appended.
 *
 * The append is never empty, even when nothing replaces the removed items (a `popItem`,
 * a suffix replaced by nothing): a truncation leaves the head where it is, so a writer
 * that read the history before it could not tell, through `expectedHead`, that it
 * happened. Two pops would both remove the same item, or a suffix replacement
 * would be checked against an item that is gone. So the event before the tail is
 * deleted as well and written again with a fresh ordinal, moving the head: one event
 * more to delete and one to append, whatever the history's size.
 *
 * When the deletion reaches the start of the history, what is appended starts the
 * history anew, marker first, so that nothing older (a superseded event never deleted)
 * can come back; an empty history is a marker alone.
 *
 * `history` must hold the event before the tail unless it begins at the history's start:
 * the newest two events are enough for removing one item.
 */
export function replacingTail(
  history: CurrentHistory,
  removed: number,
  items: readonly AgentInputItem[],
  transactions: readonly AppliedTransaction[],
): TailReplacement {
  const { events } = history;
  // Only the first event of a history can be item-less, so the newest `removed` items
  // are the newest `removed` events.
  let from = events.length - removed;
  let replacement = [...items];
  let carried = [
    ...events.slice(from).flatMap((event) => event.record.transactions ?? []),
    ...transactions,
  ];
  if (replacement.length === 0 && !(from === 0 && history.fromStart)) {
    // In range: the caller read the event before the tail (see below). It holds an item
    // unless it is the marker of an empty history.
    const before = events[from - 1] as HistoryEvent;
    from -= 1;
    carried = [...(before.record.transactions ?? []), ...carried];
    if (before.record.item !== undefined) replacement = [before.record.item];
  }
  // A marker is only ever the first event of `events`.
  const restarts = from === 0 && history.fromStart;
  const records = restarts
    ? recordsStartingHistory(replacement, carried)
    : recordsAppending(replacement, carried);
  const first = events[from];
  const truncateAfter = first === undefined ? undefined : first.seq - 1;
  return truncateAfter === undefined ? { records } : { truncateAfter, records };
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

/** Records that append `items` to the current history, the first one recording `transactions`. */
export function recordsAppending(
  items: readonly AgentInputItem[],
  transactions: readonly AppliedTransaction[] = [],
): SessionLogRecord[] {
  return items.map((item, index) =>
    index === 0 && transactions.length > 0 ? { item, transactions } : { item },
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
