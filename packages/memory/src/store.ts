import type { Namespace } from '@entelix/core';
import {
  compareCodePoints,
  compareScopes,
  matchesStoreFilter,
  parseEnvelope,
  type StoreDriver,
  type StoreItemRow,
  type StoreSearchRow,
  selectNamespaceScopes,
  startsWithScope,
} from '@entelix/core/adapter';
import {
  BACKEND,
  checkFence,
  type MemoryDatabase,
  type StoredItem,
  type StoredNamespace,
} from './database.js';

/** Namespaces per tenant, expiry checked on every read. */
export function createMemoryStore(database: MemoryDatabase, now: () => number): StoreDriver {
  const isLive = (item: StoredItem, atMs: number) =>
    item.expiresAtMs === null || item.expiresAtMs > atMs;
  const namespaceOf = (ns: Namespace) => database.store.get(ns.tenantId)?.get(ns.render());
  const toRow = (tenantId: string, item: StoredItem): StoreItemRow => ({
    tenantId,
    payload: item.payload,
    createdAt: item.createdAtMs,
    updatedAt: item.updatedAtMs,
    expiresAt: item.expiresAtMs,
  });
  const liveItem = (ns: Namespace, key: string, atMs: number) => {
    const item = namespaceOf(ns)?.items.get(key);
    return item !== undefined && isLive(item, atMs) ? item : undefined;
  };

  return {
    async put(ns, key, payload, ttlMs, call) {
      checkFence(database, call.fence);
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
      const existing = stored.items.get(key);
      stored.items.set(key, {
        payload,
        createdAtMs: existing !== undefined && isLive(existing, atMs) ? existing.createdAtMs : atMs,
        updatedAtMs: atMs,
        expiresAtMs: ttlMs === undefined ? null : atMs + ttlMs,
      });
    },

    async get(ns, key) {
      const item = liveItem(ns, key, now());
      return item === undefined ? undefined : toRow(ns.tenantId, item);
    },

    async getMany(refs) {
      const atMs = now();
      return refs.map(({ namespace, key }) => {
        const item = liveItem(namespace, key, atMs);
        return item === undefined ? undefined : toRow(namespace.tenantId, item);
      });
    },

    async delete(ns, key, call) {
      checkFence(database, call.fence);
      const stored = namespaceOf(ns);
      const item = stored?.items.get(key);
      if (stored === undefined || item === undefined) return false;
      stored.items.delete(key);
      if (stored.items.size === 0) database.store.get(ns.tenantId)?.delete(ns.render());
      return isLive(item, now());
    },

    async list(ns, query) {
      const stored = namespaceOf(ns);
      if (stored === undefined) return [];
      const atMs = now();
      const keys: string[] = [];
      for (const [key, item] of stored.items) {
        if (!isLive(item, atMs)) continue;
        if (query.prefix !== undefined && !key.startsWith(query.prefix)) continue;
        if (query.after !== undefined && compareCodePoints(key, query.after) <= 0) continue;
        keys.push(key);
      }
      keys.sort(compareCodePoints);
      return query.limit === undefined ? keys : keys.slice(0, query.limit);
    },

    async listNamespaces(tenantId, query) {
      const atMs = now();
      const liveScopes: string[][] = [];
      for (const stored of database.store.get(tenantId)?.values() ?? []) {
        for (const item of stored.items.values()) {
          if (isLive(item, atMs)) {
            liveScopes.push(stored.scope);
            break;
          }
        }
      }
      return selectNamespaceScopes(liveScopes, query);
    },

    async search(tenantId, query) {
      const atMs = now();
      const namespaces = [...(database.store.get(tenantId)?.values() ?? [])]
        .filter((stored) => startsWithScope(stored.scope, query.namespacePrefix))
        .filter(
          (stored) =>
            query.after === undefined || compareScopes(stored.scope, query.after.scope) >= 0,
        )
        .sort((a, b) => compareScopes(a.scope, b.scope));
      const found: StoreSearchRow[] = [];
      for (const stored of namespaces) {
        const sameAsCursor =
          query.after !== undefined && compareScopes(stored.scope, query.after.scope) === 0;
        const keys = [...stored.items.keys()]
          .filter((key) => !sameAsCursor || compareCodePoints(key, query.after?.key as string) > 0)
          .sort(compareCodePoints);
        for (const key of keys) {
          const item = stored.items.get(key) as StoredItem;
          if (!isLive(item, atMs)) continue;
          // Filters see the value as stored: the JSON the codec encoded.
          const envelope =
            query.filter.length === 0 ? undefined : parseEnvelope(item.payload, BACKEND);
          if (envelope !== undefined && !matchesStoreFilter(envelope.state, query.filter)) continue;
          found.push(Object.assign(toRow(tenantId, item), { scope: stored.scope, key }));
          if (found.length === query.limit) return found;
        }
      }
      return found;
    },

    async evictExpired(tenantId) {
      const atMs = now();
      const tenants =
        tenantId === undefined ? [...database.store.values()] : [database.store.get(tenantId)];
      let evicted = 0;
      for (const namespaces of tenants) {
        for (const [rendered, stored] of namespaces ?? []) {
          for (const [key, item] of stored.items) {
            if (isLive(item, atMs)) continue;
            stored.items.delete(key);
            evicted++;
          }
          if (stored.items.size === 0) namespaces?.delete(rendered);
        }
      }
      return evicted;
    },
  };
}
