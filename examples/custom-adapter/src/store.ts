import type { Namespace } from '@entelix/core';
import {
  compareScopes,
  matchesStoreFilter,
  parseEnvelope,
  type StoreDriver,
  type StoreSearchRow,
} from '@entelix/core/adapter';
import {
  BACKEND,
  checkFence,
  checkTenant,
  hasKeys,
  namespaceOfKey,
  pastNamespaceSubtree,
  readListedRecord,
  readRecord,
  type StorageClient,
  storageKeys,
  walkKeys,
  writeRecord,
} from './storage.js';

/** An item as stored: the row the kit checks and decodes for `get` and `search` alike. */
interface StoredItem {
  tenantId: string;
  scope: string[];
  key: string;
  /** The value's envelope text. */
  payload: string;
  createdAt: number;
  updatedAt: number;
  /** `null` for an item that never expires. */
  expiresAt: number | null;
}

// Expiry is decided on every read, so an expired item is invisible whether or not
// `evictExpired` has run yet.
const isLive = (item: StoredItem, atMs: number) => item.expiresAt === null || item.expiresAt > atMs;

/**
 * Items in (namespace, key) order, so a namespace, a namespace prefix or a whole
 * tenant is one key range; beside them one record per namespace that holds an item,
 * in scope order, for `listNamespaces`.
 */
export function createKeyValueStore(client: StorageClient): StoreDriver {
  // The kit checks the rows it is handed; `list`, `listNamespaces` and the sweep read
  // items it never sees, so every read checks the tenant here.
  const readItem = (tenantId: string, itemKey: string) => {
    const item = readRecord<StoredItem>(client, itemKey);
    return item === undefined ? undefined : checkTenant(item, tenantId);
  };
  const readListedItem = (tenantId: string, itemKey: string) =>
    checkTenant(readListedRecord<StoredItem>(client, itemKey), tenantId);

  const liveItem = (ns: Namespace, key: string, atMs: number) => {
    const item = readItem(ns.tenantId, storageKeys.storeItem(ns.tenantId, ns.scope, key));
    return item !== undefined && isLive(item, atMs) ? item : undefined;
  };

  // Usually the first item answers; only expired items not yet evicted are read past.
  const hasLiveItem = (tenantId: string, scope: readonly string[], atMs: number) => {
    for (const itemKey of walkKeys(client, storageKeys.storeItemsOf(tenantId, scope))) {
      if (isLive(readListedItem(tenantId, itemKey), atMs)) return true;
    }
    return false;
  };

  // A namespace record exists exactly while the namespace holds an item, live or not.
  const forgetIfEmpty = (tenantId: string, scope: readonly string[]) => {
    if (!hasKeys(client, storageKeys.storeItemsOf(tenantId, scope))) {
      client.delete(storageKeys.storeNamespace(tenantId, scope));
    }
  };

  return {
    async put(ns, key, payload, ttlMs, call) {
      checkFence(client, call.fence);
      const atMs = Date.now();
      // An expired item is gone as far as anyone can tell, so a put after it is a new item.
      const existing = liveItem(ns, key, atMs);
      writeRecord(client, storageKeys.storeItem(ns.tenantId, ns.scope, key), {
        tenantId: ns.tenantId,
        scope: [...ns.scope],
        key,
        payload,
        createdAt: existing?.createdAt ?? atMs,
        updatedAt: atMs,
        expiresAt: ttlMs === undefined ? null : atMs + ttlMs,
      } satisfies StoredItem);
      client.set(storageKeys.storeNamespace(ns.tenantId, ns.scope), '');
    },

    async get(ns, key) {
      return liveItem(ns, key, Date.now());
    },

    async getMany(refs) {
      const atMs = Date.now();
      return refs.map(({ namespace, key }) => liveItem(namespace, key, atMs));
    },

    async delete(ns, key, call) {
      checkFence(client, call.fence);
      const itemKey = storageKeys.storeItem(ns.tenantId, ns.scope, key);
      const item = readItem(ns.tenantId, itemKey);
      if (item === undefined) return false;
      client.delete(itemKey);
      forgetIfEmpty(ns.tenantId, ns.scope);
      // Removing an expired item is housekeeping, not the deletion of a live one.
      return isLive(item, Date.now());
    },

    async list(ns, query) {
      const atMs = Date.now();
      const items = storageKeys.storeItemsOf(ns.tenantId, ns.scope);
      // The key prefix is appended as plain text and matched by a range, so `%`, `_`,
      // `*` and friends are literal with no escaping at all.
      const range = { after: query.after === undefined ? undefined : items + query.after };
      const keys: string[] = [];
      for (const itemKey of walkKeys(client, items + (query.prefix ?? ''), range)) {
        const item = readListedItem(ns.tenantId, itemKey);
        if (!isLive(item, atMs)) continue;
        keys.push(item.key);
        if (keys.length === query.limit) break;
      }
      return keys;
    },

    async listNamespaces(tenantId, query) {
      const atMs = Date.now();
      const scopes: string[][] = [];
      const under = storageKeys.storeNamespace(tenantId, query.prefix);
      let cursor =
        query.after === undefined ? undefined : storageKeys.storeNamespace(tenantId, query.after);
      // One seek per namespace visited, and after a scope cut to maxDepth the scan jumps
      // past everything under it: the cost is the namespaces listed (and any passed over
      // for holding only expired items), not the tenant's items.
      while (query.limit === undefined || scopes.length < query.limit) {
        const [namespaceKey] = client.keys(under, { after: cursor, limit: 1 });
        if (namespaceKey === undefined) break;
        cursor = namespaceKey;
        const { scope } = namespaceOfKey(namespaceKey);
        const listed = query.maxDepth === undefined ? scope : scope.slice(0, query.maxDepth);
        const isNew = query.after === undefined || compareScopes(listed, query.after) > 0;
        const isListed = isNew && hasLiveItem(tenantId, scope, atMs);
        if (isListed) scopes.push(listed);
        // Everything under a scope cut to maxDepth lists as that scope again.
        if ((isListed || !isNew) && listed.length === query.maxDepth) {
          cursor = pastNamespaceSubtree(tenantId, listed);
        }
      }
      return scopes;
    },

    async search(tenantId, query) {
      const atMs = Date.now();
      const after = query.after;
      const range = {
        after:
          after === undefined ? undefined : storageKeys.storeItem(tenantId, after.scope, after.key),
      };
      const found: StoreSearchRow[] = [];
      for (const itemKey of walkKeys(
        client,
        storageKeys.storeItemsUnder(tenantId, query.namespacePrefix),
        range,
      )) {
        const item = readListedItem(tenantId, itemKey);
        if (!isLive(item, atMs)) continue;
        // Filters see the value as stored: the JSON the codec encoded.
        if (
          query.filter.length > 0 &&
          !matchesStoreFilter(parseEnvelope(item.payload, BACKEND).state, query.filter)
        ) {
          continue;
        }
        found.push(item);
        if (found.length === query.limit) break;
      }
      return found;
    },

    async evictExpired(tenantId) {
      const atMs = Date.now();
      let evicted = 0;
      for (const namespaceKey of walkKeys(client, storageKeys.storeNamespacesOf(tenantId))) {
        const ns = namespaceOfKey(namespaceKey);
        for (const itemKey of walkKeys(client, storageKeys.storeItemsOf(ns.tenantId, ns.scope))) {
          if (isLive(readListedItem(ns.tenantId, itemKey), atMs)) continue;
          client.delete(itemKey);
          evicted++;
        }
        forgetIfEmpty(ns.tenantId, ns.scope);
      }
      return evicted;
    },
  };
}
