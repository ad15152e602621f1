import {
  type CallOptions,
  compareCodePoints,
  Namespace,
  type PayloadFormat,
  readFence,
  readListNamespacesOptions,
  readOptions,
  readStoreListOptions,
  readStorePutOptions,
  type Store,
  type StoreItem,
  selectNamespaceScopes,
  TenantId,
  throwIfAborted,
  validateId,
  type WriteOptions,
} from '@entelix/core';
import {
  assertNewestFence,
  BACKEND,
  readRecord,
  readTenantRecord,
  type StorageClient,
  storageKeys,
  writeRecord,
} from './storage.js';

/** One item as stored; `payload` is envelope text. */
interface StoredItem {
  tenantId: string;
  scope: string[];
  key: string;
  createdAtMs: number;
  updatedAtMs: number;
  /** `null` for an item that never expires. */
  expiresAtMs: number | null;
  payload: string;
}

// Expiry is decided on every read, so an expired item is invisible whether or not
// `evictExpired` has run yet.
const isLive = (item: StoredItem, atMs: number) =>
  item.expiresAtMs === null || item.expiresAtMs > atMs;

/** The store as one record per item, under keys that make a namespace one prefix scan. */
export function createKeyValueStore<V>(client: StorageClient, format: PayloadFormat<V>): Store<V> {
  const readItem = (storageKey: string, tenantId: string) =>
    readTenantRecord<StoredItem>(client, storageKey, tenantId);

  /** Delete the expired items under a prefix; `tenantId` checks each one when given. */
  const evictUnder = (prefix: string, tenantId: string | undefined): number => {
    const atMs = Date.now();
    let evicted = 0;
    for (const storageKey of client.keys(prefix)) {
      const item =
        tenantId === undefined
          ? readRecord<StoredItem>(client, storageKey)
          : readItem(storageKey, tenantId);
      if (item !== undefined && !isLive(item, atMs) && client.delete(storageKey)) evicted++;
    }
    return evicted;
  };

  return {
    async put(namespace, key, value, options) {
      const ns = Namespace.from(namespace);
      const itemKey = validateId(key, 'store key');
      const opts = readStorePutOptions(options);
      const fence = readFence(opts.fence, ns.tenantId, BACKEND);
      const payload = format.encode(value);
      throwIfAborted(opts.signal, BACKEND);
      assertNewestFence(client, fence);
      const storageKey = storageKeys.storeItem(ns, itemKey);
      const atMs = Date.now();
      const existing = readItem(storageKey, ns.tenantId);
      writeRecord(client, storageKey, {
        tenantId: ns.tenantId,
        scope: [...ns.scope],
        key: itemKey,
        // An expired item is gone as far as anyone can tell, so a put after it is a new item.
        createdAtMs: existing !== undefined && isLive(existing, atMs) ? existing.createdAtMs : atMs,
        updatedAtMs: atMs,
        expiresAtMs: opts.ttlMs === undefined ? null : atMs + opts.ttlMs,
        payload,
      } satisfies StoredItem);
    },

    async get(namespace, key, options) {
      const ns = Namespace.from(namespace);
      const itemKey = validateId(key, 'store key');
      throwIfAborted(readOptions<CallOptions>(options).signal, BACKEND);
      const item = readItem(storageKeys.storeItem(ns, itemKey), ns.tenantId);
      if (item === undefined || !isLive(item, Date.now())) return undefined;
      return {
        namespace: ns,
        key: itemKey,
        value: format.decode(item.payload),
        createdAt: new Date(item.createdAtMs),
        updatedAt: new Date(item.updatedAtMs),
        expiresAt: item.expiresAtMs === null ? null : new Date(item.expiresAtMs),
      } satisfies StoreItem<V>;
    },

    async delete(namespace, key, options) {
      const ns = Namespace.from(namespace);
      const itemKey = validateId(key, 'store key');
      const opts = readOptions<WriteOptions>(options);
      const fence = readFence(opts.fence, ns.tenantId, BACKEND);
      throwIfAborted(opts.signal, BACKEND);
      assertNewestFence(client, fence);
      const storageKey = storageKeys.storeItem(ns, itemKey);
      const item = readItem(storageKey, ns.tenantId);
      if (item === undefined) return false;
      client.delete(storageKey);
      // Removing an expired item is housekeeping, not the deletion of a live one.
      return isLive(item, Date.now());
    },

    async list(namespace, options) {
      const ns = Namespace.from(namespace);
      const { prefix, limit, after, signal } = readStoreListOptions(options);
      throwIfAborted(signal, BACKEND);
      const atMs = Date.now();
      // The key prefix is appended as plain text and matched by `startsWith`, so
      // `%`, `_`, `*` and friends are literal with no escaping at all.
      const keys: string[] = [];
      for (const storageKey of client.keys(storageKeys.storeItemsOf(ns) + (prefix ?? ''))) {
        const item = readItem(storageKey, ns.tenantId);
        if (item === undefined || !isLive(item, atMs)) continue;
        if (after !== undefined && compareCodePoints(item.key, after) <= 0) continue;
        keys.push(item.key);
      }
      keys.sort(compareCodePoints);
      return limit === undefined ? keys : keys.slice(0, limit);
    },

    async listNamespaces(tenantId, options) {
      const tenant = TenantId.parse(tenantId);
      const selection = readListNamespacesOptions(options);
      throwIfAborted(selection.signal, BACKEND);
      const atMs = Date.now();
      const scopes: string[][] = [];
      for (const storageKey of client.keys(storageKeys.storeItemsOfTenant(tenant))) {
        const item = readItem(storageKey, tenant);
        if (item !== undefined && isLive(item, atMs)) scopes.push(item.scope);
      }
      // Whole-part prefixes, maxDepth, de-duplication, order and paging in one helper.
      return selectNamespaceScopes(scopes, selection).map((scope) =>
        Namespace.of(tenant, ...scope),
      );
    },

    async evictExpired(tenantId, options) {
      const tenant = tenantId === undefined ? undefined : TenantId.parse(tenantId);
      throwIfAborted(readOptions<CallOptions>(options).signal, BACKEND);
      return tenant === undefined
        ? evictUnder(storageKeys.storeItemsOfEveryTenant(), undefined)
        : evictUnder(storageKeys.storeItemsOfTenant(tenant), tenant);
    },
  };
}
