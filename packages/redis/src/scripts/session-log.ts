import { LUA_CHECK_FENCE, LUA_READ_NOW, luaScript } from './lua.js';

/**
 * KEYS: head, events, [fence]. ARGV: clock, fence, event records...
 * INCRBY reserves the whole batch at once, so ordinals are consecutive per batch,
 * gap-free across concurrent appenders, and never reused (the head outlives deletes).
 * Each member is `seq:ts:record`; its score is the seq.
 * A record is `tenant TAB payload` (see session-log.ts).
 */
export const LOG_APPEND = luaScript(
  'log_append',
  `${LUA_CHECK_FENCE}
local count = #ARGV - 2
if count == 0 then return tonumber(redis.call('GET', KEYS[1]) or '0') end
local last = redis.call('INCRBY', KEYS[1], count)
${LUA_READ_NOW}
local first = last - count
for i = 1, count do
  local seq = string.format('%.0f', first + i)
  redis.call('ZADD', KEYS[2], seq, seq .. ':' .. now_text .. ':' .. ARGV[i + 2])
end
return last
`,
);

/**
 * KEYS: head, events, [fence]. ARGV: clock, fence, watermark. Deletes seq < watermark,
 * with the watermark clamped to head + 1 so it can never run ahead of the ordinals.
 */
export const LOG_ARCHIVE_BEFORE = luaScript(
  'log_archive_before',
  `${LUA_CHECK_FENCE}
local head = tonumber(redis.call('GET', KEYS[1]) or '0')
local watermark = math.min(tonumber(ARGV[3]), head + 1)
return redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. string.format('%.0f', watermark))
`,
);

/** KEYS: events, [fence]. ARGV: clock, fence. The head is kept: ordinals are never reused. */
export const LOG_DELETE_THREAD = luaScript(
  'log_delete_thread',
  `${LUA_CHECK_FENCE}
local count = redis.call('ZCARD', KEYS[1])
redis.call('DEL', KEYS[1])
return count
`,
);
