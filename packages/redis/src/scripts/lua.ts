import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';

/** What the backend talks to: a standalone ioredis client or an ioredis Cluster. */
export type RedisClient = Redis | Cluster;

/** A Lua script with its SHA1, run with EVALSHA and loaded on `NOSCRIPT`. */
export interface LuaScript {
  readonly name: string;
  readonly source: string;
  readonly sha1: string;
}

/** Define a script; `source` may start with the preludes below. */
export function luaScript(name: string, source: string): LuaScript {
  return Object.freeze({ name, source, sha1: createHash('sha1').update(source).digest('hex') });
}

/**
 * Run a script with EVALSHA, falling back to EVAL when the server does not have it
 * cached yet (after a restart, a failover or `SCRIPT FLUSH`); EVAL also caches it.
 * On a Cluster, ioredis routes both by the first key, and every script's keys share
 * one hash tag. We do not use `defineCommand`, which would add methods to a client
 * the caller owns.
 */
export async function runScript(
  client: RedisClient,
  script: LuaScript,
  keyCount: number,
  keysAndArgs: readonly (string | number)[],
): Promise<unknown> {
  try {
    return await client.evalsha(script.sha1, keyCount, ...keysAndArgs);
  } catch (error) {
    if (!isNoScriptError(error)) throw error;
    return await client.eval(script.source, keyCount, ...keysAndArgs);
  }
}

function isNoScriptError(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}

/** Status codes scripts return instead of `redis.error_reply` (ioredis-mock lacks it). */
export const ScriptStatus = {
  CONFLICT: -1,
  FENCED: -2,
  NOT_FOUND: -3,
  NEEDS_REGISTRATION: -4,
  CORRUPT: -5,
} as const;

/**
 * Clock and number helpers, prepended to scripts that need them. Conventions: `ARGV[1]` is the
 * clock (empty: read the server's `TIME`; a number: the caller's milliseconds, see
 * the `clock` option), `ARGV[2]` is the write's fence (empty: unfenced), and a fenced
 * write passes the fence counter key last in `KEYS`.
 *
 * Arithmetic on milliseconds uses floats and `%.0f`: ioredis-mock runs Lua 5.3 on
 * fengari, whose integers are 32-bit, and `tostring` differs between Lua 5.1 (Redis)
 * and 5.3; the scripts use no cjson/cmsgpack/bit so they run on both.
 */
export const LUA_PRELUDE = `
local function fmt(n) return string.format('%.0f', n) end
local function now_ms()
  if ARGV[1] ~= '' then return tonumber(ARGV[1]) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000.0 + math.floor(tonumber(t[2]) / 1000)
end
`;

/**
 * The fence check alone, for scripts that need no clock: every call of a script
 * defines its prelude's functions again, so scripts take only what they use.
 */
export const LUA_FENCE = `
local function fenced()
  if ARGV[2] == '' then return false end
  local current = redis.call('GET', KEYS[#KEYS])
  return (not current) or tonumber(current) ~= tonumber(ARGV[2])
end
`;
