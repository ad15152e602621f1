import { luaScript } from './lua.js';

/**
 * KEYS: lease, fence counter. ARGV: ttlMs. `SET NX PX` with a fence: the lease key
 * expires by the server's clock; the counter is never deleted, so fences strictly
 * increase per key across releases and expiries. Returns the fence, or nil when held.
 */
export const LOCK_TRY_ACQUIRE = luaScript(
  'lock_try_acquire',
  `
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local fence = string.format('%.0f', redis.call('INCR', KEYS[2]))
redis.call('SET', KEYS[1], fence, 'PX', ARGV[1])
return fence
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
