import { LUA_CHECK_FENCE, LUA_CHUNK, LUA_READ_NOW, luaScript } from './lua.js';

/**
 * KEYS: head, events, [fence]. ARGV: clock, fence, event records joined by newlines
 * (empty for none). INCRBY reserves the whole batch at once, so ordinals are
 * consecutive per batch, gap-free across concurrent appenders, and never reused (the
 * head outlives deletes). Each member is `seq:ts:record`; its score is the seq.
 * A record is `tenant TAB payload` (see session-log.ts): JSON text, which never holds a
 * raw newline. One argument for the whole batch keeps a batch of any size clear of
 * argument-count limits on the way (JavaScript's stack, ioredis-mock); the members go
 * to ZADD a chunk at a time, within what `unpack` can hand over.
 */
export const LOG_APPEND = luaScript(
  'log_append',
  `${LUA_CHECK_FENCE}
local batch = ARGV[3]
if batch == '' then return tonumber(redis.call('GET', KEYS[1]) or '0') end
local records, count = {}, 0
local start = 1
while true do
  local stop = string.find(batch, '\\n', start, true)
  count = count + 1
  if not stop then
    records[count] = string.sub(batch, start)
    break
  end
  records[count] = string.sub(batch, start, stop - 1)
  start = stop + 1
end
local last = redis.call('INCRBY', KEYS[1], count)
${LUA_READ_NOW}
local first = last - count
local members, size = {}, 0
for i = 1, count do
  local seq = string.format('%.0f', first + i)
  members[size + 1] = seq
  members[size + 2] = seq .. ':' .. now_text .. ':' .. records[i]
  size = size + 2
  if size == ${LUA_CHUNK} or i == count then
    redis.call('ZADD', KEYS[2], (unpack or table.unpack)(members, 1, size))
    size = 0
  end
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
