import {
  type CallOptions,
  compareCodePoints,
  Namespace,
  type PayloadFormat,
  readListNamespacesOptions,
  readOptions,
  readStoreListOptions,
  readStorePutOptions,
  type Store,
  selectNamespaceScopes,
  throwIfAborted,
  validateId,
  type WriteOptions,
} from '@entelix/core';
import {
  BACKEND,
  checkFence,
  type MemoryDatabase,
  type StoredItem,
  type StoredNamespace,
} from './database.js';

/** The memory store: namespaces per tenant, expiry checked on every read. */
export function createMemoryStore<V>(
  database: MemoryDatabase,
  format: PayloadFormat<V>,
  now: () => number,
): Store<V> {
  const isLive = (item: StoredItem, atMs: number) =>
    item.expiresAtMs === null || item.expiresAtMs > atMs;
  const namespaceOf = (ns: Namespace) => database.store.get(ns.tenantId)?.get(ns.render());

  return {
    async put(namespace, key, value, options) {
      const ns = Namespace.from(namespace);
      const itemKey = validateId(key, 'store key');
      const opts = readStorePutOptions(options);
      const payload = format.encode(value);
      throwIfAborted(opts.signal, BACKEND);
      checkFence(database, opts.fence, ns.tenantId);
      let tenant = database.store.get(ns.tenantId);
      if (tenant === undefined) {
        tenant = new Map();
        database.store.set(ns.tenantId, tenant);
      }
      let stored: StoredNamespace | undefined = tenant.get(ns.render());
      if (stored === undefined) {
        stored = { scope: [...ns.scope], items: new Map() };
        tenant.set(ns.render(), stored);
      }
      const atMs = now();
      const existing = stored.items.get(itemKey);
      stored.items.set(itemKey, {
        payload,
        createdAtMs: existing !== undefined && isLive(existing, atMs) ? existing.createdAtMs : atMs,
        updatedAtMs: atMs,
        expiresAtMs: opts.ttlMs === undefined ? null : atMs + opts.ttlMs,
      });
    },

    async get(namespace, key, options) {
      const ns = Namespace.from(namespace);
      const itemKey = validateId(key, 'store key');
      throwIfAborted(readOptions<CallOptions>(options).signal, BACKEND);
      const item = namespaceOf(ns)?.items.get(itemKey);
      if (item === undefined || !isLive(item, now())) return undefined;
      return {
        namespace: ns,
        key: itemKey,
        value: format.decode(item.payload),
        createdAt: new Date(item.createdAtMs),
        updatedAt: new Date(item.updatedAtMs),
        expiresAt: item.expiresAtMs === null ? null : new Date(item.expiresAtMs),
      };
    },

    async delete(namespace, key, options) {
      const ns = Namespace.from(namespace);
      const itemKey = validateId(key, 'store key');
      const opts = readOptions<WriteOptions>(options);
      throwIfAborted(opts.signal, BACKEND);
      checkFence(database, opts.fence, ns.tenantId);
      const stored = namespaceOf(ns);
      const item = stored?.items.get(itemKey);
      if (stored === undefined || item === undefined) return false;
      stored.items.delete(itemKey);
      return isLive(item, now());
    },

    async list(namespace, options) {
      const ns = Namespace.from(namespace);
      const { prefix, limit, after, signal } = readStoreListOptions(options);
      throwIfAborted(signal, BACKEND);
      const stored = namespaceOf(ns);
      if (stored === undefined) return [];
      const atMs = now();
      const keys: string[] = [];
      for (const [key, item] of stored.items) {
        if (!isLive(item, atMs)) continue;
        if (prefix !== undefined && !key.startsWith(prefix)) continue;
        if (after !== undefined && compareCodePoints(key, after) <= 0) continue;
        keys.push(key);
      }
      keys.sort(compareCodePoints);
      return limit === undefined ? keys : keys.slice(0, limit);
    },

    async listNamespaces(tenantId, options) {
      const tenant = validateId(tenantId, 'tenantId');
      const opts = readListNamespacesOptions(options);
      throwIfAborted(opts.signal, BACKEND);
      const atMs = now();
      const liveScopes: string[][] = [];
      for (const stored of database.store.get(tenant)?.values() ?? []) {
        for (const item of stored.items.values()) {
          if (isLive(item, atMs)) {
            liveScopes.push(stored.scope);
            break;
          }
        }
      }
      return selectNamespaceScopes(liveScopes, opts).map((scope) => Namespace.of(tenant, ...scope));
    },

    async evictExpired(tenantId, options) {
      const tenant = tenantId === undefined ? undefined : validateId(tenantId, 'tenantId');
      throwIfAborted(readOptions<CallOptions>(options).signal, BACKEND);
      const atMs = now();
      const tenants =
        tenant === undefined ? [...database.store.values()] : [database.store.get(tenant)];
      let evicted = 0;
      for (const namespaces of tenants) {
        for (const stored of namespaces?.values() ?? []) {
          for (const [key, item] of stored.items) {
            if (isLive(item, atMs)) continue;
            stored.items.delete(key);
            evicted++;
          }
        }
      }
      return evicted;
    },
  };
}
