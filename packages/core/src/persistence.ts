import type { Checkpointer } from './checkpointer.js';
import type { PayloadOptions } from './envelope.js';
import type { DistributedLock } from './lock.js';
import type { SessionLog } from './session-log.js';
import type { Store } from './store.js';

/** What a backend can promise beyond the contracts every backend meets. */
export interface Capabilities {
  /** Instances in different processes share state (false for memory). */
  readonly multiProcess: boolean;
  /** Tenant isolation is also enforced by the database (row-level security). */
  readonly rls: boolean;
  /** Store items expire by `ttlMs`. */
  readonly ttl: boolean;
  /** Writes accept `{ fence: lease }` and reject stale holders with `FENCED`. */
  readonly fencing: boolean;
}

/** The bundle every backend factory returns. */
export interface Persistence {
  /** A checkpointer whose states are encoded with `options.codec` (strict JSON by default). */
  checkpointer<S>(options?: PayloadOptions<S>): Checkpointer<S>;
  /** A store whose values are encoded with `options.codec` (strict JSON by default). */
  store<V = unknown>(options?: PayloadOptions<V>): Store<V>;
  /** A session log whose events are encoded with `options.codec` (strict JSON by default). */
  sessionLog<E = unknown>(options?: PayloadOptions<E>): SessionLog<E>;
  /** The distributed lock over the same storage. */
  readonly lock: DistributedLock;
  readonly capabilities: Capabilities;
  /** Close what the factory opened itself; a client passed in is never closed. */
  close(): Promise<void>;
}
