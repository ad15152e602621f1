import {
  AbortedError,
  ConfigError,
  FencedError,
  LockLostError,
  LockTimeoutError,
} from './errors.js';
import { ThreadKey } from './ids.js';
import { type DriverCall, startCall, type VerifiedFence } from './kit.js';
import {
  assertPositiveInteger,
  assertTtlMs,
  type CallOptions,
  readOptions,
  readSignal,
} from './options.js';

/**
 * What a fenced write carries: the lock key it was granted for and its fence. A
 * {@link LockLease} is one, so `{ fence: lease }` is the usual way to pass it.
 */
export interface FenceToken {
  readonly key: ThreadKey;
  /** Strictly increasing per key across every grant, in every process. */
  readonly fence: bigint;
}

/** A granted lock. Keep it alive with `extend` (or use {@link withSessionLock}). */
export interface LockLease extends FenceToken {
  /**
   * When the lease runs out, measured from before the grant was requested, so the
   * holder's view is never later than the backend's.
   */
  readonly expiresAt: Date;
  /** Aborted (with a `LOCK_LOST` reason) when the lease expires, is lost or released. */
  readonly signal: AbortSignal;
  /** Push the expiry to `now + ttlMs`. `LOCK_LOST` if the lease has run out or was taken over. */
  extend(ttlMs: number, options?: CallOptions): Promise<void>;
  /** Give the lock up. A second call does nothing; `LOCK_LOST` if it had already run out. */
  release(options?: CallOptions): Promise<void>;
}

/** Options of {@link DistributedLock.tryAcquire}. */
export interface TryAcquireOptions extends CallOptions {
  /**
   * How long the lease lives unless extended: a positive integer of at most
   * `MAX_TTL_MS` (100 years); the lease's timers hold for all of it.
   */
  ttlMs: number;
}

/** Options of {@link DistributedLock.acquire}. */
export interface AcquireOptions extends TryAcquireOptions {
  /** Give up with `LOCK_TIMEOUT` after this long; a positive integer. */
  timeoutMs: number;
}

/** One holder per {@link ThreadKey} across every process that shares the backend. */
export interface DistributedLock {
  /**
   * The lease, or `undefined` when someone else holds a live lease on the key. An abort
   * at any moment rejects with `ABORTED` and gives back a lease granted meanwhile.
   */
  tryAcquire(key: ThreadKey, options: TryAcquireOptions): Promise<LockLease | undefined>;
  /**
   * Wait for the lease; `LOCK_TIMEOUT` after `timeoutMs`. An abort at any moment rejects
   * with `ABORTED` and gives back a lease granted meanwhile.
   */
  acquire(key: ThreadKey, options: AcquireOptions): Promise<LockLease>;
}

/**
 * Reject a fenced write unless its fence is exactly the newest grant for its lock key:
 * an older fence belongs to a holder that was superseded, and a newer one was never
 * granted. Call it in the same atomic step as the write it guards.
 *
 * @param newestFence the newest fence granted for `fence.lockKey`, `0n` before any grant
 * @throws FencedError
 */
export function assertNewestFence(
  fence: VerifiedFence | undefined,
  newestFence: bigint,
  backend: string,
): void {
  if (fence === undefined || fence.fence === newestFence) return;
  throw fencedError(backend);
}

/** Why a write is `FENCED`: a lease that has lost its key, or a fence never granted. */
export const FENCED_REASON =
  'the fence is not the newest lease granted for its key (a newer one was granted since, or it never was)';

/** The `FENCED` error of a write whose fence is not the newest grant. */
export function fencedError(backend: string, cause?: unknown): FencedError {
  return new FencedError(`${FENCED_REASON}; nothing was written`, {
    backend,
    cause,
  });
}

// ---------------------------------------------------------------------------------
// The adapter kit's side

/**
 * The storage operations of a lock: a lease table and a fence counter per lock key
 * that outlives every lease. Each operation is one atomic step of the backend.
 */
export interface LockDriver {
  /**
   * Grant the lease when the key is free or its lease has expired: bump the key's
   * fence counter, store the lease for `ttlMs` and return the new fence. `undefined`
   * while another live lease holds the key.
   */
  grant(key: ThreadKey, ttlMs: number, call: DriverCall): Promise<bigint | undefined>;
  /** Extend to `ttlMs` from now if the stored lease is still this fence's and live. */
  extend(key: ThreadKey, fence: bigint, ttlMs: number, call: DriverCall): Promise<boolean>;
  /** End the lease if it is still this fence's and live; the fence counter stays. */
  release(key: ThreadKey, fence: bigint, call: DriverCall): Promise<boolean>;
}

/**
 * Build a {@link DistributedLock} from a backend's lock operations. Validation, the
 * abort checks, `acquire`'s polling and the lease handle are the same for every
 * backend, so they live here.
 */
export function createDistributedLock(driver: LockDriver, backend: string): DistributedLock {
  const attempt = async (
    key: ThreadKey,
    ttlMs: number,
    signal: AbortSignal | undefined,
  ): Promise<LockLease | undefined> => {
    const requestedAt = Date.now();
    const grant = driver
      .grant(key, ttlMs, { signal })
      .then((fence) =>
        fence === undefined
          ? undefined
          : createLockLease({ key, fence, ttlMs, requestedAt }, driver, backend),
      );
    return abortable(grant, signal, backend, (lease) => {
      // The abort won the race: give back what was granted meanwhile.
      void lease?.release().catch(() => undefined);
    });
  };

  return {
    async tryAcquire(key, options) {
      const threadKey = ThreadKey.from(key);
      const opts = readOptions<TryAcquireOptions>(options, 'lock options');
      const ttlMs = assertTtlMs(opts.ttlMs);
      const signal = readSignal(opts.signal);
      startCall(signal, backend);
      return attempt(threadKey, ttlMs, signal);
    },

    async acquire(key, options) {
      const threadKey = ThreadKey.from(key);
      const opts = readOptions<AcquireOptions>(options, 'lock options');
      const ttlMs = assertTtlMs(opts.ttlMs);
      const timeoutMs = assertPositiveInteger(opts.timeoutMs, 'timeoutMs');
      const signal = readSignal(opts.signal);
      startCall(signal, backend);
      const deadline = Date.now() + timeoutMs;
      let delayMs = 5;
      for (;;) {
        const lease = await attempt(threadKey, ttlMs, signal);
        if (lease !== undefined) return lease;
        const remainingMs = deadline - Date.now();
        if (remainingMs <= 0) {
          throw new LockTimeoutError(
            `the lock on ${describeLockKey(threadKey)} was not granted within ${timeoutMs} ms: another lease held it all that time`,
            { backend },
          );
        }
        await sleep(Math.min(remainingMs, delayMs * (0.5 + Math.random())), signal, backend);
        delayMs = Math.min(delayMs * 2, 250);
      }
    },
  };
}

function describeLockKey(key: ThreadKey): string {
  return `thread ${JSON.stringify(key.threadId)} of tenant ${JSON.stringify(key.tenantId)}`;
}

function abortedError(signal: AbortSignal | undefined, backend: string): AbortedError {
  return new AbortedError('the operation was aborted', { cause: signal?.reason, backend });
}

/**
 * Settle with `work`, or reject with `ABORTED` as soon as the signal aborts. When the
 * abort wins, `late` receives what `work` resolves with once it does.
 */
function abortable<T>(
  work: Promise<T>,
  signal: AbortSignal | undefined,
  backend: string,
  late: (value: T) => void,
): Promise<T> {
  if (signal === undefined) return work;
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const onAbort = () => {
      if (settled) return;
      settled = true;
      reject(abortedError(signal, backend));
      work.then(late, () => undefined);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        if (settled) return;
        settled = true;
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        if (settled) return;
        settled = true;
        reject(error);
      },
    );
    if (signal.aborted) onAbort();
  });
}

function sleep(ms: number, signal: AbortSignal | undefined, backend: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortedError(signal, backend));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortedError(signal, backend));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

// Node fires a timer of 2^31 ms or more after 1 ms; longer waits are a chain of these.
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A timer that fires at `atMs` (epoch milliseconds) however far away, and never holds the process open. */
function timerAt(atMs: number, fire: () => void): { clear(): void } {
  let handle: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    const remainingMs = atMs - Date.now();
    if (remainingMs <= 0) {
      handle = undefined;
      fire();
      return;
    }
    handle = setTimeout(arm, Math.min(remainingMs, MAX_TIMER_MS));
    handle.unref?.();
  };
  arm();
  return {
    clear() {
      if (handle !== undefined) clearTimeout(handle);
      handle = undefined;
    },
  };
}

/**
 * The lease handle: it keeps the holder's expiry (measured from `requestedAt`, before
 * the grant was asked for), aborts `signal` when that passes, and turns a failed
 * extend or release into `LOCK_LOST`.
 */
function createLockLease(
  grant: { key: ThreadKey; fence: bigint; ttlMs: number; requestedAt: number },
  driver: LockDriver,
  backend: string,
): LockLease {
  const { key, fence } = grant;
  const controller = new AbortController();
  let expiresAtMs = grant.requestedAt + grant.ttlMs;
  let released = false;
  let expiry: { clear(): void } | undefined;

  const lose = (message: string) => {
    expiry?.clear();
    expiry = undefined;
    if (!controller.signal.aborted) {
      controller.abort(new LockLostError(message, { backend }));
    }
  };
  const armExpiry = () => {
    expiry?.clear();
    expiry = timerAt(expiresAtMs, () => lose('the lease expired'));
  };
  armExpiry();

  const lost = (message: string) =>
    new LockLostError(message, { backend, cause: controller.signal.reason });

  return {
    key,
    fence,
    get expiresAt() {
      return new Date(expiresAtMs);
    },
    signal: controller.signal,
    async extend(ttlMs: number, options?: CallOptions): Promise<void> {
      const validTtl = assertTtlMs(ttlMs);
      const signal = readSignal(readOptions<CallOptions>(options, 'extend options').signal);
      startCall(signal, backend);
      if (released) throw lost('the lease was released');
      if (controller.signal.aborted) throw lost('the lease was lost before extend');
      const requestedAt = Date.now();
      const extended = await driver.extend(key, fence, validTtl, { signal });
      if (!extended) {
        lose('the lease was taken over or expired');
        throw lost('the lease was taken over or expired');
      }
      if (released) return;
      expiresAtMs = requestedAt + validTtl;
      armExpiry();
    },
    async release(options?: CallOptions): Promise<void> {
      const signal = readSignal(readOptions<CallOptions>(options, 'release options').signal);
      startCall(signal, backend);
      if (released) return;
      released = true;
      const wasLive = controller.signal.aborted === false;
      lose('the lease was released');
      const deleted = await driver.release(key, fence, { signal });
      if (!deleted) {
        throw new LockLostError(
          wasLive ? 'the lease was taken over before release' : 'the lease expired before release',
          { backend },
        );
      }
    },
  };
}

// ---------------------------------------------------------------------------------
// withSessionLock

/** Options of {@link withSessionLock}. */
export interface SessionLockOptions extends CallOptions {
  /** Lease TTL, renewed every third of it while the callback runs. Default 30 000. */
  ttlMs?: number;
  /** How long to wait for the lock. Default 5 000. */
  timeoutMs?: number;
}

/** Default lease TTL of {@link withSessionLock}. */
export const DEFAULT_SESSION_LOCK_TTL_MS = 30_000;
/** Default acquire timeout of {@link withSessionLock}. */
export const DEFAULT_SESSION_LOCK_TIMEOUT_MS = 5_000;

/**
 * Run `fn` while holding the thread's lock: acquire (waiting up to `timeoutMs`),
 * extend every `ttlMs / 3` while `fn` runs, abort `lease.signal` if the lease is lost,
 * and release in `finally`. An abort of `signal` before the lease is granted rejects
 * with `ABORTED` and `fn` never runs.
 *
 * Pass `{ fence: lease }` to writes inside `fn` so a holder that lost the lease cannot
 * overwrite its successor. If `fn` fails, its error is thrown; otherwise a failed
 * release (`LOCK_LOST`: the lease ran out while `fn` ran) is thrown, since exclusive
 * access was not guaranteed for the whole call.
 *
 * @example
 * ```ts
 * const result = await withSessionLock(persistence.lock, key, async (lease) => {
 *   const latest = await checkpointer.getLatest(key);
 *   await checkpointer.put(next(latest), { fence: lease });
 * });
 * ```
 */
export async function withSessionLock<T>(
  lock: DistributedLock,
  key: ThreadKey,
  fn: (lease: LockLease) => Promise<T>,
  options: SessionLockOptions = {},
): Promise<T> {
  if (typeof (lock as Partial<DistributedLock> | null)?.acquire !== 'function') {
    throw new ConfigError('withSessionLock needs a DistributedLock (persistence.lock)');
  }
  const opts = readOptions<SessionLockOptions>(options, 'withSessionLock options');
  const ttlMs = assertTtlMs(opts.ttlMs === undefined ? DEFAULT_SESSION_LOCK_TTL_MS : opts.ttlMs);
  const timeoutMs = assertPositiveInteger(
    opts.timeoutMs === undefined ? DEFAULT_SESSION_LOCK_TIMEOUT_MS : opts.timeoutMs,
    'timeoutMs',
  );
  const signal = readSignal(opts.signal);
  if (typeof fn !== 'function') throw new ConfigError('withSessionLock needs a callback function');
  const lease = await lock.acquire(ThreadKey.from(key), { ttlMs, timeoutMs, signal });
  if (signal?.aborted) {
    await lease.release().catch(() => undefined);
    throw abortedError(signal, 'core');
  }

  let stopped = false;
  let heartbeat: { clear(): void } | undefined;
  let inFlight: Promise<void> | undefined;
  const beat = () => {
    if (stopped || lease.signal.aborted) return;
    inFlight = lease.extend(ttlMs).then(
      () => undefined,
      // LOCK_LOST has already aborted lease.signal; a transient backend failure is
      // retried on the next beat, and the lease's own timer aborts if time runs out.
      () => undefined,
    );
    void inFlight.then(schedule);
  };
  const schedule = () => {
    if (stopped || lease.signal.aborted) return;
    heartbeat = timerAt(Date.now() + Math.max(1, Math.floor(ttlMs / 3)), beat);
  };
  schedule();
  const stop = async () => {
    stopped = true;
    heartbeat?.clear();
    await inFlight;
  };

  let result: T;
  try {
    result = await fn(lease);
  } catch (error) {
    await stop();
    await lease.release().catch(() => {
      // The callback's error is what the caller needs; the lease expires on its own.
    });
    throw error;
  }
  await stop();
  await lease.release();
  return result;
}
