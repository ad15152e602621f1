import {
  ConfigError,
  type FenceToken,
  type LockLease,
  TenantId,
  ThreadId,
  ThreadKey,
} from '@entelix/core';
import type { RunnableConfig } from '@langchain/core/runnables';
import { BRIDGE } from './errors.js';

/** The `configurable` key that names the tenant of a call: `tenant_id`. */
export const TENANT_ID_KEY = 'tenant_id';

/**
 * The `configurable` key that carries the lease fencing a run's writes:
 * `entelix_lease`. Set it with {@link fencedConfig} or {@link withThreadLock}.
 */
export const LEASE_KEY = 'entelix_lease';

/** A call's `configurable`, or an empty object. */
export function configurableOf(config: RunnableConfig | undefined): Record<string, unknown> {
  const configurable = config?.configurable;
  return typeof configurable === 'object' && configurable !== null ? configurable : {};
}

/**
 * The tenant of a call: `configurable.tenant_id`, the tenant the saver is bound to, or
 * the tenant of the surrounding `withTenant` scope. Every source given must agree, and
 * at least one must be given: there is never a default tenant.
 */
export function resolveTenant(
  given: unknown,
  bound: TenantId | undefined,
  scoped: TenantId | undefined,
  what: string,
): TenantId {
  const fromConfig = given === undefined ? undefined : TenantId.parse(given);
  const sources = [fromConfig, bound, scoped].filter((t): t is TenantId => t !== undefined);
  const [tenant] = sources;
  if (tenant === undefined) {
    throw new ConfigError(
      `${what} has no tenant: pass configurable.${TENANT_ID_KEY}, bind the saver with { tenantId }, or run it inside withTenant()`,
      { backend: BRIDGE },
    );
  }
  if (sources.some((other) => other !== tenant)) {
    throw new ConfigError(
      `${what} names tenant ${JSON.stringify(tenant)} and tenant ${JSON.stringify(sources.find((other) => other !== tenant))}: a saver or store never crosses tenants`,
      { backend: BRIDGE },
    );
  }
  return tenant;
}

/** `configurable.thread_id` as a validated thread id, or `undefined` when absent. */
export function readThreadId(configurable: Record<string, unknown>): ThreadId | undefined {
  const threadId = configurable.thread_id;
  return threadId === undefined ? undefined : ThreadId.parse(threadId);
}

/** The lease of a fenced run, checked against the (tenant, thread) being written. */
export function readLease(
  configurable: Record<string, unknown>,
  key: ThreadKey,
): FenceToken | undefined {
  const lease = configurable[LEASE_KEY];
  if (lease === undefined) return undefined;
  if (typeof lease !== 'object' || lease === null) {
    throw new ConfigError(`configurable.${LEASE_KEY} must be a lease`, { backend: BRIDGE });
  }
  const token = lease as Partial<FenceToken>;
  const leaseKey = ThreadKey.from(token.key);
  if (!ThreadKey.equals(leaseKey, key)) {
    throw new ConfigError(
      `configurable.${LEASE_KEY} is a lease on another thread than the one written: a run is fenced by its own thread's lease`,
      { backend: BRIDGE },
    );
  }
  return { key: leaseKey, fence: token.fence as bigint };
}

/**
 * A config whose run is fenced by `lease`: every checkpoint and pending write it makes
 * is rejected with `FENCED` once a newer lease is granted on the thread, and the run is
 * aborted when the lease is lost. The lease must be on the config's (tenant, thread).
 *
 * @example
 * ```ts
 * const lease = await persistence.lock.acquire(ThreadKey.of('acme', 'thread-1'), {
 *   ttlMs: 30_000,
 *   timeoutMs: 5_000,
 * });
 * await graph.invoke(input, fencedConfig(config, lease));
 * ```
 */
export function fencedConfig<C extends RunnableConfig>(config: C, lease: LockLease): C {
  const token: FenceToken & { toJSON(): unknown } = Object.freeze({
    key: lease.key,
    fence: lease.fence,
    // Configs are JSON-serialized by tracing and debug streams; a bigint would throw there.
    toJSON: () => ({ fence: String(lease.fence) }),
  });
  return {
    ...config,
    signal: anySignal(config.signal, lease.signal),
    configurable: { ...configurableOf(config), [LEASE_KEY]: token },
  };
}

function anySignal(
  first: AbortSignal | undefined,
  second: AbortSignal | undefined,
): AbortSignal | undefined {
  if (first === undefined) return second;
  if (second === undefined) return first;
  const controller = new AbortController();
  const abort = (signal: AbortSignal) => () => controller.abort(signal.reason);
  for (const signal of [first, second]) {
    if (signal.aborted) {
      controller.abort(signal.reason);
      break;
    }
    signal.addEventListener('abort', abort(signal), { once: true, signal: controller.signal });
  }
  return controller.signal;
}
