import { LUA_PRELUDE, luaScript } from './lua.js';

/**
 * KEYS: data, order, seq, [fence]. ARGV: clock, fence, id, record.
 * Checkpoints are immutable: an existing id is a conflict. The per-thread counter
 * gives write order, so "latest" never depends on `step` or a client clock.
 */
export const CHECKPOINT_PUT = luaScript(
  'checkpoint_put',
  `${LUA_PRELUDE}
if fenced() then return -2 end
if redis.call('HEXISTS', KEYS[1], ARGV[3]) == 1 then return -1 end
local seq = redis.call('INCR', KEYS[3])
redis.call('HSET', KEYS[1], ARGV[3], ARGV[4])
redis.call('ZADD', KEYS[2], seq, ARGV[3])
return 1
`,
);

/**
 * KEYS: data, order, seq, [fence]. ARGV: clock, fence, parent id, child id, record
 * head, record tail. Forks a child from the parent in one round trip: the child
 * record is `head .. ',"step":' .. parent step + 1 .. ',"nextNode":' .. parent's
 * nextNode JSON .. tail`. Records are written by JSON.stringify in a fixed field order
 * (..., step, nextNode, createdAtMs, ...), and inside a JSON string every `"` is
 * escaped, so the first unescaped `,"step":` and `,"createdAtMs":` are the fields
 * themselves; no cjson is needed.
 */
export const CHECKPOINT_UPDATE_STATE = luaScript(
  'checkpoint_update_state',
  `${LUA_PRELUDE}
if fenced() then return -2 end
local parent = redis.call('HGET', KEYS[1], ARGV[3])
if not parent then return -3 end
if redis.call('HEXISTS', KEYS[1], ARGV[4]) == 1 then return -1 end
local step_start, step_end, step = string.find(parent, ',"step":(%d+),"nextNode":', 1)
if not step_start then return -5 end
local next_end = string.find(parent, ',"createdAtMs":', step_end + 1, true)
if not next_end then return -5 end
local next_node = string.sub(parent, step_end + 1, next_end - 1)
local record = ARGV[5] .. ',"step":' .. fmt(tonumber(step) + 1) .. ',"nextNode":' .. next_node .. ARGV[6]
local seq = redis.call('INCR', KEYS[3])
redis.call('HSET', KEYS[1], ARGV[4], record)
redis.call('ZADD', KEYS[2], seq, ARGV[4])
return 1
`,
);

/** KEYS: order, data. The record of the highest write sequence, or nil. */
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
 * by newlines (JSON text never contains a raw newline); an unknown `before` gives an
 * empty page rather than the first one. One string rather than a table because
 * ioredis-mock drops tables built element by element.
 */
export const CHECKPOINT_HISTORY = luaScript(
  'checkpoint_history',
  `
local ids
if ARGV[2] ~= '' then
  local seq = redis.call('ZSCORE', KEYS[1], ARGV[2])
  if not seq then return '' end
  ids = redis.call('ZREVRANGEBYSCORE', KEYS[1], '(' .. seq, '-inf', 'LIMIT', 0, ARGV[1])
else
  ids = redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
end
local records = {}
for i, id in ipairs(ids) do records[i] = redis.call('HGET', KEYS[2], id) end
return table.concat(records, '\\n')
`,
);

/** KEYS: data, order, seq, [fence]. ARGV: clock, fence. Returns how many were deleted. */
export const CHECKPOINT_DELETE_THREAD = luaScript(
  'checkpoint_delete_thread',
  `${LUA_PRELUDE}
if fenced() then return -2 end
local count = redis.call('HLEN', KEYS[1])
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
return count
`,
);
