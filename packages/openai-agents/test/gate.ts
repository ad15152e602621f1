import type { Persistence, SessionLog } from '@entelix/core';

/** A bundle whose first conditional append waits until the test lets it go. */
export interface PausedAppends {
  readonly persistence: Persistence;
  /** Resolves when the first conditional append is waiting. */
  readonly reached: Promise<void>;
  release(): void;
}

/**
 * Wrap `persistence` so that the first `append` with `expectedHead` stops before it
 * reaches the backend: the moment between a rewrite's read and its write, where a
 * concurrent writer can come first. Later conditional appends pass straight through.
 */
export function pauseConditionalAppends(persistence: Persistence): PausedAppends {
  let arrive!: () => void;
  let release!: () => void;
  const reached = new Promise<void>((resolve) => {
    arrive = resolve;
  });
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let paused = false;
  const sessionLog = <E>(options?: Parameters<Persistence['sessionLog']>[0]): SessionLog<E> => {
    const log = persistence.sessionLog<E>(options as never);
    return {
      ...log,
      async append(key, events, appendOptions) {
        if (appendOptions?.expectedHead !== undefined && !paused) {
          paused = true;
          arrive();
          await released;
        }
        return log.append(key, events, appendOptions);
      },
    };
  };
  return { persistence: { ...persistence, sessionLog }, reached, release };
}
