import {
  AbortedError,
  ConfigError,
  FencedError,
  LockLostError,
  LockTimeoutError,
  throwIfAborted,
} from './errors.js';
import { describe, ThreadKey } from './ids.js';
import { assertPositiveInteger, type CallOptions, readOptions } from './options.js';

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
  /** How long the lease lives unless extended; a positive integer. */
  ttlMs: number;
}

/** Options of {@link DistributedLock.acquire}. */
export interface AcquireOptions extends TryAcquireOptions {
  /** Give up with `LOCK_TIMEOUT` after this long; a positive integer. */
  timeoutMs: number;
}

/** One holder per {@link ThreadKey} across every process that shares the backend. */
export interface DistributedLock {
  /** The lease, or `undefined` when someone else holds a live lease on the key. */
  tryAcquire(key: ThreadKey, options: TryAcquireOptions): Promise<LockLease | undefined>;
  /** Wait for the lease; `LOCK_TIMEOUT` after `timeoutMs`, `ABORTED` on the signal. */
  acquire(key: ThreadKey, options: AcquireOptions): Promise<LockLease>;
}

/**
 * The storage key of a thread's lock: an injective rendering of tenant and thread,
 * the same in every backend so a lease's identity never depends on where it lives.
 */
export function lockKeyOf(key: ThreadKey): string {
  return ThreadKey.render(key);
}

/** Validated `tryAcquire` arguments. */
export function readTryAcquireArguments(
  key: unknown,
  options: unknown,
): { key: ThreadKey; ttlMs: number; signal: AbortSignal | undefined } {
  const threadKey = ThreadKey.from(key);
  const opts = readOptions<TryAcquireOptions>(options, 'lock options');
  return { key: threadKey, ttlMs: assertPositiveInteger(opts.ttlMs, 'ttlMs'), signal: opts.signal };
}

/** Validated `acquire` arguments. */
export function readAcquireArguments(
  key: unknown,
  options: unknown,
): { key: ThreadKey; ttlMs: number; timeoutMs: number; signal: AbortSignal | undefined } {
  const base = readTryAcquireArguments(key, options);
  const opts = readOptions<AcquireOptions>(options, 'lock options');
  return { ...base, timeoutMs: assertPositiveInteger(opts.timeoutMs, 'timeoutMs') };
}

/**
 * Validate the `fence` of a write. The lease must belong to the tenant being written:
 * a lease never authorises writes into another tenant's data.
 *
 * @returns the lock key and fence to check atomically with the write, or `undefined`
 */
export function readFence(
  fence: unknown,
  tenantId: string,
  backend: string,
): { key: ThreadKey; lockKey: string; fence: bigint } | undefined {
  if (fence === undefined) return undefined;
  if (typeof fence !== 'object' || fence === null) {
    throw new ConfigError(`fence must be a lease or { key, fence }, got ${describe(fence)}`, {
      backend,
    });
  }
  const token = fence as Record<string, unknown>;
  const key = ThreadKey.from(token.key);
  if (typeof token.fence !== 'bigint' || token.fence <= 0n) {
    throw new ConfigError('fence.fence must be a positive bigint', { backend });
  }
  if (key.tenantId !== tenantId) {
    throw new ConfigError('the fence lease belongs to another tenant than the write', { backend });
  }
  return { key, lockKey: lockKeyOf(key), fence: token.fence };
}

/** What a backend supplies to {@link createLockLease}. */
export interface LeaseBackend {
  /** Backend name for error messages. */
  backend: string;
  /**
   * Extend the stored lease to `ttlMs` from now if it is still this grant's and live.
   * Resolves `false` when it is not (expired or taken over).
   */
  extend(ttlMs: number, signal: AbortSignal | undefined): Promise<boolean>;
  /** Delete the stored lease if it is still this grant's and live; `false` otherwise. */
  release(signal: AbortSignal | undefined): Promise<boolean>;
}

/**
 * Build the lease handle every backend returns. It keeps the holder's expiry (measured
 * from `requestedAt`, before the grant was asked for), aborts `signal` when that passes,
 * and turns a failed extend or release into `LOCK_LOST`.
 *
 * @param requestedAt `Date.now()` taken before the grant request was sent
 */
export function createLockLease(
  grant: { key: ThreadKey; fence: bigint; ttlMs: number; requestedAt: number },
  remote: LeaseBackend,
): LockLease {
  const controller = new AbortController();
  let expiresAtMs = grant.requestedAt + grant.ttlMs;
  let released = false;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const lose = (message: string) => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (!controller.signal.aborted) {
      controller.abort(new LockLostError(message, { backend: remote.backend }));
    }
  };
  const armExpiryTimer = () => {
    if (timer !== undefined) clearTimeout(timer);
    // An expired lease must not keep the process alive.
    timer = setTimeout(() => lose('the lease expired'), Math.max(0, expiresAtMs - Date.now()));
    timer.unref?.();
  };
  armExpiryTimer();

  const lost = (message: string) =>
    new LockLostError(message, { backend: remote.backend, cause: controller.signal.reason });

  return {
    key: grant.key,
    fence: grant.fence,
    get expiresAt() {
      return new Date(expiresAtMs);
    },
    signal: controller.signal,
    async extend(ttlMs: number, options?: CallOptions): Promise<void> {
      const validTtl = assertPositiveInteger(ttlMs, 'ttlMs');
      const signal = readOptions<CallOptions>(options).signal;
      throwIfAborted(signal, remote.backend);
      if (released) throw lost('the lease was released');
      if (controller.signal.aborted) throw lost('the lease was lost before extend');
      const requestedAt = Date.now();
      const extended = await remote.extend(validTtl, signal);
      if (!extended) {
        lose('the lease was taken over or expired');
        throw lost('the lease was taken over or expired');
      }
      if (released) return;
      expiresAtMs = requestedAt + validTtl;
      armExpiryTimer();
    },
    async release(options?: CallOptions): Promise<void> {
      const signal = readOptions<CallOptions>(options).signal;
      throwIfAborted(signal, remote.backend);
      if (released) return;
      released = true;
      const wasLive = controller.signal.aborted === false;
      lose('the lease was released');
      const deleted = await remote.release(signal);
      if (!deleted) {
        throw new LockLostError(
          wasLive ? 'the lease was taken over before release' : 'the lease expired before release',
          { backend: remote.backend },
        );
      }
    },
  };
}

/**
 * Retry `tryAcquire` with capped, jittered backoff until it grants a lease, the
 * timeout passes (`LOCK_TIMEOUT`) or the signal aborts (`ABORTED`).
 */
export async function acquireByPolling(
  tryAcquire: () => Promise<LockLease | undefined>,
  options: { timeoutMs: number; signal: AbortSignal | undefined; backend: string },
): Promise<LockLease> {
  const { timeoutMs, signal, backend } = options;
  throwIfAborted(signal, backend);
  const deadline = Date.now() + timeoutMs;
  let delayMs = 5;
  for (;;) {
    const lease = await tryAcquire();
    if (lease !== undefined) return lease;
    const remainingMs = deadline - Date.now();
    if (remainingMs <= 0) {
      throw new LockTimeoutError(`the lock was not granted within ${timeoutMs} ms`, { backend });
    }
    await sleep(Math.min(remainingMs, delayMs * (0.5 + Math.random())), signal, backend);
    delayMs = Math.min(delayMs * 2, 250);
  }
}

function sleep(ms: number, signal: AbortSignal | undefined, backend: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(new AbortedError('the operation was aborted', { cause: signal?.reason, backend }));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

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
 * and release in `finally`.
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
  const opts = readOptions<SessionLockOptions>(options, 'withSessionLock options');
  const ttlMs = assertPositiveInteger(opts.ttlMs ?? DEFAULT_SESSION_LOCK_TTL_MS, 'ttlMs');
  const timeoutMs = assertPositiveInteger(
    opts.timeoutMs ?? DEFAULT_SESSION_LOCK_TIMEOUT_MS,
    'timeoutMs',
  );
  if (typeof fn !== 'function') throw new ConfigError('withSessionLock needs a callback function');
  const lease = await lock.acquire(ThreadKey.from(key), { ttlMs, timeoutMs, signal: opts.signal });

  let stopped = false;
  let heartbeat: ReturnType<typeof setTimeout> | undefined;
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
    heartbeat = setTimeout(beat, Math.max(1, Math.floor(ttlMs / 3)));
    heartbeat.unref?.();
  };
  schedule();

  let result: T;
  try {
    result = await fn(lease);
  } catch (error) {
    stopped = true;
    if (heartbeat !== undefined) clearTimeout(heartbeat);
    await inFlight;
    await lease.release().catch(() => {
      // The callback's error is what the caller needs; the lease expires on its own.
    });
    throw error;
  }
  stopped = true;
  if (heartbeat !== undefined) clearTimeout(heartbeat);
  await inFlight;
  await lease.release();
  return result;
}

/**
 * Reject a fenced write unless its fence is exactly the newest grant for its lock key:
 * an older fence belongs to a holder that was superseded, and a newer one was never
 * granted. Call it in the same atomic step as the write it guards.
 *
 * @param token what {@link readFence} returned, or `undefined` for an unfenced write
 * @param newestFence the newest fence granted for `token.lockKey`, `0n` before any grant
 * @throws FencedError
 */
export function assertNewestFence(
  token: { fence: bigint } | undefined,
  newestFence: bigint,
  backend: string,
): void {
  if (token === undefined || token.fence === newestFence) return;
  throw new FencedError(
    `fence ${token.fence} is not the newest grant (${newestFence}) for its lock`,
    { backend },
  );
}

/**
 * One atomic grant attempt of a backend: the lease when the key is free (or its lease
 * has expired), `undefined` when a live lease holds it. Arguments are already validated.
 */
export type GrantAttempt = (key: ThreadKey, ttlMs: number) => Promise<LockLease | undefined>;

/**
 * Build a {@link DistributedLock} from a backend's single grant attempt. Validation,
 * the abort check before any I/O, and `acquire`'s polling are the same for every
 * backend, so they live here.
 */
export function createDistributedLock(
  backend: string,
  attemptGrant: GrantAttempt,
): DistributedLock {
  return {
    async tryAcquire(key, options) {
      const args = readTryAcquireArguments(key, options);
      throwIfAborted(args.signal, backend);
      return attemptGrant(args.key, args.ttlMs);
    },
    async acquire(key, options) {
      const args = readAcquireArguments(key, options);
      return acquireByPolling(() => attemptGrant(args.key, args.ttlMs), {
        timeoutMs: args.timeoutMs,
        signal: args.signal,
        backend,
      });
    },
  };
}
