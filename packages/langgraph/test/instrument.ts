import type { Persistence } from '@entelix/core';

/**
 * What the counting proxies saw: calls per contract method, such as `checkpointer.put`,
 * and `checkpointer.put parentWrites`: the task batches puts carried for their parents.
 */
export interface CallLog {
  readonly counts: Map<string, number>;
  /** Every call, in the order made. */
  readonly calls: string[];
  total(): number;
  reset(): void;
}

export interface InstrumentOptions {
  /** Milliseconds to hold each call of a method before it reaches the backend. */
  delayMs?: (method: string) => number;
}

/**
 * Wrap a bundle so every call of its contract objects (checkpointer, store, session
 * log, lock, purgeTenant) is counted: each is one Entelix contract call, which each
 * backend runs as one backend call.
 */
export function instrument(
  persistence: Persistence,
  options: InstrumentOptions = {},
): { persistence: Persistence; log: CallLog } {
  const counts = new Map<string, number>();
  const calls: string[] = [];
  const log: CallLog = {
    counts,
    calls,
    total: () => calls.length,
    reset() {
      counts.clear();
      calls.length = 0;
    },
  };
  const count = <T extends object>(contract: string, target: T): T =>
    new Proxy(target, {
      get(object, property, receiver) {
        const value = Reflect.get(object, property, receiver);
        if (typeof value !== 'function' || property === 'create') return value;
        const method = `${contract}.${String(property)}`;
        return async (...args: unknown[]) => {
          counts.set(method, (counts.get(method) ?? 0) + 1);
          calls.push(method);
          if (method === 'checkpointer.put') {
            const carried = (args[1] as { parentWrites?: unknown[] } | undefined)?.parentWrites;
            const label = 'checkpointer.put parentWrites';
            counts.set(label, (counts.get(label) ?? 0) + (carried?.length ?? 0));
          }
          const delayMs = options.delayMs?.(method) ?? 0;
          if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
          return (value as (...a: unknown[]) => unknown).apply(object, args);
        };
      },
    });
  const wrapped: Persistence = {
    checkpointer: (opts) => count('checkpointer', persistence.checkpointer(opts)),
    store: (opts) => count('store', persistence.store(opts)),
    sessionLog: (opts) => count('sessionLog', persistence.sessionLog(opts)),
    lock: count('lock', persistence.lock),
    capabilities: persistence.capabilities,
    purgeTenant: (tenantId, opts) => {
      counts.set('purgeTenant', (counts.get('purgeTenant') ?? 0) + 1);
      calls.push('purgeTenant');
      return persistence.purgeTenant(tenantId, opts);
    },
    close: () => persistence.close(),
  };
  return { persistence: wrapped, log };
}
