import { randomUUID } from 'node:crypto';
import {
  type CallOptions,
  CorruptRecordError,
  compareCodePoints,
  compareScopes,
  createPayloadFormat,
  Namespace,
  type PayloadFormat,
  type PayloadOptions,
  readListNamespacesOptions,
  readOptions,
  readStoreListOptions,
  readStorePutOptions,
  type Store,
  type StoreItem,
  selectNamespaceScopes,
  startsWithScope,
  TenantId,
  throwIfAborted,
  validateId,
  type WriteOptions,
} from '@entelix/core';
import {
  BACKEND,
  checkTenantMark,
  clockArgument,
  command,
  expectInteger,
  type RedisContext,
  readWriteFence,
  run,
  runWrite,
  tenantMark,
  throwIfFenced,
} from './context.js';
import {
  decodeComponent,
  decodeScope,
  decodeStoreKey,
  encodeComponent,
  encodeScope,
  encodeStoreKey,
  type NamespaceKeys,
} from './keys.js';
import { ScriptStatus } from './scripts/lua.js';
import {
  STORE_DELETE,
  STORE_EVICT_NAMESPACE,
  STORE_LIST,
  STORE_NAMESPACE_IS_LIVE,
  STORE_PUT,
  STORE_REGISTER_NAMESPACE,
  STORE_REGISTER_TENANT,
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
export function createRedisStore<V>(
  context: RedisContext,
  options: PayloadOptions<V> | undefined,
): Store<V> {
  const format = createPayloadFormat(options, BACKEND);

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
    const registerNamespace = (tenantToken: string) =>
      run(
        context,
        STORE_REGISTER_NAMESPACE,
        2,
        [index, tenantRegistration, scope, token, tenantToken],
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

  /**
   * Remove the registration tokens an emptied namespace handed back from its index
   * entry, and the tenant from the index of tenants once its namespace index is empty.
   */
  async function unregister(namespace: Namespace, tokens: unknown, action: string): Promise<void> {
    if (typeof tokens !== 'string' || tokens === '') return;
    const { tenantId } = namespace;
    const tenantTokens = await run(
      context,
      STORE_UNREGISTER_NAMESPACE,
      2,
      [
        context.keys.namespaceIndex(tenantId),
        context.keys.tenantRegistration(tenantId),
        encodeScope(namespace.scope),
        tokens,
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
    return command(action, () => context.client.hkeys(context.keys.namespaceIndex(tenantId)));
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

  return {
    async put(namespace, key, value, options) {
      const ns = Namespace.from(namespace);
      const itemKey = validateId(key, 'store key');
      const { ttlMs, signal, fence: fenceOption } = readStorePutOptions(options);
      const keys = context.keys.namespace(ns);
      const fence = readWriteFence(context, fenceOption, ns.tenantId, keys.itemKeys);
      throwIfAborted(signal, BACKEND);
      const tail = `${tenantMark(ns.tenantId)}\t${format.encode(value)}`;
      const field = encodeStoreKey(itemKey);
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
      let result = await write('');
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

    async get(namespace, key, options) {
      const ns = Namespace.from(namespace);
      const itemKey = validateId(key, 'store key');
      throwIfAborted(readOptions<CallOptions>(options).signal, BACKEND);
      const itemRedisKey = context.keys.storeItem(ns, encodeStoreKey(itemKey));
      // A plain GET: Redis itself hides a record past its TTL (see scripts/store.ts).
      const record = await command('get', () => context.client.get(itemRedisKey));
      if (record === null) return undefined;
      const item = decodeItem(record, ns, itemKey, format);
      // With the client's clock, its own view of expiry decides too.
      if (
        context.clock === 'client' &&
        item.expiresAt !== null &&
        item.expiresAt.getTime() <= Date.now()
      ) {
        return undefined;
      }
      return item;
    },

    async delete(namespace, key, options) {
      const ns = Namespace.from(namespace);
      const itemKey = validateId(key, 'store key');
      const opts = readOptions<WriteOptions>(options, 'delete options');
      const keys = context.keys.namespace(ns);
      const fence = readWriteFence(context, opts.fence, ns.tenantId, keys.itemKeys);
      throwIfAborted(opts.signal, BACKEND);
      const field = encodeStoreKey(itemKey);
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

    async list(namespace, options) {
      const ns = Namespace.from(namespace);
      const { prefix, limit, after, signal } = readStoreListOptions(options);
      throwIfAborted(signal, BACKEND);
      const keys = context.keys.namespace(ns);
      const { min, max } = lexRange(prefix, after);
      const members = await run(
        context,
        STORE_LIST,
        2,
        [keys.itemKeys, keys.expiry, clockArgument(context), min, max, limit ?? ''],
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

    async listNamespaces(tenantId, options) {
      const tenant = TenantId.parse(tenantId);
      const opts = readListNamespacesOptions(options);
      throwIfAborted(opts.signal, BACKEND);
      const candidates = (await registeredScopes(tenant, 'listNamespaces')).filter((scope) => {
        if (!startsWithScope(scope, opts.prefix)) return false;
        if (opts.after === undefined) return true;
        const listed = opts.maxDepth === undefined ? scope : scope.slice(0, opts.maxDepth);
        return compareScopes(listed, opts.after) > 0;
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
      const scopes = selectNamespaceScopes(
        candidates.filter((_, i) => live[i]),
        opts,
      );
      return scopes.map((scope) => Namespace.of(tenant, ...scope));
    },

    async evictExpired(tenantId, options) {
      const tenant = tenantId === undefined ? undefined : TenantId.parse(tenantId);
      throwIfAborted(readOptions<CallOptions>(options).signal, BACKEND);
      const sweep = new Sweep();
      if (tenant !== undefined) {
        await sweepTenant(tenant, sweep);
      } else {
        const tenants: string[] = [];
        const fields = await command('evictExpired', () =>
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
 * Run `work` over `items` with at most `limit` in flight. A failure stops new work;
 * once what is in flight has settled, the first failure is thrown.
 */
async function forEachConcurrently<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (failure === undefined && next < items.length) {
      const item = items[next++] as T;
      try {
        await work(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== undefined) throw failure.error;
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

// createdAt:updatedAt:expiresAt:tenant TAB payload, as written by STORE_PUT; the
// tenant is JSON text (see tenantMark), the payload the envelope text.
const ITEM_PATTERN = /^(\d+):(\d+):(\d+):/;

function decodeItem<V>(
  text: unknown,
  namespace: Namespace,
  key: string,
  format: PayloadFormat<V>,
): StoreItem<V> {
  const match = typeof text === 'string' ? ITEM_PATTERN.exec(text) : null;
  const start = match === null ? -1 : match[0].length;
  const tab = match === null ? -1 : (text as string).indexOf('\t', start);
  if (match === null || tab === -1) {
    throw new CorruptRecordError('stored item is malformed', { backend: BACKEND });
  }
  checkTenantMark(text as string, start, tab, tenantMark(namespace.tenantId), namespace);
  const expiresAtMs = Number(match[3]);
  return {
    namespace,
    key,
    value: format.decode((text as string).slice(tab + 1)),
    createdAt: new Date(Number(match[1])),
    updatedAt: new Date(Number(match[2])),
    expiresAt: expiresAtMs === 0 ? null : new Date(expiresAtMs),
  };
}
