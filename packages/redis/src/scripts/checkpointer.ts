import { LUA_CHECK_FENCE, LUA_CHUNK, luaScript, ScriptStatus } from './lua.js';

/*
 * A checkpoint record, the value of its id in the thread's `data` hash, is
 * `createdAtMs TAB step TAB nextNode TAB owner TAB id TAB parentId TAB payload`:
 * nextNode is JSON (`null` or a string), owner is `JSON.stringify([tenantId,
 * threadId])`, parentId is empty for a root, payload is the envelope text. JSON text
 * never holds a raw tab or newline, so tabs split the parts and newlines can join
 * records; the numbers come first so a script reads them with `string.match`.
 *
 * The write order of a thread is the hash's size: checkpoints are only added (an
 * existing id is a conflict) or deleted all at once, so `HLEN` after `HSETNX` counts
 * up like a sequence, and "latest" never depends on `step` or a client clock.
 */

/** KEYS: data, order, [fence]. ARGV: clock, fence, id, record. */
export const CHECKPOINT_PUT = luaScript(
  'checkpoint_put',
  `${LUA_CHECK_FENCE}if redis.call('HSETNX', KEYS[1], ARGV[3], ARGV[4]) == 0 then return ${ScriptStatus.CONFLICT} end
redis.call('ZADD', KEYS[2], redis.call('HLEN', KEYS[1]), ARGV[3])
return 1
`,
);

/**
 * KEYS: data, order, [fence]. ARGV: clock, fence, parent id, child id, record head,
 * record tail. Forks a child from the parent in one round trip: the child record is
 * `head .. (parent step + 1) .. TAB .. parent nextNode .. tail`.
 */
export const CHECKPOINT_UPDATE_STATE = luaScript(
  'checkpoint_update_state',
  `${LUA_CHECK_FENCE}local parent = redis.call('HGET', KEYS[1], ARGV[3])
if not parent then return ${ScriptStatus.NOT_FOUND} end
local step, next_node = string.match(parent, '^%-?%d+\\t(%d+)\\t([^\\t]*)\\t')
if not step then return ${ScriptStatus.CORRUPT} end
local record = ARGV[5] .. string.format('%.0f', tonumber(step) + 1) .. '\\t' .. next_node .. ARGV[6]
if redis.call('HSETNX', KEYS[1], ARGV[4], record) == 0 then return ${ScriptStatus.CONFLICT} end
redis.call('ZADD', KEYS[2], redis.call('HLEN', KEYS[1]), ARGV[4])
return 1
`,
);

/** KEYS: order, data. The record written last, or nil. */
export const CHECKPOINT_LATEST = luaScript(
  'checkpoint_latest',
  `
local ids = redis.call('ZREVRANGE', KEYS[1], 0, 0)
if #ids == 0 then return false end
return redis.call('HGET', KEYS[2], ids[1])
`,
);

/**
 * KEYS: order, data. ARGV: limit, before id (or empty). Records newest first, joined
 * by newlines; an unknown `before` gives an empty page rather than the first one, and
 * an id in the order without a record gives CORRUPT.
 * One string rather than a table because ioredis-mock drops tables built element by
 * element. The ids are read a chunk at a time, so any limit stays within what `unpack`
 * can hand to HMGET.
 */
export const CHECKPOINT_HISTORY = luaScript(
  'checkpoint_history',
  `
local limit = tonumber(ARGV[1])
local newest = '+inf'
if ARGV[2] ~= '' then
  local seq = redis.call('ZSCORE', KEYS[1], ARGV[2])
  if not seq then return '' end
  newest = '(' .. seq
end
local records = {}
while #records < limit do
  local count = string.format('%.0f', math.min(limit - #records, ${LUA_CHUNK}))
  local ids = redis.call('ZREVRANGEBYSCORE', KEYS[1], newest, '-inf', 'LIMIT', 0, count)
  if #ids == 0 then break end
  -- Lua 5.1 (Redis) has unpack, Lua 5.3 (ioredis-mock) table.unpack.
  local page = redis.call('HMGET', KEYS[2], (unpack or table.unpack)(ids))
  for i = 1, #ids do
    if type(page[i]) ~= 'string' then return ${ScriptStatus.CORRUPT} end
    records[#records + 1] = page[i]
  end
  if #ids < tonumber(count) then break end
  newest = '(' .. redis.call('ZSCORE', KEYS[1], ids[#ids])
end
return table.concat(records, '\\n')
`,
);

/** KEYS: data, order, [fence]. ARGV: clock, fence. Returns how many were deleted. */
export const CHECKPOINT_DELETE_THREAD = luaScript(
  'checkpoint_delete_thread',
  `${LUA_CHECK_FENCE}local count = redis.call('HLEN', KEYS[1])
redis.call('DEL', KEYS[1], KEYS[2])
return count
`,
);
