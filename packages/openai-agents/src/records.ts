import { CorruptRecordError, type SessionEvent } from '@entelix/core';
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
}

/** The current history within `events` (ascending): what follows the newest marker. */
export interface CurrentHistory {
  readonly items: AgentInputItem[];
  /** Ordinal of the newest marker among `events`, `0` if none. */
  readonly startSeq: number;
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
  for (let i = start; i < events.length; i++) {
    const { item } = readRecord(events[i] as SessionEvent<SessionLogRecord>);
    if (item !== undefined) items.push(item);
  }
  return { items, startSeq: start < events.length ? (events[start]?.seq ?? 0) : 0 };
}

/**
 * The records of a history written from scratch: the first carries the marker (and the
 * first item, so an `n`-item history is still `n` events); an empty history is one
 * item-less marker.
 */
export function recordsStartingHistory(items: readonly AgentInputItem[]): SessionLogRecord[] {
  if (items.length === 0) return [{ startsHistory: true }];
  return items.map((item, index) => (index === 0 ? { startsHistory: true, item } : { item }));
}

/** Records that append `items` to the current history. */
export function recordsAppending(items: readonly AgentInputItem[]): SessionLogRecord[] {
  return items.map((item) => ({ item }));
}

// Another writer of the same log (a raw `sessionLog().append`) may have stored something
// else; returning it as a history item would hand the model garbage.
function readRecord(event: SessionEvent<SessionLogRecord>): SessionLogRecord {
  const record: unknown = event.event;
  if (typeof record !== 'object' || record === null || Array.isArray(record)) {
    throw new CorruptRecordError(`session log event ${event.seq} is not a session record`);
  }
  const { item, startsHistory } = record as Record<string, unknown>;
  if (startsHistory !== undefined && startsHistory !== true) {
    throw new CorruptRecordError(`session log event ${event.seq} has a malformed history marker`);
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
