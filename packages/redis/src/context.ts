import {
  ConfigError,
  CorruptRecordError,
  FencedError,
  lockKeyOf,
  readFence,
  toBackendError,
} from '@entelix/core';
import { clusterSlot, type KeyLayout } from './keys.js';
import { type LuaScript, type RedisClient, runScript, ScriptStatus } from './scripts/lua.js';

export const BACKEND = 'redis';

/** Where "now" comes from for TTLs and event timestamps. */
export type ClockSource = 'server' | 'client';

/** What every contract implementation shares. Internal. */
export interface RedisContext {
  readonly client: RedisClient;
  readonly keys: KeyLayout;
  readonly clock: ClockSource;
  readonly isCluster: boolean;
}

/** `ARGV[1]` of every script that reads the clock. */
export function clockArgument(context: RedisContext): string {
  return context.clock === 'server' ? '' : String(Date.now());
}

/** Run a script, wrapping driver failures as `BackendError` once, here. */
export async function run(
  context: RedisContext,
  script: LuaScript,
  keys: readonly string[],
  args: readonly (string | number)[],
  action: string,
): Promise<unknown> {
  try {
    return await runScript(context.client, script, keys, args);
  } catch (error) {
    throw toBackendError(error, BACKEND, action);
  }
}

/**
 * True for a script's nil reply. Redis turns a Lua `false` into nil; ioredis-mock
 * hands the `false` through.
 */
export function isNilReply(reply: unknown): reply is null | undefined | false {
  return reply === null || reply === undefined || reply === false;
}

/** Run a plain command, wrapping driver failures as `BackendError`. */
export async function command<T>(action: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw toBackendError(error, BACKEND, action);
  }
}

/** The fence part of a write script's KEYS and ARGV. */
export interface FenceArguments {
  readonly keys: readonly string[];
  readonly fence: string;
}

const UNFENCED: FenceArguments = Object.freeze({ keys: [], fence: '' });

/**
 * Validate a write's `fence` and turn it into the fence counter key and value the
 * write script checks atomically.
 *
 * The counter lives in the lease's thread slot. On Redis Cluster a script may only
 * touch one slot, so a fenced write must land in the same slot as its lease: always
 * true for a checkpoint or session-log write fenced by a lease on the same thread;
 * anything else (store writes, a lease on another thread) is rejected with
 * `ConfigError` there instead of being checked non-atomically.
 */
export function readWriteFence(
  context: RedisContext,
  fence: unknown,
  tenantId: string,
  dataKey: string,
): FenceArguments {
  const token = readFence(fence, tenantId, BACKEND);
  if (token === undefined) return UNFENCED;
  const counterKey = context.keys.thread(token.key).lockFence;
  if (context.isCluster && clusterSlot(counterKey) !== clusterSlot(dataKey)) {
    throw new ConfigError(
      `on Redis Cluster a write can only be fenced by a lease in its own slot; the lease on ${lockKeyOf(token.key)} is in another one`,
      { backend: BACKEND },
    );
  }
  return { keys: [counterKey], fence: token.fence.toString() };
}

/** Turn a script's FENCED status into the error; pass other results through. */
export function throwIfFenced(result: unknown): void {
  if (result === ScriptStatus.FENCED) {
    throw new FencedError('a newer lease was granted for the fence key; nothing was written', {
      backend: BACKEND,
    });
  }
}

/** A script result that should be an integer. */
export function expectInteger(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new CorruptRecordError(`unexpected ${what} reply from Redis`, { backend: BACKEND });
  }
  return value;
}

/** Parse a record's JSON part; anything but an object is `CORRUPT_RECORD`. */
export function parseRecordJson(text: string, what: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new CorruptRecordError(`stored ${what} is not valid JSON`, {
      cause: error,
      backend: BACKEND,
    });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new CorruptRecordError(`stored ${what} is not an object`, { backend: BACKEND });
  }
  return parsed as Record<string, unknown>;
}
