import {
  LUA_CHECK_FENCE,
  LUA_CHUNK,
  LUA_FIRST_PAGE,
  LUA_READ_NOW,
  LUA_TOKEN_LISTS,
  luaScript,
  ScriptStatus,
} from './lua.js';

/*
 * An item record is `createdAt:updatedAt:expiresAt:tail` (milliseconds, expiresAt 0
 * when the item never expires; tail is `tenant TAB field index TAB payload`, see
 * store.ts). The numbers come
 * first so a script can read them with `string.match` and no cjson.
 *
 * Each record is a string key of its own. An item with a TTL gets `PEXPIREAT
 * expiresAt - 1`: Redis treats a key as gone once its time is past the deadline, so
 * the record disappears exactly when `expiresAt <= now`, by the server's clock, and
 * a plain `GET` never returns it. The indexes keep their entries until a delete,
 * `evictExpired` or a `list` that walks past them takes them out.
 *
 * Namespace keys, in this order in every script: registration, item keys (sorted
 * set), expiry (sorted set), then the item's own key. Expired means `expiresAt <= now`.
 *
 * Registration. A namespace's items, its tenant's namespace index and the index of
 * tenants live in three slots, so no script can change them together. Registration
 * tokens keep them consistent: a put that finds its namespace unregistered adds a
 * fresh token to the namespace's entry in its tenant's index first, then writes the
 * item and adds the token to the namespace's registration; emptying the namespace takes every token of
 * its registration and removes exactly those from the entry, which goes once no token
 * is left. A token is in the registration only after it is in the entry, and leaves
 * the entry only after it left the registration, so an entry outlives its namespace's
 * last item, never the reverse, whatever runs in between. Tenants work the same way one
 * level up: a tenant's registration (beside its namespace index) holds tokens that are
 * also in its entry in the index of tenants, and goes when the namespace index empties.
 * Tokens are joined by commas (a UUID holds none).
 */

const EXPIRED = `
local function expired(record, now)
  local e = string.match(record, '^%d+:%d+:(%d+):')
  return e ~= nil and e ~= '0' and tonumber(e) <= now
end
`;

const UNREGISTER = `
-- Once the namespace has no items, take its registration tokens, so that the caller
-- removes them, and only them, from the index entry.
local function unregister_if_empty()
  if redis.call('ZCARD', KEYS[2]) > 0 then return '' end
  -- Redis drops an emptied sorted set by itself; ioredis-mock keeps it.
  redis.call('DEL', KEYS[2], KEYS[3])
  local tokens = redis.call('GET', KEYS[1])
  if not tokens then return '' end
  redis.call('DEL', KEYS[1])
  return tokens
end
`;

const TOKEN_LISTS = LUA_TOKEN_LISTS;

/**
 * KEYS: registration, item keys, expiry, item, [fence]. ARGV: clock, fence, key (hex),
 * tail, ttlMs (or empty), registration token (or empty).
 * Without a token the namespace must already be registered (NEEDS_REGISTRATION
 * otherwise): the client then adds a fresh token to the tenant's index entry and
 * retries with it, so an item is never written into a namespace the index does not
 * list.
 */
export const STORE_PUT = luaScript(
  'store_put',
  `${LUA_CHECK_FENCE}${LUA_READ_NOW}${TOKEN_LISTS}
local old = redis.call('GET', KEYS[4])
local created = now_text
-- A live old record keeps its createdAt, is already in the key index and keeps its
-- namespace registered; one without a TTL has no expiry entry either.
local live_old, old_ttl = false, true
if old then
  local c, e = string.match(old, '^(%d+):%d+:(%d+):')
  if c and (e == '0' or tonumber(e) > now) then
    created = c
    live_old, old_ttl = true, e ~= '0'
  end
end
if ARGV[6] ~= '' then
  redis.call('SET', KEYS[1], with_token(redis.call('GET', KEYS[1]), ARGV[6]))
elseif not live_old and redis.call('EXISTS', KEYS[1]) == 0 then
  return ${ScriptStatus.NEEDS_REGISTRATION}
end
local expires = '0'
if ARGV[5] ~= '' then expires = string.format('%.0f', now + tonumber(ARGV[5])) end
-- SET drops any TTL the old record had.
redis.call('SET', KEYS[4], created .. ':' .. now_text .. ':' .. expires .. ':' .. ARGV[4])
if not live_old then redis.call('ZADD', KEYS[2], 0, ARGV[3]) end
if expires ~= '0' then
  redis.call('PEXPIREAT', KEYS[4], string.format('%.0f', tonumber(expires) - 1))
  redis.call('ZADD', KEYS[3], expires, ARGV[3])
elseif old_ttl then
  -- Also clears an entry left by a record Redis has already expired.
  redis.call('ZREM', KEYS[3], ARGV[3])
end
return 1
`,
);

/**
 * KEYS: registration, item keys, expiry, item, [fence]. ARGV: clock, fence, key (hex).
 * Returns { 1 if a live item was deleted else 0, registration tokens or '' }.
 * The index entries go even when Redis has already expired the record.
 */
export const STORE_DELETE = luaScript(
  'store_delete',
  `${LUA_CHECK_FENCE}${LUA_READ_NOW}${EXPIRED}${UNREGISTER}
local record = redis.call('GET', KEYS[4])
local live = 0
if record then
  if not expired(record, now) then live = 1 end
  redis.call('DEL', KEYS[4])
end
redis.call('ZREM', KEYS[2], ARGV[3])
redis.call('ZREM', KEYS[3], ARGV[3])
return { live, unregister_if_empty() }
`,
);

/**
 * KEYS: item keys, expiry. ARGV: clock, min, max (ZRANGEBYLEX bounds), limit (or
 * empty). Live keys in byte order, joined by commas (hex never contains one; a string
 * because ioredis-mock drops tables built element by element).
 *
 * When nothing in the namespace has expired, the key index is the answer. Otherwise the
 * index is walked a page at a time and each key's own expiry checked (ZMSCORE), and the
 * expired keys walked past are evicted on the way (Redis has dropped their records
 * already), so no later list walks past them again: a call costs its page plus the
 * expired keys in front of it, each of which only one call ever pays for. Expired keys
 * elsewhere in the namespace cost nothing. Pages start small and grow while they turn up
 * expired keys.
 */
export const STORE_LIST = luaScript(
  'store_list',
  `${LUA_READ_NOW}
local limit = tonumber(ARGV[4])
if redis.call('ZCOUNT', KEYS[2], '-inf', now_text) == 0 then
  if limit and limit < redis.call('ZCARD', KEYS[1]) then
    local count = string.format('%.0f', limit)
    return table.concat(redis.call('ZRANGEBYLEX', KEYS[1], ARGV[2], ARGV[3], 'LIMIT', 0, count), ',')
  end
  return table.concat(redis.call('ZRANGEBYLEX', KEYS[1], ARGV[2], ARGV[3]), ',')
end
local live, found = {}, 0
local min = ARGV[2]
local page_size = ${LUA_FIRST_PAGE}
while true do
  local wanted = page_size
  if limit then wanted = math.min(math.max(page_size, limit - found), ${LUA_CHUNK}) end
  local page = redis.call('ZRANGEBYLEX', KEYS[1], min, ARGV[3], 'LIMIT', 0, string.format('%.0f', wanted))
  if #page == 0 then break end
  local expires = redis.call('ZMSCORE', KEYS[2], (unpack or table.unpack)(page))
  local passed, gone = {}, 0
  for i = 1, #page do
    -- A key without a TTL has no score (false on Redis, a null on ioredis-mock).
    local expires_at = expires[i]
    if type(expires_at) == 'string' and tonumber(expires_at) <= now then
      gone = gone + 1
      passed[gone] = page[i]
    else
      found = found + 1
      live[found] = page[i]
      if limit and found >= limit then break end
    end
  end
  if gone > 0 then
    redis.call('ZREM', KEYS[1], (unpack or table.unpack)(passed, 1, gone))
    redis.call('ZREM', KEYS[2], (unpack or table.unpack)(passed, 1, gone))
    page_size = math.min(page_size * 2, ${LUA_CHUNK})
  end
  if (limit and found >= limit) or #page < wanted then break end
  min = '(' .. page[#page]
end
return table.concat(live, ',')
`,
);

/** KEYS: item keys, expiry. ARGV: clock. 1 when the namespace holds a live item. */
export const STORE_NAMESPACE_IS_LIVE = luaScript(
  'store_namespace_is_live',
  `
local total = redis.call('ZCARD', KEYS[1])
if total == 0 then return 0 end
${LUA_READ_NOW}
local expired = redis.call('ZCOUNT', KEYS[2], '-inf', now_text)
if total > expired then return 1 end
return 0
`,
);

/**
 * KEYS: registration, item keys, expiry. ARGV: clock, most to evict.
 * Returns { evicted count, registration tokens or '' }. Only the index entries go:
 * Redis drops the expired records themselves (see PEXPIREAT above). At most `most`
 * per call, so a namespace full of expired items never holds the server for long; the
 * caller calls again while a call evicts that many.
 */
export const STORE_EVICT_NAMESPACE = luaScript(
  'store_evict_namespace',
  `${LUA_READ_NOW}${UNREGISTER}
local keys = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now_text, 'LIMIT', 0, ARGV[2])
for first = 1, #keys, ${LUA_CHUNK} do
  local last = math.min(first + ${LUA_CHUNK} - 1, #keys)
  redis.call('ZREM', KEYS[2], (unpack or table.unpack)(keys, first, last))
  redis.call('ZREM', KEYS[3], (unpack or table.unpack)(keys, first, last))
end
return { #keys, unregister_if_empty() }
`,
);

/**
 * KEYS: namespace index, tenant registration, namespace order. ARGV: encoded scope,
 * registration token, tenant registration token (or empty), scope member. Adds the
 * token to the namespace's index entry and the namespace to the order.
 * Without a tenant token the tenant must already be registered (NEEDS_REGISTRATION
 * otherwise): the client then adds a fresh tenant token to the index of tenants and
 * retries with it, so a namespace is never listed under a tenant the sweep cannot reach.
 */
export const STORE_REGISTER_NAMESPACE = luaScript(
  'store_register_namespace',
  `${TOKEN_LISTS}
if ARGV[3] ~= '' then
  redis.call('SET', KEYS[2], with_token(redis.call('GET', KEYS[2]), ARGV[3]))
elseif redis.call('EXISTS', KEYS[2]) == 0 then
  return ${ScriptStatus.NEEDS_REGISTRATION}
end
redis.call('HSET', KEYS[1], ARGV[1], with_token(redis.call('HGET', KEYS[1], ARGV[1]), ARGV[2]))
redis.call('ZADD', KEYS[3], 0, ARGV[4])
return 1
`,
);

/**
 * KEYS: namespace index, tenant registration, namespace order. ARGV: encoded scope, the
 * registration tokens an emptied namespace handed back, scope member. Removes those
 * tokens from the entry, and the entry (and the namespace from the order) once it holds
 * none. When that empties the tenant's index, returns the tenant's registration tokens
 * (and drops its registration), else ''.
 */
export const STORE_UNREGISTER_NAMESPACE = luaScript(
  'store_unregister_namespace',
  `${TOKEN_LISTS}
local tokens = redis.call('HGET', KEYS[1], ARGV[1])
if tokens then
  local kept = without_tokens(tokens, ARGV[2])
  if kept ~= '' then
    redis.call('HSET', KEYS[1], ARGV[1], kept)
    return ''
  end
  redis.call('HDEL', KEYS[1], ARGV[1])
end
redis.call('ZREM', KEYS[3], ARGV[3])
if redis.call('HLEN', KEYS[1]) > 0 then return '' end
-- Redis drops an emptied hash or sorted set by itself; ioredis-mock keeps them.
redis.call('DEL', KEYS[1], KEYS[3])
local tenant_tokens = redis.call('GET', KEYS[2])
if not tenant_tokens then return '' end
redis.call('DEL', KEYS[2])
return tenant_tokens
`,
);

/** KEYS: index of tenants. ARGV: encoded tenant, tenant registration token. */
export const STORE_REGISTER_TENANT = luaScript(
  'store_register_tenant',
  `${TOKEN_LISTS}
redis.call('HSET', KEYS[1], ARGV[1], with_token(redis.call('HGET', KEYS[1], ARGV[1]), ARGV[2]))
return 1
`,
);

/**
 * KEYS: index of tenants. ARGV: encoded tenant, the tenant registration tokens an
 * emptied namespace index handed back. Removes those tokens from the tenant's entry,
 * and the entry once it holds none.
 */
export const STORE_UNREGISTER_TENANT = luaScript(
  'store_unregister_tenant',
  `${TOKEN_LISTS}
local tokens = redis.call('HGET', KEYS[1], ARGV[1])
if not tokens then return 0 end
local kept = without_tokens(tokens, ARGV[2])
if kept ~= '' then
  redis.call('HSET', KEYS[1], ARGV[1], kept)
  return 0
end
redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('HLEN', KEYS[1]) == 0 then redis.call('DEL', KEYS[1]) end
return 1
`,
);

/**
 * KEYS: item keys, expiry. ARGV: clock, item key prefix, min (a ZRANGEBYLEX bound),
 * limit, then per filter condition: operator, JSON(field), operand (encoded as in the
 * field index; for $in and $nin the operands joined by carriage returns).
 * Live items after `min` in key order that meet every condition, at most `limit`: for
 * each its hex key and its record, all joined by newlines (records hold none; building
 * one `key:record` string per item would cost Redis more than the reads); CORRUPT for a
 * record whose expiry it cannot read. The item records are read by their keys,
 * `prefix .. hex key`: keys of this script's own slot (its hash tag is the
 * namespace's), so the script runs on a Cluster as it does on one server; it only
 * reads them. A call walks the namespace's key index from `min` until it has
 * `limit` matches, in pages that start at the limit and double while the filter or
 * expiry skips items: its cost is the items it passes, of this namespace only.
 *
 * The conditions have core's matchesStoreFilter semantics: an absent field (or a value
 * that is not an object) equals nothing, so it meets only $ne and $nin; $gt, $gte, $lt
 * and $lte compare numbers with numbers and strings with strings (UTF-8 with the bytes
 * below 0x10 escaped, compared byte by byte: code-point order, whatever the server's
 * locale). Records written by 0.1.0 hold a string field as `s` and the hex of its
 * UTF-8; such a record is compared with the operands in that form, made once per call.
 */
export const STORE_SEARCH = luaScript(
  'store_search',
  `${LUA_READ_NOW}
local function field_value(index, field)
  local at = string.find(index, '\\r' .. field, 1, true)
  if not at then return nil end
  local from = at + 1 + #field
  local stop = string.find(index, '\\r', from, true) or (#index + 1)
  return string.sub(index, from, stop - 1)
end
local function compare_bytes(a, b)
  if a == b then return 0 end
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then
      if x < y then return -1 end
      return 1
    end
  end
  if #a < #b then return -1 end
  return 1
end
local function listed(value, operands)
  return string.find('\\r' .. operands .. '\\r', '\\r' .. value .. '\\r', 1, true) ~= nil
end
local function holds(op, actual, operand)
  if op == '$eq' then return actual ~= nil and actual == operand end
  if op == '$ne' then return actual == nil or actual ~= operand end
  if op == '$in' then return actual ~= nil and listed(actual, operand) end
  if op == '$nin' then return actual == nil or not listed(actual, operand) end
  if actual == nil then return false end
  local kind = string.sub(actual, 1, 1)
  if kind ~= string.sub(operand, 1, 1) then return false end
  local order
  if kind == 'n' then
    local a, b = tonumber(string.sub(actual, 2)), tonumber(string.sub(operand, 2))
    if a < b then order = -1 elseif a > b then order = 1 else order = 0 end
  elseif kind == 't' or kind == 's' then
    order = compare_bytes(string.sub(actual, 2), string.sub(operand, 2))
  else
    return false
  end
  if op == '$gt' then return order > 0 end
  if op == '$gte' then return order >= 0 end
  if op == '$lt' then return order < 0 end
  return order <= 0
end
-- A string operand as a 0.1.0 record holds it: unescaped, then hex.
local function as_legacy(operand)
  if string.sub(operand, 1, 1) ~= 't' then return operand end
  local text = string.gsub(string.sub(operand, 2), '\\15(.)', function(c)
    return string.char(string.byte(c) - 48)
  end)
  return 's' .. (string.gsub(text, '.', function(c)
    return string.format('%02x', string.byte(c))
  end))
end
local legacy_operands = {}
local function legacy_operand(i)
  local operand = legacy_operands[i]
  if not operand then
    -- Each operand of an $in or $nin list (they hold no carriage return).
    operand = string.gsub(ARGV[i + 2], '[^\\r]+', as_legacy)
    legacy_operands[i] = operand
  end
  return operand
end
local function meets_filter(record)
  if #ARGV < 5 then return true end
  local index = string.match(record, '^[^\\t]*\\t([^\\t]*)\\t')
  if not index then return false end
  for i = 5, #ARGV, 3 do
    local actual = field_value(index, ARGV[i + 1])
    local operand = ARGV[i + 2]
    if actual and string.sub(actual, 1, 1) == 's' then operand = legacy_operand(i) end
    if not holds(ARGV[i], actual, operand) then return false end
  end
  return true
end
local limit = tonumber(ARGV[4])
local found = {}
local count = 0
local min = ARGV[3]
local page_size = math.min(math.max(limit, ${LUA_FIRST_PAGE}), ${LUA_CHUNK})
while count < limit do
  local page = redis.call('ZRANGEBYLEX', KEYS[1], min, '+', 'LIMIT', 0, page_size)
  for i = 1, #page do
    local record = redis.call('GET', ARGV[2] .. page[i])
    if record then
      local e = string.match(record, '^%d+:%d+:(%d+):')
      if not e then return ${ScriptStatus.CORRUPT} end
      if (e == '0' or tonumber(e) > now) and meets_filter(record) then
        found[2 * count + 1] = page[i]
        found[2 * count + 2] = record
        count = count + 1
        if count >= limit then break end
      end
    end
  end
  if #page < page_size then break end
  min = '(' .. page[#page]
  page_size = math.min(page_size * 2, ${LUA_CHUNK})
end
return table.concat(found, '\\n')
`,
);

/**
 * KEYS: registration, item keys, expiry, then the items' own keys. ARGV: their hex
 * keys, in the same order. Erases those items (for `purgeTenant`); returns { how many
 * index entries went, registration tokens or '' once the namespace is empty }.
 */
export const STORE_PURGE_ITEMS = luaScript(
  'store_purge_items',
  `${UNREGISTER}
local erased = 0
for i = 1, #ARGV do
  redis.call('DEL', KEYS[3 + i])
  erased = erased + redis.call('ZREM', KEYS[2], ARGV[i])
  redis.call('ZREM', KEYS[3], ARGV[i])
end
return { erased, unregister_if_empty() }
`,
);
