import { type Checkpointer, type CheckpointerDriver, createCheckpointer } from './checkpointer.js';
import { createPayloadFormat, type PayloadOptions } from './envelope.js';
import { BackendError, CorruptRecordError } from './errors.js';
import { TenantId } from './ids.js';
import { type DriverCall, startCall } from './kit.js';
import { createDistributedLock, type DistributedLock, type LockDriver } from './lock.js';
import { type CallOptions, readOptions, readSignal } from './options.js';
import { createSessionLog, type SessionLog, type SessionLogDriver } from './session-log.js';
import { createStore, type Store, type StoreDriver } from './store.js';

/** What a backend can promise beyond the contracts every backend meets. */
export interface Capabilities {
  /** Instances in different processes share state (false for memory). */
  readonly multiProcess: boolean;
  /**
   * Tenant isolation is also enforced by the database (row-level security) for the
   * role this bundle is connected as.
   */
  readonly rls: boolean;
  /** Store items expire by `ttlMs`. */
  readonly ttl: boolean;
  /** Writes accept `{ fence: lease }` and reject stale holders with `FENCED`. */
  readonly fencing: boolean;
}

/** Options of {@link Persistence.checkpointer}: how states, and pending writes, are encoded. */
export interface CheckpointerOptions<S, W = unknown> extends PayloadOptions<S> {
  /** How pending write values are encoded; strict JSON by default. */
  writes?: PayloadOptions<W>;
}

/** What {@link Persistence.purgeTenant} erased. */
export interface PurgeCounts {
  readonly checkpoints: number;
  readonly writes: number;
  readonly storeItems: number;
  readonly events: number;
}

/** The bundle every backend factory returns. */
export interface Persistence {
  /** A checkpointer whose states are encoded with `options.codec` (strict JSON by default). */
  checkpointer<S, W = unknown>(options?: CheckpointerOptions<S, W>): Checkpointer<S, W>;
  /** A store whose values are encoded with `options.codec` (strict JSON by default). */
  store<V = unknown>(options?: PayloadOptions<V>): Store<V>;
  /** A session log whose events are encoded with `options.codec` (strict JSON by default). */
  sessionLog<E = unknown>(options?: PayloadOptions<E>): SessionLog<E>;
  /** The distributed lock over the same storage. */
  readonly lock: DistributedLock;
  readonly capabilities: Capabilities;
  /**
   * Erase everything the tenant has in every contract: checkpoints with their pending
   * writes, store items (expired ones included) and session events; returns the counts.
   * Idempotent in what it erases: a second call finds nothing and returns zeros (the
   * counters below move again). Two kinds of counter stay, holding no payload: session
   * heads, so ordinals are never handed out twice (`sessionLog.listThreads` still lists
   * those threads), each moved one past as `sessionLog.deleteThread` moves it, so an
   * append conditional on a head read before the purge is `CONFLICT` after it; and
   * fence counters, each moved past its newest grant with every lease ended, so a lease
   * granted before the purge never passes fencing after it.
   */
  purgeTenant(tenantId: string, options?: CallOptions): Promise<PurgeCounts>;
  /** Close what the factory opened itself; a client passed in is never closed. */
  close(): Promise<void>;
}

/** What a backend hands to {@link createPersistence}: its name, promises and drivers. */
export interface PersistenceDriver {
  /** Appears in every error message: `[entelix] [<backend>] ...`. */
  readonly backend: string;
  readonly capabilities: Capabilities;
  readonly checkpointer: CheckpointerDriver;
  readonly store: StoreDriver;
  readonly sessionLog: SessionLogDriver;
  readonly lock: LockDriver;
  /** Erase the tenant's data (keeping fence counters) and return the counts. */
  purgeTenant(tenantId: TenantId, call: DriverCall): Promise<PurgeCounts>;
  /** Close what the factory opened. */
  close(): Promise<void>;
}

/**
 * Build the public {@link Persistence} bundle over a backend's drivers: each contract
 * instance gets its payload formats here, and every call is validated here, in one
 * order, before the driver sees it.
 */
export function createPersistence(backendDriver: PersistenceDriver): Persistence {
  const { backend } = backendDriver;
  let closed = false;
  const driver = refusedOnceClosed(backendDriver, () => closed, backend);
  return {
    checkpointer: (options) =>
      createCheckpointer(driver.checkpointer, {
        backend,
        states: createPayloadFormat(options, backend),
        writes: createPayloadFormat(options?.writes, backend),
      }),
    store: (options) =>
      createStore(driver.store, { backend, values: createPayloadFormat(options, backend) }),
    sessionLog: (options) =>
      createSessionLog(driver.sessionLog, {
        backend,
        events: createPayloadFormat(options, backend),
      }),
    lock: createDistributedLock(driver.lock, backend),
    capabilities: Object.freeze({ ...driver.capabilities }),
    async purgeTenant(tenantId, options) {
      const tenant = TenantId.parse(tenantId);
      const call = startCall(
        readSignal(readOptions<CallOptions>(options, 'purgeTenant options').signal),
        backend,
      );
      const counts = await driver.purgeTenant(tenant, call);
      for (const name of ['checkpoints', 'writes', 'storeItems', 'events'] as const) {
        const count = counts?.[name];
        if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) {
          throw new CorruptRecordError(`purgeTenant returned a malformed ${name} count`, {
            backend,
          });
        }
      }
      return {
        checkpoints: counts.checkpoints,
        writes: counts.writes,
        storeItems: counts.storeItems,
        events: counts.events,
      };
    },
    close: () => {
      closed = true;
      return backendDriver.close();
    },
  };
}

/**
 * The driver, each of whose methods rejects with `BACKEND` once the bundle is closed
 * instead of running. A client passed in stays open after `close()`, so without this a
 * closed bundle over one would go on working on some backends and not on others. Calls
 * already running are the driver's to settle.
 */
function refusedOnceClosed(
  driver: PersistenceDriver,
  isClosed: () => boolean,
  backend: string,
): PersistenceDriver {
  const refusing =
    <A extends unknown[], R>(method: (...args: A) => Promise<R>, self: unknown) =>
    (...args: A): Promise<R> =>
      isClosed()
        ? Promise.reject(new BackendError('the persistence bundle is closed', { backend }))
        : method.apply(self, args);
  const guard = <T extends object>(part: T): T => {
    // Inherits what is not a method; methods found up the prototype chain too, so a
    // driver written as a class is guarded like one written as an object literal.
    const guarded = Object.create(part) as Record<string, unknown>;
    for (let level = part; level !== Object.prototype && level !== null; ) {
      for (const name of Object.getOwnPropertyNames(level)) {
        const method = Object.getOwnPropertyDescriptor(level, name)?.value;
        if (
          name === 'constructor' ||
          typeof method !== 'function' ||
          Object.hasOwn(guarded, name)
        ) {
          continue;
        }
        guarded[name] = refusing(method, part);
      }
      level = Object.getPrototypeOf(level);
    }
    return guarded as T;
  };
  return {
    backend,
    capabilities: driver.capabilities,
    checkpointer: guard(driver.checkpointer),
    store: guard(driver.store),
    sessionLog: guard(driver.sessionLog),
    lock: guard(driver.lock),
    purgeTenant: refusing(driver.purgeTenant, driver),
    close: () => driver.close(),
  };
}
