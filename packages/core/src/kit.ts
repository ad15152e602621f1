import { AbortedError, ConfigError } from './errors.js';
import { describeValue, ThreadKey } from './ids.js';
import type { FenceToken } from './lock.js';
import { readOptions, readSignal, type WriteOptions } from './options.js';

/** What every driver operation receives besides its own arguments. */
export interface DriverCall {
  /**
   * The caller's signal, not aborted when the driver is called. A driver that can
   * cancel work in flight (a running statement) listens to it; one that cannot lets
   * the operation finish and reports its result.
   */
  readonly signal: AbortSignal | undefined;
}

/** What every driver write receives: also the fence to check in the same atomic step. */
export interface DriverWrite extends DriverCall {
  readonly fence: VerifiedFence | undefined;
}

/**
 * A write's validated fence: the lease's key (always of the write's tenant), the lock
 * key the fence counter is stored under, and the fence the newest grant must equal.
 */
export interface VerifiedFence {
  readonly key: ThreadKey;
  readonly lockKey: string;
  readonly fence: bigint;
}

/**
 * The storage key of a thread's lock: an injective rendering of tenant and thread,
 * the same in every backend so a lease's identity never depends on where it lives.
 */
export function lockKeyOf(key: ThreadKey): string {
  return ThreadKey.render(key);
}

/** The largest fence a lock grants: Postgres keeps fences in a bigint. */
const MAX_FENCE = 2n ** 63n - 1n;

/**
 * Validate the `fence` of a write. The lease must belong to the tenant being written:
 * a lease never authorises writes into another tenant's data.
 */
export function readFence(
  fence: unknown,
  tenantId: string,
  backend: string,
): VerifiedFence | undefined {
  if (fence === undefined) return undefined;
  if (typeof fence !== 'object' || fence === null) {
    throw new ConfigError(`fence must be a lease or { key, fence }, got ${describeValue(fence)}`, {
      backend,
    });
  }
  const token = fence as Partial<FenceToken>;
  const key = ThreadKey.from(token.key);
  if (typeof token.fence !== 'bigint' || token.fence <= 0n) {
    throw new ConfigError('fence.fence must be a positive bigint', { backend });
  }
  if (token.fence > MAX_FENCE) {
    throw new ConfigError(
      `fence.fence must be at most 2^63 - 1, got ${token.fence}n: no lock grants a larger one`,
      { backend },
    );
  }
  if (key.tenantId !== tenantId) {
    throw new ConfigError('the fence lease belongs to another tenant than the write', { backend });
  }
  return { key, lockKey: lockKeyOf(key), fence: token.fence };
}

/** The signal check that ends every call's validation, just before the driver runs. */
export function startCall(signal: AbortSignal | undefined, backend: string): DriverCall {
  if (signal?.aborted) {
    throw new AbortedError('the operation was aborted', { cause: signal.reason, backend });
  }
  return { signal };
}

/**
 * Read a write's fence and signal from its options. The signal is checked later, with
 * {@link startCall}, once the payloads are encoded: the documented order of checks.
 */
export function readWriteCall(
  options: unknown,
  tenantId: string,
  backend: string,
  what: string,
): DriverWrite {
  const opts = readOptions<WriteOptions>(options, what);
  return { fence: readFence(opts.fence, tenantId, backend), signal: readSignal(opts.signal) };
}

/** {@link startCall} for a write: its signal checked, the call handed on as it is. */
export function startWrite(write: DriverWrite, backend: string): DriverWrite {
  if (write.signal?.aborted) startCall(write.signal, backend);
  return write;
}
