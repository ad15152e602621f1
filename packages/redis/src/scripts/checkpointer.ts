import {
  LUA_CHECK_FENCE,
  LUA_CHUNK,
  LUA_FIRST_PAGE,
  LUA_TOKEN_LISTS,
  luaScript,
  ScriptStatus,
} from './lua.js';

/*
 * A thread's checkpoints, all in the thread's slot:
 * - `data`: hash of record field to record. The field is `encodedNs:id` (an encoded
 *   namespace never holds `:`, a UUID neither, so the field names one checkpoint and
 *   ends in `:id`). The record is `createdAtMs TAB step TAB nextNode TAB owner TAB id
 *   TAB parentId TAB metadata TAB payload`: nextNode is JSON (`null` or a string),
 *   owner is `JSON.stringify([tenantId, threadId, ns])`, parentId is empty for a root,
 *   metadata is JSON text, payload the envelope text. JSON text never holds a raw
 *   tab, newline or carriage return, so tabs split the parts, carriage returns join a
 *   record and its pending writes and newlines join checkpoints in a reply; the
 *   numbers come first so a script reads them with `string.match`.
 * - `order`: sorted set of record fields scored by write position, one sequence per
 *   thread across its namespaces, from the `seq` counter (prune deletes single
 *   checkpoints, so no size of a set can stand for the sequence).
 * - `filters`: hash of record field to the metadata filter index, one line per
 *   top-level key, `\n JSON(key) TAB canonical JSON(value)` and a final `\n`
 *   (canonical: object keys sorted at every depth). Equal canonical JSON is JSON
 *   equality, so a filter is a set of lines to find, literally, with no JSON parser.
 * - `writes`: sorted set of the pending writes of every checkpoint, all scored 0, so
 *   that members sort by their bytes. A member is `field CR line`, the line
 *   `JSON(taskId) TAB idx TAB JSON(taskPath) TAB JSON(channel) TAB payload`. A
 *   checkpoint's writes are one lex range (no field holds a CR) and one write is the
 *   range of its `field CR JSON(taskId) TAB idx TAB`, so adding a write costs the same
 *   beside 10 or 10,000 others.
 * - `ids`: sorted set of `id:seq` per checkpoint, all scored 0, the seq zero-padded to
 *   20 digits so that an id's members sort by write position: the first member of the
 *   lex range `id:` is where `before` starts, found without walking the thread.
 * - `reg`: registration tokens, present while the tenant's thread index lists the
 *   thread (the same discipline as store namespaces, see scripts/store.ts): a first
 *   put registers a token in the tenant's index, then writes with it; emptying the
 *   thread hands its tokens back for removal.
 *
 * Keys, in this order in every write script: reg, seq, order, data, filters, writes, ids,
 * then the fence counter when fenced.
 */

/**
 * Bounds of lex ranges of the `writes` set: `writes_of(field)` holds the checkpoint's
 * writes, `write_at(field, start)` the write whose line begins with `start`
 * (`JSON(taskId) TAB idx TAB`). An upper bound is the prefix with its last character
 * (CR or TAB) replaced by the one after it, which no member can hold there.
 */
const WRITE_RANGES = `
local function writes_of(field)
  return '[' .. field .. '\\r', '(' .. field .. '\\14'
end
local function write_at(field, start)
  return '[' .. field .. '\\r' .. start, '(' .. field .. '\\r' .. string.sub(start, 1, -2) .. '\\n'
end
`;

/**
 * `entry(field)`: the record, followed by its pending writes' members as stored (`field
 * CR line`), each after a carriage return; false when absent.
 */
const ENTRY = `${WRITE_RANGES}
local function entry(field)
  local record = redis.call('HGET', KEYS[2], field)
  if not record then return false end
  local members = redis.call('ZRANGEBYLEX', KEYS[3], writes_of(field))
  if #members == 0 then return record end
  -- One string built, not two: joining the members first and then the record to them
  -- copies every write twice (a quarter of the script's time with 20 writes).
  table.insert(members, 1, record)
  return table.concat(members, '\\r')
end
`;

/**
 * Defines `take_registration()`: once the thread holds no checkpoint, drop its counter
 * and hand back its registration tokens ('' while it holds any).
 */
const TAKE_REGISTRATION = `
local function take_registration()
  if redis.call('ZCARD', KEYS[3]) > 0 then return '' end
  -- Redis drops emptied sets and hashes by itself; ioredis-mock keeps them.
  redis.call('DEL', KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7])
  local tokens = redis.call('GET', KEYS[1])
  if not tokens then return '' end
  redis.call('DEL', KEYS[1])
  return tokens
end
`;

/** Defines `id_member(field, seq)`: the checkpoint's member of the `ids` set. */
const ID_MEMBER = `
local function id_member(field, seq)
  local digits = string.format('%.0f', seq)
  return string.match(field, '[^:]*$') .. ':' .. string.rep('0', 20 - #digits) .. digits
end
`;

/** Appends the checkpoint at ARGV[3] (field) with ARGV[4] (record) and ARGV[5] (filter index). */
const APPEND_CHECKPOINT = `${ID_MEMBER}
local function append_checkpoint(field, record, filter_index)
  local seq = redis.call('INCR', KEYS[2])
  redis.call('HSET', KEYS[4], field, record)
  if filter_index ~= '' then redis.call('HSET', KEYS[5], field, filter_index) end
  redis.call('ZADD', KEYS[3], seq, field)
  redis.call('ZADD', KEYS[7], 0, id_member(field, seq))
end
`;

/**
 * Defines `add_writes(writes_key, field, lines)`: attach to the checkpoint `field` the
 * writes' lines, joined by newlines (JSON text holds none). A line starts
 * `JSON(taskId) TAB idx TAB`: an existing line of that (taskId, idx) stays when idx is
 * not negative (the first write wins) and is replaced when it is (the last wins). One
 * argument for all the writes keeps a batch of any size clear of argument-count limits
 * on the way (JavaScript's stack, ioredis-mock).
 */
const ADD_WRITES = `${WRITE_RANGES}
local function add_writes(writes_key, field, lines)
  local start = 1
  while start <= #lines do
    local stop = string.find(lines, '\\n', start, true) or (#lines + 1)
    local line = string.sub(lines, start, stop - 1)
    local after_task = string.find(line, '\\t', 1, true)
    local after_idx = string.find(line, '\\t', after_task + 1, true)
    local existing = redis.call('ZRANGEBYLEX', writes_key, write_at(field, string.sub(line, 1, after_idx)))
    -- 45 is '-': a negative idx.
    if #existing == 0 or string.byte(line, after_task + 1) == 45 then
      for j = 1, #existing do redis.call('ZREM', writes_key, existing[j]) end
      redis.call('ZADD', writes_key, 0, field .. '\\r' .. line)
    end
    start = stop + 1
  end
end
`;

/**
 * KEYS: reg, seq, order, data, filters, writes, ids, [fence]. ARGV: clock, fence, field,
 * record, filter index, registration token (or empty), parent field (or empty), the
 * parent's writes (see ADD_WRITES).
 * Without a token the thread must already be registered (NEEDS_REGISTRATION
 * otherwise), so a checkpoint is never written on a thread its tenant's index does not
 * list. With a parent field, NOT_FOUND (before CONFLICT) unless the parent exists.
 */
export const CHECKPOINT_PUT = luaScript(
  'checkpoint_put',
  `${LUA_CHECK_FENCE}${LUA_TOKEN_LISTS}${APPEND_CHECKPOINT}${ADD_WRITES}
if ARGV[7] ~= '' and redis.call('HEXISTS', KEYS[4], ARGV[7]) == 0 then
  return ${ScriptStatus.NOT_FOUND}
end
if redis.call('HEXISTS', KEYS[4], ARGV[3]) == 1 then return ${ScriptStatus.CONFLICT} end
if ARGV[6] ~= '' then
  redis.call('SET', KEYS[1], with_token(redis.call('GET', KEYS[1]), ARGV[6]))
elseif redis.call('EXISTS', KEYS[1]) == 0 then
  return ${ScriptStatus.NEEDS_REGISTRATION}
end
append_checkpoint(ARGV[3], ARGV[4], ARGV[5])
if ARGV[7] ~= '' then add_writes(KEYS[6], ARGV[7], ARGV[8]) end
return 1
`,
);

/**
 * KEYS: reg, seq, order, data, filters, writes, ids, [fence]. ARGV: clock, fence, parent
 * field, child field, record head, record tail, filter index. Forks a child from the
 * parent in one round trip: the child record is `head .. (parent step + 1) .. TAB ..
 * parent nextNode .. tail`. The parent's thread is registered already.
 */
export const CHECKPOINT_FORK = luaScript(
  'checkpoint_fork',
  `${LUA_CHECK_FENCE}${APPEND_CHECKPOINT}
local parent = redis.call('HGET', KEYS[4], ARGV[3])
if not parent then return ${ScriptStatus.NOT_FOUND} end
local step, next_node = string.match(parent, '^%-?%d+\\t(%d+)\\t([^\\t]*)\\t')
if not step then return ${ScriptStatus.CORRUPT} end
if redis.call('HEXISTS', KEYS[4], ARGV[4]) == 1 then return ${ScriptStatus.CONFLICT} end
local record = ARGV[5] .. string.format('%.0f', tonumber(step) + 1) .. '\\t' .. next_node .. ARGV[6]
append_checkpoint(ARGV[4], record, ARGV[7])
return 1
`,
);

/** KEYS: order, data, writes. ARGV: field. The checkpoint with its writes, or nil. */
export const CHECKPOINT_GET = luaScript(
  'checkpoint_get',
  `${ENTRY}
return entry(ARGV[1])
`,
);

/**
 * KEYS: order, data, writes. ARGV: namespace prefix (`encodedNs:`). The checkpoint
 * written last in the namespace with its writes, or nil: newest first through the
 * thread's write order. Pages start small and double, so a namespace written to lately
 * costs a few fields however long the thread is, and one written to long ago about
 * twice the checkpoints written since.
 */
export const CHECKPOINT_LATEST = luaScript(
  'checkpoint_latest',
  `${ENTRY}
local prefix = ARGV[1]
local start, page_size = 0, ${LUA_FIRST_PAGE}
while true do
  local fields = redis.call('ZREVRANGE', KEYS[1], start, start + page_size - 1)
  for i = 1, #fields do
    if string.sub(fields[i], 1, #prefix) == prefix then
      local found = entry(fields[i])
      if not found then return ${ScriptStatus.CORRUPT} end
      return found
    end
  end
  if #fields < page_size then return false end
  start = start + page_size
  page_size = math.min(page_size * 2, ${LUA_CHUNK})
end
`,
);

/**
 * KEYS: order, data, writes, filters, ids. ARGV: limit, namespace prefix (`encodedNs:`,
 * or empty for every namespace), before id (or empty), then the filter's index lines.
 * Checkpoints newest first (each with its writes) joined by newlines; NOT_FOUND when
 * `before` is no checkpoint of the thread. `before` is the id's first member in `ids`
 * (the first written wins, as an id can be in several namespaces), one lookup however
 * long the thread. The page walks newest first in pages that start at the limit and
 * double while the namespace or filter skips fields, so its cost follows what it
 * skips, not the thread's size. One string rather than a table because ioredis-mock
 * drops tables built element by element.
 */
export const CHECKPOINT_HISTORY = luaScript(
  'checkpoint_history',
  `${ENTRY}
local limit = tonumber(ARGV[1])
local prefix = ARGV[2]
local newest = '+inf'
if ARGV[3] ~= '' then
  -- ';' comes right after ':', so the range holds the members of this id alone.
  local first = redis.call('ZRANGEBYLEX', KEYS[5], '[' .. ARGV[3] .. ':', '(' .. ARGV[3] .. ';', 'LIMIT', 0, 1)
  if #first == 0 then return ${ScriptStatus.NOT_FOUND} end
  newest = '(' .. string.format('%.0f', tonumber(string.sub(first[1], #ARGV[3] + 2)))
end
local function matches(field)
  if prefix ~= '' and string.sub(field, 1, #prefix) ~= prefix then return false end
  if #ARGV < 4 then return true end
  local index = redis.call('HGET', KEYS[4], field)
  if not index then return false end
  for i = 4, #ARGV do
    if not string.find(index, ARGV[i], 1, true) then return false end
  end
  return true
end
local found = {}
local offset = 0
local page_size = math.min(math.max(limit, ${LUA_FIRST_PAGE}), ${LUA_CHUNK})
while #found < limit do
  local fields = redis.call('ZREVRANGEBYSCORE', KEYS[1], newest, '-inf', 'LIMIT', offset, page_size)
  for i = 1, #fields do
    if matches(fields[i]) then
      local checkpoint = entry(fields[i])
      if not checkpoint then return ${ScriptStatus.CORRUPT} end
      found[#found + 1] = checkpoint
      if #found >= limit then break end
    end
  end
  if #fields < page_size then break end
  offset = offset + page_size
  page_size = math.min(page_size * 2, ${LUA_CHUNK})
end
return table.concat(found, '\\n')
`,
);

/**
 * KEYS: data, writes, [fence]. ARGV: clock, fence, field, the writes (see ADD_WRITES).
 * NOT_FOUND when the checkpoint does not exist.
 */
export const CHECKPOINT_PUT_WRITES = luaScript(
  'checkpoint_put_writes',
  `${LUA_CHECK_FENCE}${ADD_WRITES}
if redis.call('HEXISTS', KEYS[1], ARGV[3]) == 0 then return ${ScriptStatus.NOT_FOUND} end
add_writes(KEYS[2], ARGV[3], ARGV[4])
return 1
`,
);

/**
 * KEYS: reg, seq, order, data, filters, writes, ids, [fence]. ARGV: clock, fence.
 * Deletes every checkpoint with its writes; returns { checkpoints, writes,
 * registration tokens or '' }.
 */
export const CHECKPOINT_DELETE_THREAD = luaScript(
  'checkpoint_delete_thread',
  `${LUA_CHECK_FENCE}${TAKE_REGISTRATION}
local checkpoints = redis.call('ZCARD', KEYS[3])
local writes = redis.call('ZCARD', KEYS[6])
redis.call('DEL', KEYS[3])
return { checkpoints, writes, take_registration() }
`,
);

/**
 * KEYS: reg, seq, order, data, filters, writes, ids, [fence]. ARGV: clock, fence,
 * keepLatest, namespace prefix (`encodedNs:`, or empty for each namespace). Keeps the
 * newest `keepLatest` of each namespace (or of the one), deletes the rest with their
 * writes; returns { deleted, registration tokens or '' }.
 */
export const CHECKPOINT_PRUNE = luaScript(
  'checkpoint_prune',
  `${LUA_CHECK_FENCE}${TAKE_REGISTRATION}${WRITE_RANGES}${ID_MEMBER}
local keep = tonumber(ARGV[3])
local prefix = ARGV[4]
local kept, doomed, doomed_ids = {}, {}, {}
local start = 0
while true do
  local page = redis.call('ZREVRANGE', KEYS[3], start, start + ${LUA_CHUNK} - 1, 'WITHSCORES')
  for i = 1, #page, 2 do
    local field = page[i]
    local ns = string.match(field, '^([^:]*):')
    if prefix == '' or string.sub(field, 1, #prefix) == prefix then
      local count = kept[ns] or 0
      if count < keep then
        kept[ns] = count + 1
      else
        doomed[#doomed + 1] = field
        doomed_ids[#doomed_ids + 1] = id_member(field, tonumber(page[i + 1]))
      end
    end
  end
  if #page < 2 * ${LUA_CHUNK} then break end
  start = start + ${LUA_CHUNK}
end
local unpack_ = unpack or table.unpack
for first = 1, #doomed, ${LUA_CHUNK} do
  local last = math.min(first + ${LUA_CHUNK} - 1, #doomed)
  redis.call('ZREM', KEYS[3], unpack_(doomed, first, last))
  redis.call('HDEL', KEYS[4], unpack_(doomed, first, last))
  redis.call('HDEL', KEYS[5], unpack_(doomed, first, last))
  redis.call('ZREM', KEYS[7], unpack_(doomed_ids, first, last))
end
for _, field in ipairs(doomed) do
  local members = redis.call('ZRANGEBYLEX', KEYS[6], writes_of(field))
  for first = 1, #members, ${LUA_CHUNK} do
    redis.call('ZREM', KEYS[6], unpack_(members, first, math.min(first + ${LUA_CHUNK} - 1, #members)))
  end
end
return { #doomed, take_registration() }
`,
);

/**
 * KEYS: thread index, thread tokens (of one tenant). ARGV: thread member, token. Lists
 * the thread and adds the token to its entry.
 */
export const THREAD_REGISTER = luaScript(
  'thread_register',
  `${LUA_TOKEN_LISTS}
redis.call('HSET', KEYS[2], ARGV[1], with_token(redis.call('HGET', KEYS[2], ARGV[1]), ARGV[2]))
redis.call('ZADD', KEYS[1], 0, ARGV[1])
return 1
`,
);

/**
 * KEYS: thread index, thread tokens. ARGV: thread member, the tokens an emptied thread
 * handed back. Removes those tokens, and the thread once its entry holds none.
 */
export const THREAD_UNREGISTER = luaScript(
  'thread_unregister',
  `${LUA_TOKEN_LISTS}
local tokens = redis.call('HGET', KEYS[2], ARGV[1])
if tokens then
  local kept = without_tokens(tokens, ARGV[2])
  if kept ~= '' then
    redis.call('HSET', KEYS[2], ARGV[1], kept)
    return 0
  end
  redis.call('HDEL', KEYS[2], ARGV[1])
end
redis.call('ZREM', KEYS[1], ARGV[1])
-- Redis drops emptied sets and hashes by itself; ioredis-mock keeps them.
if redis.call('ZCARD', KEYS[1]) == 0 then redis.call('DEL', KEYS[1], KEYS[2]) end
return 1
`,
);
