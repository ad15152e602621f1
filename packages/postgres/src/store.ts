import {
  assertRowTenant,
  type CallOptions,
  CorruptRecordError,
  compareCodePoints,
  Namespace,
  type PayloadFormat,
  readListNamespacesOptions,
  readOptions,
  readStoreListOptions,
  readStorePutOptions,
  type Store,
  type StoreItem,
  TenantId,
  throwIfAborted,
  validateId,
  type WriteOptions,
} from '@entelix/core';
import { fenceParameters, type PostgresContext } from './context.js';
import { BACKEND, runQuery, toDate, toDateOrNull, toSafeInteger, toText } from './queryable.js';

const MAX_INT4 = 2_147_483_647;

/** A store over `<schema>.store_items`; one SQL function call per operation. */
export function createPostgresStore<V>(
  context: PostgresContext,
  format: PayloadFormat<V>,
): Store<V> {
  const { db, schema: s } = context;
  const sql = {
    put: `SELECT ${s}.store_put($1, $2::text[], $3, $4, $5, $6, $7::bigint)`,
    get: `SELECT * FROM ${s}.store_get($1, $2::text[], $3)`,
    delete: `SELECT ${s}.store_delete($1, $2::text[], $3, $4, $5::bigint) AS deleted`,
    list: `SELECT * FROM ${s}.store_list($1, $2::text[], $3, $4, $5)`,
    namespaces: `SELECT * FROM ${s}.store_namespaces($1, $2::text[], $3, $4::text[], $5)`,
    evictTenant: `SELECT ${s}.store_evict_expired($1) AS deleted`,
    evictAll: `SELECT ${s}.store_evict_all_expired() AS deleted`,
  };

  return {
    async put(namespace, key, value, options) {
      const ns = Namespace.from(namespace);
      const itemKey = validateId(key, 'store key');
      const { ttlMs, signal, fence } = readStorePutOptions(options);
      const [lockKey, fenceValue] = fenceParameters(fence, ns.tenantId);
      const encoded = format.encode(value);
      throwIfAborted(signal, BACKEND);
      await runQuery(
        db,
        'store put',
        sql.put,
        [ns.tenantId, ns.scope, itemKey, encoded, ttlMs ?? null, lockKey, fenceValue],
        signal,
      );
    },

    async get(namespace, key, options) {
      const ns = Namespace.from(namespace);
      const itemKey = validateId(key, 'store key');
      const { signal } = readOptions<CallOptions>(options);
      throwIfAborted(signal, BACKEND);
      const { rows } = await runQuery(
        db,
        'store get',
        sql.get,
        [ns.tenantId, ns.scope, itemKey],
        signal,
      );
      if (rows.length === 0) return undefined;
      const row = rows[0];
      assertRowTenant(row.item_tenant_id, ns, BACKEND);
      const item: StoreItem<V> = {
        namespace: ns,
        key: itemKey,
        value: format.decode(toText(row.item_value, 'store value')),
        createdAt: toDate(row.item_created_at, 'store created_at'),
        updatedAt: toDate(row.item_updated_at, 'store updated_at'),
        expiresAt: toDateOrNull(row.item_expires_at, 'store expires_at'),
      };
      return item;
    },

    async delete(namespace, key, options) {
      const ns = Namespace.from(namespace);
      const itemKey = validateId(key, 'store key');
      const opts = readOptions<WriteOptions>(options);
      const [lockKey, fence] = fenceParameters(opts.fence, ns.tenantId);
      throwIfAborted(opts.signal, BACKEND);
      const { rows } = await runQuery(
        db,
        'store delete',
        sql.delete,
        [ns.tenantId, ns.scope, itemKey, lockKey, fence],
        opts.signal,
      );
      return rows[0]?.deleted === true;
    },

    async list(namespace, options) {
      const ns = Namespace.from(namespace);
      const { prefix, limit, after, signal } = readStoreListOptions(options);
      throwIfAborted(signal, BACKEND);
      const { from, until } = keyRange(prefix, after);
      const { rows } = await runQuery(
        db,
        'store list',
        sql.list,
        [
          ns.tenantId,
          ns.scope,
          from,
          until,
          limit === undefined ? null : Math.min(limit, MAX_INT4),
        ],
        signal,
      );
      return rows.map((row) => {
        assertRowTenant(row.item_tenant_id, ns, BACKEND);
        return toText(row.item_key, 'store key');
      });
    },

    async listNamespaces(tenantId, options) {
      const tenant = TenantId.parse(tenantId);
      const { prefix, maxDepth, limit, after, signal } = readListNamespacesOptions(options);
      throwIfAborted(signal, BACKEND);
      const { rows } = await runQuery(
        db,
        'store listNamespaces',
        sql.namespaces,
        [
          tenant,
          prefix,
          maxDepth === undefined ? null : Math.min(maxDepth, MAX_INT4),
          after ?? null,
          limit === undefined ? null : Math.min(limit, MAX_INT4),
        ],
        signal,
      );
      return rows.map((row) => {
        assertRowTenant(row.ns_tenant_id, { tenantId: tenant }, BACKEND);
        const scope = row.ns_scope as unknown;
        if (!Array.isArray(scope)) {
          throw new CorruptRecordError('stored namespace scope is not an array', {
            backend: BACKEND,
          });
        }
        return Namespace.of(tenant, ...scope.map((part) => toText(part, 'namespace scope part')));
      });
    },

    async evictExpired(tenantId, options) {
      const tenant = tenantId === undefined ? undefined : TenantId.parse(tenantId);
      const { signal } = readOptions<CallOptions>(options);
      throwIfAborted(signal, BACKEND);
      const { rows } =
        tenant === undefined
          ? await runQuery(db, 'store evictExpired', sql.evictAll, [], signal)
          : await runQuery(db, 'store evictExpired', sql.evictTenant, [tenant], signal);
      return toSafeInteger(rows[0]?.deleted, 'evicted count');
    },
  };
}

// Above every legal key: a key of at most 256 UTF-8 bytes has at most 64 code points of
// four bytes, so it is a proper prefix of this or differs from it earlier, lower.
const ABOVE_EVERY_KEY = '\u{10FFFF}'.repeat(65);

/**
 * The keys `list` may return, as `[from, until)` in code-point order: those that start
 * with `prefix` and come after `after`. The least string after `after` is `after` +
 * U+0001, U+0000 being refused in keys.
 */
export function keyRange(
  prefix: string | undefined,
  after: string | undefined,
): { from: string; until: string } {
  const start = prefix ?? '';
  const pastCursor = after === undefined ? '' : `${after}\u0001`;
  return {
    from: compareCodePoints(pastCursor, start) > 0 ? pastCursor : start,
    until: (prefix === undefined ? undefined : prefixEnd(prefix)) ?? ABOVE_EVERY_KEY,
  };
}

/**
 * The least string greater than every string that starts with `prefix`, in code-point
 * order (what `COLLATE "C"` compares on UTF-8): the prefix with its last code point
 * incremented, dropping trailing U+10FFFF. `undefined` when no such bound exists.
 */
export function prefixEnd(prefix: string): string | undefined {
  const codePoints = Array.from(prefix, (char) => char.codePointAt(0) as number);
  while (codePoints.length > 0) {
    const last = codePoints.pop() as number;
    if (last < 0x10ffff) {
      // Skip the surrogate block: those are not code points a string can hold.
      const next = last === 0xd7ff ? 0xe000 : last + 1;
      return String.fromCodePoint(...codePoints, next);
    }
  }
  return undefined;
}
