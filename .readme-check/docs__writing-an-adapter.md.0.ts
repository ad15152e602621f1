import type {
  Capabilities,
  Checkpointer,
  CheckpointerOptions,
  DistributedLock,
  PayloadOptions,
  PurgeCounts,
  SessionLog,
  Store,
} from '@entelix/core';

interface Persistence {
  checkpointer<S, W = unknown>(options?: CheckpointerOptions<S, W>): Checkpointer<S, W>;
  store<V = unknown>(options?: PayloadOptions<V>): Store<V>;
  sessionLog<E = unknown>(options?: PayloadOptions<E>): SessionLog<E>;
  readonly lock: DistributedLock;
  readonly capabilities: Capabilities; // { multiProcess, rls, ttl, fencing }
  purgeTenant(tenantId: string): Promise<PurgeCounts>;
  close(): Promise<void>;
}

export {};
