import { LUA_PRELUDE, luaScript } from './lua.js';

/**
 * KEYS: data, order, seq, [fence]. ARGV: clock, fence, id, record, required parent id.
 * Checkpoints are immutable: an existing id is a conflict. The per-thread counter
 * gives write order, so "latest" never depends on `step` or a client clock.
 */
export const CHECKPOINT_PUT = luaScript(
  'checkpoint_put',
  `${LUA_PRELUDE}
if fenced() then return -2 end
if ARGV[5] ~= '' and redis.call('HEXISTS', KEYS[1], ARGV[5]) == 0 then return -3 end
if redis.call('HEXISTS', KEYS[1], ARGV[3]) == 1 then return -1 end
local seq = redis.call('INCR', KEYS[3])
redis.call('HSET', KEYS[1], ARGV[3], ARGV[4])
redis.call('ZADD', KEYS[2], seq, ARGV[3])
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
