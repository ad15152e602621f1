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
 *
 * The keys and arguments go to ioredis as one array, which it flattens, never spread
 * into a call: a spread of about 120,000 values overflows the JavaScript stack.
 */
export function runScript(
  client: RedisClient,
  script: LuaScript,
  keyCount: number,
  keysAndArgs: readonly (string | number)[],
): Promise<unknown> {
  // ioredis turns numbers into decimal text; its types only list strings and buffers.
  const values = keysAndArgs as string[];
  return client.evalsha(script.sha1, keyCount, values).catch((error: unknown) => {
    if (!isNoScriptError(error)) throw error;
    return client.eval(script.source, keyCount, values);
  });
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
 * The most values a script hands to one command at a time. Lua's `unpack` fails past
 * about 8,000 values on Redis (LUAI_MAXCSTACK), so scripts walk longer lists in chunks
 * of at most this many; large chunks keep the number of commands low (ioredis-mock
 * copies a whole sorted set on every command).
 */
export const LUA_CHUNK = 4000;

/**
 * Where a script that walks a list until it has found enough starts: it doubles the page
 * up to LUA_CHUNK while it finds too little, so the common case reads a few entries and a
 * long walk still costs few commands.
 */
export const LUA_FIRST_PAGE = 16;

/**
 * Snippets placed at the top of scripts, as plain statements rather than helper
 * functions: a script's functions would be created again on every call. Conventions:
 * `ARGV[1]` is the clock (empty: read the server's `TIME`; a number: the caller's
 * milliseconds, see the `clock` option), `ARGV[2]` is the write's fence (empty:
 * unfenced), and a fenced write passes the fence counter key last in `KEYS`.
 *
 * Arithmetic on milliseconds uses floats and `%.0f`: ioredis-mock runs Lua 5.3 on
 * fengari, whose integers are 32-bit, and `tostring` differs between Lua 5.1 (Redis)
 * and 5.3; the scripts use no cjson/cmsgpack/bit so they run on both.
 */

/** Returns FENCED unless the write is unfenced or its fence is still the current one. */
export const LUA_CHECK_FENCE = `
if ARGV[2] ~= '' then
  local current = redis.call('GET', KEYS[#KEYS])
  if (not current) or tonumber(current) ~= tonumber(ARGV[2]) then return ${ScriptStatus.FENCED} end
end
`;

/** Sets `now` (milliseconds, a float) and `now_text` (the same as decimal text). */
export const LUA_READ_NOW = `
local now
if ARGV[1] ~= '' then
  now = tonumber(ARGV[1])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000.0 + math.floor(tonumber(t[2]) / 1000)
end
local now_text = string.format('%.0f', now)
`;

/**
 * Defines `with_token(tokens, token)` and `without_tokens(tokens, removed)` over
 * registration token lists joined by commas (a UUID holds none).
 */
export const LUA_TOKEN_LISTS = `
local function with_token(tokens, token)
  if tokens then return tokens .. ',' .. token end
  return token
end
local function without_tokens(tokens, removed)
  local gone = {}
  for token in string.gmatch(removed, '[^,]+') do gone[token] = true end
  local kept = {}
  for token in string.gmatch(tokens, '[^,]+') do
    if not gone[token] then kept[#kept + 1] = token end
  end
  return table.concat(kept, ',')
end
`;
