import { luaScript, ScriptStatus } from './lua.js';

/**
 * KEYS: lease, fence counter. ARGV: ttlMs. `SET NX PX` with a fence: the lease key
 * expires by the server's clock. The fence is the larger of the counter + 1 and the
 * server's time in microseconds. The counter is never deleted, so fences strictly
 * increase per key across releases, expiries and clock steps back; the time keeps them
 * increasing when the counter is lost with the data (a restart of a Redis without
 * persistence, an eviction), as long as the server's clock has not gone back by more
 * than the time since the last grant. Microseconds since 1970 stay below 2^53, exact in
 * a Lua number, until the year 2255. Returns the fence, or nil when the lease is held.
 *
 * ARGV[2] is `registered` once the caller has listed the thread in its tenant's lock
 * index (which `purgeTenant` walks); without it a key with no fence counter yet
 * returns NEEDS_REGISTRATION, so a counter never exists unlisted.
 */
export const LOCK_TRY_ACQUIRE = luaScript(
  'lock_try_acquire',
  `
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
if ARGV[2] == '' and redis.call('EXISTS', KEYS[2]) == 0 then return ${ScriptStatus.NEEDS_REGISTRATION} end
local time = redis.call('TIME')
local now_us = tonumber(time[1]) * 1000000.0 + tonumber(time[2])
local fence = math.max(tonumber(redis.call('GET', KEYS[2]) or '0') + 1, now_us)
local fence_text = string.format('%.0f', fence)
redis.call('SET', KEYS[2], fence_text)
redis.call('SET', KEYS[1], fence_text, 'PX', ARGV[1])
return fence_text
`,
);

/** KEYS: lease. ARGV: fence, ttlMs. Compare-and-set: only while the lease is still ours. */
export const LOCK_EXTEND = luaScript(
  'lock_extend',
  `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`,
);

/** KEYS: lease. ARGV: fence. Compare-and-delete: only while the lease is still ours. */
export const LOCK_RELEASE = luaScript(
  'lock_release',
  `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
`,
);

/**
 * KEYS: lease, fence counter. Ends the lease, whoever holds it, and moves the counter
 * past the newest grant (the counter's or the lease's, should the counter have been
 * lost), so no lease granted before this passes fencing after it. Returns 1 when the
 * key had a counter or a lease.
 */
export const LOCK_END_ALL = luaScript(
  'lock_end_all',
  `
local counter = tonumber(redis.call('GET', KEYS[2]) or '0')
local lease = tonumber(redis.call('GET', KEYS[1]) or '0')
if counter == 0 and lease == 0 then return 0 end
redis.call('SET', KEYS[2], string.format('%.0f', math.max(counter, lease) + 1))
redis.call('DEL', KEYS[1])
return 1
`,
);
