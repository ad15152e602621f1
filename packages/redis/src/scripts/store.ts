import { LUA_CHECK_FENCE, LUA_READ_NOW, luaScript } from './lua.js';

/*
 * An item record is `createdAt:updatedAt:expiresAt:tail` (milliseconds, expiresAt 0
 * when the item never expires; tail is `tenant TAB payload`, see store.ts). The numbers come
 * first so a script can read them with `string.match` and no cjson.
 *
 * Each record is a string key of its own. An item with a TTL gets `PEXPIREAT
 * expiresAt - 1`: Redis treats a key as gone once its time is past the deadline, so
 * the record disappears exactly when `expiresAt <= now`, by the server's clock, and
 * a plain `GET` never returns it. The indexes keep their entries until a delete or
 * `evictExpired` takes them out.
 *
 * Namespace keys, in this order in every script: registration, item keys (sorted
 * set), expiry (sorted set), then the item's own key. Expired means `expiresAt <= now`.
 */

const EXPIRED = `
local function expired(record, now)
  local e = string.match(record, '^%d+:%d+:(%d+):')
  return e ~= nil and e ~= '0' and tonumber(e) <= now
end
`;

const UNREGISTER = `
-- Once the namespace has no items, drop its registration and hand the token back so
-- the caller can remove the index entry only if nobody re-registered meanwhile.
local function unregister_if_empty()
  if redis.call('ZCARD', KEYS[2]) > 0 then return '' end
  local token = redis.call('GET', KEYS[1])
  if not token then return '' end
  redis.call('DEL', KEYS[1])
  return token
end
`;

/**
 * KEYS: registration, item keys, expiry, item, [fence]. ARGV: clock, fence, key (hex),
 * tail, ttlMs (or empty), registration token (or empty).
 * Without a token the namespace must already be registered (-4 otherwise): the
 * client then adds it to the tenant's index and retries with a fresh token, so an
 * item is never written into a namespace the index does not list.
 */
export const STORE_PUT = luaScript(
  'store_put',
  `${LUA_CHECK_FENCE}${LUA_READ_NOW}
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
  redis.call('SET', KEYS[1], ARGV[6])
elseif not live_old and redis.call('EXISTS', KEYS[1]) == 0 then
  return -4
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
 * Returns { 1 if a live item was deleted else 0, unregistration token or '' }.
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
 * empty). Live keys in byte order, skipping expired ones, joined by commas (hex never
 * contains one; a string because ioredis-mock drops tables built element by element).
 * Walks this namespace's index only, in pages, so the cost never depends on the rest
 * of the keyspace.
 */
export const STORE_LIST = luaScript(
  'store_list',
  `${LUA_READ_NOW}
local limit = tonumber(ARGV[4])
-- The expired keys once, as a set, rather than a lookup per listed key.
local expired = {}
local any_expired = false
for _, key in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now_text)) do
  expired[key] = true
  any_expired = true
end
if not any_expired then
  if limit then
    return table.concat(redis.call('ZRANGEBYLEX', KEYS[1], ARGV[2], ARGV[3], 'LIMIT', 0, limit), ',')
  end
  return table.concat(redis.call('ZRANGEBYLEX', KEYS[1], ARGV[2], ARGV[3]), ',')
end
local page_size = 256
local min = ARGV[2]
local keys = {}
while true do
  local page = redis.call('ZRANGEBYLEX', KEYS[1], min, ARGV[3], 'LIMIT', 0, page_size)
  for _, key in ipairs(page) do
    if not expired[key] then
      keys[#keys + 1] = key
      if limit and #keys >= limit then return table.concat(keys, ',') end
    end
  end
  if #page < page_size then return table.concat(keys, ',') end
  min = '(' .. page[#page]
end
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
 * KEYS: registration, item keys, expiry. ARGV: clock.
 * Returns { evicted count, unregistration token or '' }. Only the index entries go:
 * Redis drops the expired records themselves (see PEXPIREAT above).
 */
export const STORE_EVICT_NAMESPACE = luaScript(
  'store_evict_namespace',
  `${LUA_READ_NOW}${UNREGISTER}
local keys = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now_text)
for _, key in ipairs(keys) do
  redis.call('ZREM', KEYS[2], key)
end
if #keys > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now_text) end
return { #keys, unregister_if_empty() }
`,
);

/**
 * KEYS: tenant namespace index. ARGV: encoded scope, token. Removes the entry only if
 * it still carries the token of the registration that was just dropped.
 */
export const STORE_UNREGISTER_NAMESPACE = luaScript(
  'store_unregister_namespace',
  `
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
return redis.call('HDEL', KEYS[1], ARGV[1])
`,
);
