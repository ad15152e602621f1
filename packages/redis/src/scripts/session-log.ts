import { LUA_CHECK_FENCE, LUA_CHUNK, LUA_READ_NOW, luaScript, ScriptStatus } from './lua.js';

/**
 * Sets `head` (a number) and returns CONFLICT from the script unless ARGV[4] is empty
 * or the head.
 */
const CHECK_EXPECTED_HEAD = `
local head_text = redis.call('GET', KEYS[1])
local head = tonumber(head_text or '0')
if ARGV[4] ~= '' and tonumber(ARGV[4]) ~= head then return ${ScriptStatus.CONFLICT} end
`;

/**
 * KEYS: head, events, [fence]. ARGV: clock, fence, event records joined by newlines
 * (empty for none), expected head (or empty), truncate after (or empty), `registered`
 * (or empty). Checks the fence and the expected head, deletes the events after
 * `truncate after`, appends the batch and returns the new head, all in one step.
 * INCRBY reserves the whole batch at once, so ordinals are consecutive per batch,
 * gap-free across concurrent appenders, and never reused (the head outlives deletes).
 * Each member is `seq:ts:record`; its score is the seq. A record is `tenant TAB
 * payload` (see session-log.ts): JSON text, which never holds a raw newline. One
 * argument for the whole batch keeps a batch of any size clear of argument-count
 * limits on the way (JavaScript's stack, ioredis-mock); the members go to ZADD a chunk
 * at a time, within what `unpack` can hand over.
 *
 * A thread without a head is not yet in its tenant's thread index: unless the caller
 * says it has registered it, the first append returns NEEDS_REGISTRATION (after the
 * fence and head checks, so a refused append never registers). An empty batch on such
 * a thread (a conditional truncation) writes nothing, no head either.
 */
export const LOG_APPEND = luaScript(
  'log_append',
  `${LUA_CHECK_FENCE}${CHECK_EXPECTED_HEAD}
local batch = ARGV[3]
if not head_text then
  if batch == '' then return 0 end
  if ARGV[6] == '' then return ${ScriptStatus.NEEDS_REGISTRATION} end
end
if ARGV[5] ~= '' then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '(' .. ARGV[5], '+inf')
end
if batch == '' then return head end
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
 * KEYS: head, events, [fence]. ARGV: clock, fence, seq, expected head (or empty).
 * Deletes the events after `seq`; the head stays. CONFLICT unless the head is the
 * expected one.
 */
export const LOG_TRUNCATE_AFTER = luaScript(
  'log_truncate_after',
  `${LUA_CHECK_FENCE}${CHECK_EXPECTED_HEAD}
return redis.call('ZREMRANGEBYSCORE', KEYS[2], '(' .. ARGV[3], '+inf')
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

/**
 * KEYS: head, events, [fence]. ARGV: clock, fence. Deletes every event and moves the
 * head one past: ordinals are never reused, and an append conditional on a head read
 * before the deletion is CONFLICT. A thread without a head (never held an event) gets none.
 */
export const LOG_DELETE_THREAD = luaScript(
  'log_delete_thread',
  `${LUA_CHECK_FENCE}
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('INCR', KEYS[1]) end
local count = redis.call('ZCARD', KEYS[2])
redis.call('DEL', KEYS[2])
return count
`,
);
