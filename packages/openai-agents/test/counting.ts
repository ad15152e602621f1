import type { Persistence, SessionEvent } from '@entelix/core';

/** What a bundle's session logs were asked, counted by {@link countSessionLog}. */
export interface SessionLogTally {
  /** The session-log methods called, in order: each is one backend call. */
  readonly calls: string[];
  /** Events that `loadSince` and `loadLatest` returned. */
  readonly eventsRead: number;
  /** Events handed to `append`. */
  readonly eventsAppended: number;
  reset(): void;
}

/** Wrap `persistence` so that every call of its session logs is counted. */
export function countSessionLog(persistence: Persistence): {
  persistence: Persistence;
  tally: SessionLogTally;
} {
  const calls: string[] = [];
  let eventsRead = 0;
  let eventsAppended = 0;
  const tally: SessionLogTally = {
    calls,
    get eventsRead() {
      return eventsRead;
    },
    get eventsAppended() {
      return eventsAppended;
    },
    reset() {
      calls.length = 0;
      eventsRead = 0;
      eventsAppended = 0;
    },
  };
  const sessionLog: Persistence['sessionLog'] = (options) =>
    new Proxy(persistence.sessionLog(options), {
      get(log, property, receiver) {
        const value = Reflect.get(log, property, receiver);
        if (typeof value !== 'function') return value;
        return async (...args: unknown[]) => {
          calls.push(String(property));
          if (property === 'append') eventsAppended += (args[1] as readonly unknown[]).length;
          const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(log, args);
          if (property === 'loadSince' || property === 'loadLatest') {
            eventsRead += (result as readonly SessionEvent<unknown>[]).length;
          }
          return result;
        };
      },
    });
  return { persistence: { ...persistence, sessionLog }, tally };
}
