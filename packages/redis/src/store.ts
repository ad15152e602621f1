import { randomUUID } from 'node:crypto';
import { CorruptRecordError, type JsonValue, Namespace, type TenantId } from '@entelix/core';
import {
  compareCodePoints,
  compareScopes,
  parseEnvelope,
  type StoreDriver,
  type StoreFilterCondition,
  type StoreItemRow,
  type StoreSearchRow,
  selectNamespaceScopes,
  startsWithScope,
} from '@entelix/core/adapter';
import { canonicalJson } from './checkpointer.js';
import {
  BACKEND,
  clockArgument,
  command,
  expectInteger,
  expectString,
  fenceArguments,
  forEachConcurrently,
  type RedisContext,
  readTenantMark,
  run,
  runWrite,
  tenantMark,
  throwIfFenced,
} from './context.js';
import {
  clusterSlot,
  decodeComponent,
  decodeScope,
  decodeScopeMember,
  decodeStoreKey,
  encodeComponent,
  encodeScope,
  encodeScopeMember,
  encodeStoreKey,
  type NamespaceKeys,
} from './keys.js';
import { ScriptStatus } from './scripts/lua.js';
import {
  STORE_DELETE,
  STORE_EVICT_NAMESPACE,
  STORE_LIST,
  STORE_NAMESPACE_IS_LIVE,
  STORE_PURGE_ITEMS,
  STORE_PUT,
  STORE_REGISTER_NAMESPACE,
  STORE_REGISTER_TENANT,
  STORE_SEARCH,
  STORE_UNREGISTER_NAMESPACE,
  STORE_UNREGISTER_TENANT,
} from './scripts/store.js';

/**
 * Each namespace lives in its own slot (item keys, key index, expiry index). The
 * tenant's namespace index lives in the tenant's slot and the index of tenants in a
 * slot of its own, so neither can change in the same script as the items; registration
 * tokens keep the three consistent (see scripts/store.ts): an index entry is added
 * before a namespace's first item is written and goes only once that namespace and
 * every concurrent registration of it are gone, and a tenant stays in the index of
 * tenants while its namespace index lists anything. An entry may therefore outlive its
 * items (listNamespaces checks liveness), never the reverse.
 */
export function createRedisStore(context: RedisContext): StoreDriver {
  /** The KEYS of a script that writes one item. */
  function itemScriptKeys(keys: NamespaceKeys, field: string): string[] {
    return [keys.registration, keys.itemKeys, keys.expiry, keys.itemPrefix + field];
  }

  /** Add `token` to the namespace's index entry, registering the tenant first if need be. */
  async function register(namespace: Namespace, token: string): Promise<void> {
    const { tenantId } = namespace;
    const index = context.keys.namespaceIndex(tenantId);
    const tenantRegistration = context.keys.tenantRegistration(tenantId);
    const scope = encodeScope(namespace.scope);
    const order = context.keys.namespaceOrder(tenantId);
    const member = encodeScopeMember(namespace.scope);
    const registerNamespace = (tenantToken: string) =>
      run(
        context,
        STORE_REGISTER_NAMESPACE,
        3,
        [index, tenantRegistration, order, scope, token, tenantToken, member],
        'put',
      );
    if ((await registerNamespace('')) !== ScriptStatus.NEEDS_REGISTRATION) return;
    const tenantToken = randomUUID();
    await run(
      context,
      STORE_REGISTER_TENANT,
      1,
      [context.keys.storeTenants(), encodeComponent(tenantId), tenantToken],
      'put',
    );
    await registerNamespace(tenantToken);
  }

  const unregister = (namespace: Namespace, tokens: unknown, action: string) =>
    unregisterNamespace(context, namespace, tokens, action);

  async function evictNamespace(namespace: Namespace): Promise<number> {
    const keys = context.keys.namespace(namespace);
    let evicted = 0;
    for (;;) {
      const result = await run(
        context,
        STORE_EVICT_NAMESPACE,
        3,
        [keys.registration, keys.itemKeys, keys.expiry, clockArgument(context), EVICT_PER_CALL],
        'evictExpired',
      );
      const [count, tokens] = expectPair(result, 'evictExpired');
      evicted += count;
      await unregister(namespace, tokens, 'evictExpired');
      if (count < EVICT_PER_CALL) return evicted;
    }
  }

  async function registeredScopes(tenantId: string, action: string): Promise<string[][]> {
    const fields = await indexedScopes(tenantId, action);
    return fields.map(decodeScope);
  }

  function indexedScopes(tenantId: string, action: string): Promise<string[]> {
    return command(context, action, () =>
      context.client.hkeys(context.keys.namespaceIndex(tenantId)),
    );
  }

  /**
   * Evict the expired items of every namespace in the tenant's index. An entry that
   * cannot be read, or a namespace whose keys hold the wrong type, is `CORRUPT_RECORD`:
   * the sweep records it and sweeps the other namespaces all the same.
   */
  async function sweepTenant(tenantId: string, sweep: Sweep): Promise<void> {
    const namespaces: Namespace[] = [];
    for (const field of await indexedScopes(tenantId, 'evictExpired')) {
      try {
        namespaces.push(Namespace.of(tenantId, ...decodeScope(field)));
      } catch (error) {
        sweep.skip(
          `namespace index entry ${JSON.stringify(field)} of tenant ${JSON.stringify(tenantId)}`,
          error,
        );
      }
    }
    await forEachConcurrently(namespaces, NAMESPACES_IN_FLIGHT, async (namespace) => {
      try {
        const evicted = await evictNamespace(namespace);
        sweep.evicted += evicted;
      } catch (error) {
        sweep.skip(`namespace ${namespace.render()}`, error);
      }
    });
  }

  /** A record read back (by GET or a script) as a row, expired by the client's clock too. */
  const toRow = (record: string | null, namespace: Namespace, atMs: number) => {
    if (record === null) return undefined;
    const row = decodeItem(record, namespace);
    // With the client's clock, its own view of expiry decides too.
    if (context.clock === 'client' && row.expiresAt !== null && row.expiresAt <= atMs) {
      return undefined;
    }
    return row;
  };

  return {
    async put(ns, key, payload, ttlMs, call) {
      const keys = context.keys.namespace(ns);
      const fence = fenceArguments(context, call.fence, keys.itemKeys);
      const tail = `${tenantMark(ns.tenantId)}\t${fieldIndex(payload)}\t${payload}`;
      const field = encodeStoreKey(key);
      const write = (token: string) =>
        runWrite(
          context,
          STORE_PUT,
          itemScriptKeys(keys, field),
          fence,
          clockArgument(context),
          [field, tail, ttlMs ?? '', token],
          'put',
        );
      // A large value is sent once: into a namespace not registered yet (the script would
      // answer NEEDS_REGISTRATION only after receiving it), it goes after registering.
      const unregistered =
        tail.length > LARGE_ITEM &&
        (await command(context, 'put', () => context.client.exists(keys.registration))) === 0;
      let result = unregistered ? ScriptStatus.NEEDS_REGISTRATION : await write('');
      if (result === ScriptStatus.NEEDS_REGISTRATION) {
        const token = randomUUID();
        await register(ns, token);
        result = await write(token);
        // Fenced: the token never reached the namespace's registration, so it can go
        // from the index entry again.
        if (result === ScriptStatus.FENCED) await unregister(ns, token, 'put');
      }
      throwIfFenced(result);
      expectInteger(result, 'put');
    },

    async get(ns, key) {
      const itemRedisKey = context.keys.storeItem(ns, encodeStoreKey(key));
      // A plain GET: Redis itself hides a record past its TTL (see scripts/store.ts).
      const record = await command(context, 'get', () => context.client.get(itemRedisKey));
      return toRow(record, ns, Date.now());
    },

    async getMany(refs) {
      const itemKeys = refs.map(({ namespace, key }) =>
        context.keys.storeItem(namespace, encodeStoreKey(key)),
      );
      // One MGET per slot (a Cluster refuses keys of several slots in one), all in flight
      // at once; a standalone server takes them all in one.
      const groups = new Map<number, number[]>();
      itemKeys.forEach((itemKey, i) => {
        const slot = context.isCluster ? clusterSlot(itemKey) : 0;
        const group = groups.get(slot);
        if (group === undefined) groups.set(slot, [i]);
        else group.push(i);
      });
      const records: (string | null)[] = new Array(refs.length).fill(null);
      await Promise.all(
        [...groups.values()].map(async (positions) => {
          const found = await command(context, 'getMany', () =>
            context.client.mget(positions.map((i) => itemKeys[i] as string)),
          );
          positions.forEach((position, i) => {
            records[position] = found[i] ?? null;
          });
        }),
      );
      const atMs = Date.now();
      return records.map((record, i) =>
        toRow(record, (refs[i] as (typeof refs)[number]).namespace, atMs),
      );
    },

    async delete(ns, key, call) {
      const keys = context.keys.namespace(ns);
      const fence = fenceArguments(context, call.fence, keys.itemKeys);
      const field = encodeStoreKey(key);
      const result = await runWrite(
        context,
        STORE_DELETE,
        itemScriptKeys(keys, field),
        fence,
        clockArgument(context),
        [field],
        'delete',
      );
      throwIfFenced(result);
      const [deleted, tokens] = expectPair(result, 'delete');
      await unregister(ns, tokens, 'delete');
      return deleted === 1;
    },

    async list(ns, query) {
      const keys = context.keys.namespace(ns);
      const { min, max } = lexRange(query.prefix, query.after);
      const members = await run(
        context,
        STORE_LIST,
        2,
        [keys.itemKeys, keys.expiry, clockArgument(context), min, max, query.limit ?? ''],
        'list',
      );
      if (typeof members !== 'string') {
        throw new CorruptRecordError('unexpected list reply', { backend: BACKEND });
      }
      const page: string[] = [];
      if (members === '') return page;
      let start = 0;
      for (;;) {
        const end = members.indexOf(',', start);
        if (end === -1) {
          page.push(decodeStoreKey(members, start, members.length));
          return page;
        }
        page.push(decodeStoreKey(members, start, end));
        start = end + 1;
      }
    },

    async listNamespaces(tenant, query) {
      const candidates = (await registeredScopes(tenant, 'listNamespaces')).filter((scope) => {
        if (!startsWithScope(scope, query.prefix)) return false;
        if (query.after === undefined) return true;
        const listed = query.maxDepth === undefined ? scope : scope.slice(0, query.maxDepth);
        return compareScopes(listed, query.after) > 0;
      });
      // One small script per namespace, each in its own slot, all in flight at once.
      const live = await Promise.all(
        candidates.map(async (scope) => {
          const keys = context.keys.namespace(Namespace.of(tenant, ...scope));
          const result = await run(
            context,
            STORE_NAMESPACE_IS_LIVE,
            2,
            [keys.itemKeys, keys.expiry, clockArgument(context)],
            'listNamespaces',
          );
          return result === 1;
        }),
      );
      return selectNamespaceScopes(
        candidates.filter((_, i) => live[i]),
        query,
      );
    },

    async search(tenant, query) {
      const { after } = query;
      const conditions = filterArguments(query.filter);
      const order = context.keys.namespaceOrder(tenant);
      // The namespaces under the prefix are one lex range of the order; the cursor's own
      // namespace is included (its items after the cursor's key come next).
      const prefix = encodeScopeMember(query.namespacePrefix);
      const max = prefix === '' ? '+' : `(${prefix}g`;
      const cursor = after === undefined ? '' : encodeScopeMember(after.scope);
      let min = cursor > prefix ? `[${cursor}` : prefix === '' ? '-' : `[${prefix}`;
      /** Up to `limit` items of the namespace `member` of the order, after the cursor. */
      const readNamespace = async (member: string, limit: number) => {
        const scope = decodeScopeMember(member);
        const namespace = Namespace.of(tenant, ...scope);
        const keys = context.keys.namespace(namespace);
        const from =
          member === cursor && after !== undefined ? `(${encodeStoreKey(after.key)}` : '-';
        const result = await run(
          context,
          STORE_SEARCH,
          2,
          [
            keys.itemKeys,
            keys.expiry,
            clockArgument(context),
            keys.itemPrefix,
            from,
            limit,
            ...conditions,
          ],
          'search',
        );
        if (result === ScriptStatus.CORRUPT) {
          throw new CorruptRecordError('a stored item of the namespace is malformed', {
            backend: BACKEND,
          });
        }
        const reply = expectString(result, 'search');
        if (reply === '') return [];
        const parts = reply.split('\n');
        if (parts.length % 2 !== 0) {
          throw new CorruptRecordError('unexpected search reply from Redis', { backend: BACKEND });
        }
        const rows: StoreSearchRow[] = [];
        for (let i = 0; i < parts.length; i += 2) {
          // Added to the decoded item rather than spread with it: a spread costs microseconds
          // an item, more than the decoding.
          rows.push(
            Object.assign(decodeItem(parts[i + 1] as string, namespace), {
              scope,
              key: decodeStoreKey(parts[i] as string),
            }),
          );
        }
        return rows;
      };
      // A range that starts at a namespace (the prefix's own, or the cursor's) gives it
      // first if it holds anything: its page is read while the order is, in the same round
      // trip, and kept only if the order does list it first.
      let early: { member: string; page: Promise<StoreSearchRow[]> } | undefined;
      if (min.startsWith('[')) {
        early = { member: min.slice(1), page: readNamespace(min.slice(1), query.limit) };
        // Read or not, it settles: a failure counts only if its page is used.
        early.page.catch(() => {});
      }
      const found: StoreSearchRow[] = [];
      for (;;) {
        const members = await command(context, 'search', () =>
          context.client.zrangebylex(order, min, max, 'LIMIT', 0, NAMESPACES_PER_PAGE),
        );
        for (const member of members) {
          const page =
            early?.member === member
              ? await early.page
              : await readNamespace(member, query.limit - found.length);
          early = undefined;
          for (const row of page) found.push(row);
          if (found.length >= query.limit) return found;
        }
        if (members.length < NAMESPACES_PER_PAGE) return found;
        min = `(${members[members.length - 1]}`;
      }
    },

    async evictExpired(tenant) {
      const sweep = new Sweep();
      if (tenant !== undefined) {
        await sweepTenant(tenant, sweep);
      } else {
        const tenants: string[] = [];
        const fields = await command(context, 'evictExpired', () =>
          context.client.hkeys(context.keys.storeTenants()),
        );
        for (const field of fields) {
          try {
            tenants.push(decodeComponent(field, 'tenant id'));
          } catch (error) {
            sweep.skip(`tenant index entry ${JSON.stringify(field)}`, error);
          }
        }
        await forEachConcurrently(tenants, TENANTS_IN_FLIGHT, (each) =>
          sweepTenant(each, sweep).catch((error: unknown) =>
            sweep.skip(`namespace index of tenant ${JSON.stringify(each)}`, error),
          ),
        );
      }
      sweep.finish();
      return sweep.evicted;
    },
  };
}

// Expired items one script evicts at most: the sweep of a namespace full of them
// takes several short scripts rather than one long one.
const EVICT_PER_CALL = 10_000;

// How many tenants, and namespaces of one tenant, a sweep works on at once: enough to
// keep the connection busy (ioredis pipelines what is in flight), few enough to leave
// room for other callers' commands.
const TENANTS_IN_FLIGHT = 8;
const NAMESPACES_IN_FLIGHT = 16;

/**
 * What a sweep evicted, and what it had to leave because it could not read it. One
 * unreadable entry must not stop the sweep of everything else, nor vanish into the
 * count: the sweep goes on, then {@link Sweep.finish} rejects with `CORRUPT_RECORD`
 * naming what it skipped.
 */
class Sweep {
  evicted = 0;
  private readonly skipped: { what: string; error: unknown }[] = [];

  /** Record a `CORRUPT_RECORD` failure of one entry; any other failure ends the sweep. */
  skip(what: string, error: unknown): void {
    if (!CorruptRecordError.isInstance(error)) throw error;
    this.skipped.push({ what, error });
  }

  finish(): void {
    if (this.skipped.length === 0) return;
    const named = this.skipped.slice(0, 10).map((each) => each.what);
    const more =
      this.skipped.length > named.length ? ` and ${this.skipped.length - named.length} more` : '';
    throw new CorruptRecordError(
      `evictExpired evicted ${this.evicted} expired items but skipped what it cannot read ` +
        `(left in place): ${named.join('; ')}${more}`,
      {
        cause: new AggregateError(this.skipped.map((each) => each.error)),
        backend: BACKEND,
      },
    );
  }
}

/**
 * ZRANGEBYLEX bounds over hex-encoded keys. Hex preserves byte order, so keys with a
 * literal prefix are exactly `[hex(prefix)` up to `(hex(prefix)g` ('g' follows every
 * hex digit), and keyset paging starts after `after` when that is further on.
 */
export function lexRange(
  prefix: string | undefined,
  after: string | undefined,
): { min: string; max: string } {
  const prefixHex = prefix === undefined ? undefined : encodeStoreKey(prefix);
  const max = prefixHex === undefined ? '+' : `(${prefixHex}g`;
  if (after !== undefined && (prefix === undefined || compareCodePoints(after, prefix) >= 0)) {
    return { min: `(${encodeStoreKey(after)}`, max };
  }
  return { min: prefixHex === undefined ? '-' : `[${prefixHex}`, max };
}

function expectPair(result: unknown, what: string): [number, unknown] {
  if (!Array.isArray(result) || result.length !== 2 || typeof result[0] !== 'number') {
    throw new CorruptRecordError(`unexpected ${what} reply from Redis`, { backend: BACKEND });
  }
  return [result[0], result[1]];
}

/**
 * Remove the registration tokens an emptied namespace handed back from its index
 * entry, and the tenant from the index of tenants once its namespace index is empty.
 */
export async function unregisterNamespace(
  context: RedisContext,
  namespace: Namespace,
  tokens: unknown,
  action: string,
): Promise<void> {
  if (typeof tokens !== 'string' || tokens === '') return;
  const { tenantId } = namespace;
  const tenantTokens = await run(
    context,
    STORE_UNREGISTER_NAMESPACE,
    3,
    [
      context.keys.namespaceIndex(tenantId),
      context.keys.tenantRegistration(tenantId),
      context.keys.namespaceOrder(tenantId),
      encodeScope(namespace.scope),
      tokens,
      encodeScopeMember(namespace.scope),
    ],
    action,
  );
  if (typeof tenantTokens !== 'string' || tenantTokens === '') return;
  await run(
    context,
    STORE_UNREGISTER_TENANT,
    1,
    [context.keys.storeTenants(), encodeComponent(tenantId), tenantTokens],
    action,
  );
}

/**
 * Erase every item of the tenant's namespaces for `purgeTenant`: a page of item keys at
 * a time, each page one script with those keys in KEYS. Returns how many index entries
 * went (expired items not yet evicted included).
 */
export async function purgeStoreTenant(context: RedisContext, tenant: TenantId): Promise<number> {
  const fields = await command(context, 'purgeTenant', () =>
    context.client.hkeys(context.keys.namespaceIndex(tenant)),
  );
  let erased = 0;
  await forEachConcurrently(fields, NAMESPACES_IN_FLIGHT, async (field) => {
    const namespace = Namespace.of(tenant, ...decodeScope(field));
    const keys = context.keys.namespace(namespace);
    for (;;) {
      const page = await command(context, 'purgeTenant', () =>
        context.client.zrange(keys.itemKeys, 0, PURGE_PER_CALL - 1),
      );
      const result = await run(
        context,
        STORE_PURGE_ITEMS,
        3 + page.length,
        [
          keys.registration,
          keys.itemKeys,
          keys.expiry,
          ...page.map((member) => keys.itemPrefix + member),
          ...page,
        ],
        'purgeTenant',
      );
      const [count, tokens] = expectPair(result, 'purgeTenant');
      erased += count;
      await unregisterNamespace(context, namespace, tokens, 'purgeTenant');
      if (page.length < PURGE_PER_CALL) return;
    }
  });
  return erased;
}

// Namespaces a search reads from the tenant's namespace order at a time.
const NAMESPACES_PER_PAGE = 100;

// Items one purge script erases at most (each is a key in its KEYS).
const PURGE_PER_CALL = 500;

// A record this long (UTF-16 units) costs more to send twice than a round trip asking
// whether its namespace is registered.
const LARGE_ITEM = 1 << 20;

/**
 * The field index of an item, kept in its record so a search filters in Lua without a
 * JSON parser: for each top-level field of an object value, a carriage return,
 * JSON(field) and the value as kind and text: `n` and the number as JavaScript prints
 * it, `t` and the string as {@link orderedText}, `j` and the canonical JSON of anything
 * else (equal texts are equal JSON). Empty for a value that is not an object. A JSON
 * string closes with its only unescaped quote, so `CR JSON(field)` starts exactly one
 * field's entry.
 */
function fieldIndex(payload: string): string {
  const value = parseEnvelope(payload, BACKEND).state;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return '';
  let index = '';
  for (const [name, field] of Object.entries(value as Record<string, JsonValue>)) {
    if (field === undefined) continue;
    index += `\r${JSON.stringify(name)}${encodeFieldValue(field)}`;
  }
  return index;
}

/** A value as the field index holds it: kind and text (see {@link fieldIndex}). */
function encodeFieldValue(value: JsonValue): string {
  if (typeof value === 'number') return `n${String(value)}`;
  if (typeof value === 'string') return `t${orderedText(value)}`;
  return `j${canonicalJson(value)}`;
}

// Bytes 0x00-0x0F: the record's separators (tab, line feed, carriage return) among them.
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters to escape
const LOW_CHARACTER = /[\u0000-\u000f]/g;

/**
 * A string as its UTF-8 bytes with each byte below 0x10 written as 0x0F and the byte
 * plus 0x30, so no separator of the record is left. Redis compares the result byte by
 * byte in the same order as the strings' code points: an escaped byte sorts before every
 * byte it does not escape and among the escaped ones by its value. Each lone surrogate
 * becomes U+FFFD, as UTF-8 on the way to Redis would make it (and ioredis-mock would not).
 */
function orderedText(value: string): string {
  const text = value.isWellFormed() ? value : value.toWellFormed();
  return text.replace(LOW_CHARACTER, escapeLowCharacter);
}

function escapeLowCharacter(character: string): string {
  return `\u000f${String.fromCharCode(0x30 + character.charCodeAt(0))}`;
}

/**
 * A search filter as STORE_SEARCH's arguments: per condition the operator, JSON(field)
 * and the operand encoded as in the field index (for `$in` and `$nin`, the encoded
 * operands joined by carriage returns).
 */
function filterArguments(conditions: readonly StoreFilterCondition[]): string[] {
  const args: string[] = [];
  for (const { field, op, value } of conditions) {
    const operand =
      op === '$in' || op === '$nin'
        ? (value as JsonValue[]).map(encodeFieldValue).join('\r')
        : encodeFieldValue(value);
    args.push(op, JSON.stringify(field), operand);
  }
  return args;
}

// createdAt:updatedAt:expiresAt:tenant TAB field index TAB payload, as written by
// STORE_PUT; the tenant is JSON text (see tenantMark), the payload the envelope text.
const ITEM_PATTERN = /^(\d+):(\d+):(\d+):/;

function decodeItem(
  text: string,
  namespace: Namespace,
): StoreItemRow & { expiresAt: number | null } {
  const match = ITEM_PATTERN.exec(text);
  const start = match === null ? -1 : match[0].length;
  const tab = match === null ? -1 : text.indexOf('\t', start);
  const payloadTab = tab === -1 ? -1 : text.indexOf('\t', tab + 1);
  if (match === null || payloadTab === -1) {
    throw new CorruptRecordError('stored item is malformed', { backend: BACKEND });
  }
  const expiresAtMs = Number(match[3]);
  return {
    tenantId: readTenantMark(text, start, tab, tenantMark(namespace.tenantId), namespace.tenantId),
    payload: text.slice(payloadTab + 1),
    createdAt: Number(match[1]),
    updatedAt: Number(match[2]),
    expiresAt: expiresAtMs === 0 ? null : expiresAtMs,
  };
}
