import {
  ConfigError,
  type DistributedLock,
  type LockLease,
  type SessionLockOptions,
  TenantId,
  ThreadKey,
  withSessionLock,
} from '@entelix/core';
import type { RunnableConfig } from '@langchain/core/runnables';
import {
  configurableOf,
  fencedConfig,
  readThreadId,
  resolveTenant,
  TENANT_ID_KEY,
} from './config.js';
import { BRIDGE } from './errors.js';

/** Options of {@link withThreadLock}. */
export interface ThreadLockOptions extends SessionLockOptions {
  /**
   * The tenant, for a saver bound to one whose configs do not carry
   * `configurable.tenant_id`. When both are given they must agree.
   */
  tenantId?: string;
}

/**
 * Run one graph invocation while holding its thread's lock: acquire the (tenant,
 * thread) lease with `withSessionLock` (renewed while `run` runs, released after), and
 * hand `run` a config that fences every checkpoint and pending write of the run with
 * that lease and aborts the run if the lease is lost. A run whose lease was superseded
 * fails with `FENCED` and writes nothing more. `run` also gets the lease, to fence the
 * run's store with (`createEntelixStore(persistence, { tenantId, fence: lease })`).
 *
 * @example
 * ```ts
 * const config = { configurable: { tenant_id: 'acme', thread_id: 'thread-1' } };
 * const result = await withThreadLock(persistence.lock, config, (locked) =>
 *   graph.invoke(input, locked),
 * );
 * ```
 */
export async function withThreadLock<T, C extends RunnableConfig = RunnableConfig>(
  lock: DistributedLock,
  config: C,
  run: (config: C, lease: LockLease) => Promise<T>,
  options: ThreadLockOptions = {},
): Promise<T> {
  const configurable = configurableOf(config);
  const bound = options.tenantId === undefined ? undefined : TenantId.parse(options.tenantId);
  const tenant = resolveTenant(configurable[TENANT_ID_KEY], bound, undefined, 'withThreadLock');
  const threadId = readThreadId(configurable);
  if (threadId === undefined) {
    throw new ConfigError('withThreadLock needs configurable.thread_id', { backend: BRIDGE });
  }
  if (typeof run !== 'function') {
    throw new ConfigError('withThreadLock needs a function to run', { backend: BRIDGE });
  }
  const { tenantId: _tenant, ...lockOptions } = options;
  return withSessionLock(
    lock,
    ThreadKey.of(tenant, threadId),
    (lease) => run(fencedConfig(config, lease), lease),
    lockOptions,
  );
}
