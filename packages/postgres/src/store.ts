import {
  assertRowTenant,
  compareCodePoints,
  type DriverCall,
  type StoreDriver,
  type StoreItemRow,
  type StoreSearchRow,
} from '@entelix/core/adapter';
import {
  fenceParameters,
  int4Limit,
  type PostgresContext,
  runRemoval,
  selectList,
} from './context.js';
import { gatherReads } from './gather.js';
import { BACKEND, runQuery } from './queryable.js';

/** An item's place: its namespace's scope and its key. */
interface ItemRef {
  readonly scope: readonly string[];
  readonly key: string;
}

/** The statements of the store in the quoted schema `s`. */
export function storeStatements(s: string) {
  const timestamps = ['item_created_at', 'item_updated_at', 'item_expires_at'];
  const item = selectList(['item_tenant_id', 'item_value'], timestamps);
  // The scope as a JSON array: drivers read json with one JSON.parse, where a text[]
  // takes a parser of Postgres's array syntax, on every row of a page.
  const searchedItem = selectList(
    ['item_tenant_id', 'to_json(item_scope) AS item_scope', 'item_key', 'item_value'],
    timestamps,
  );
  return {
    put: `SELECT ${s}.store_put($1, $2::text[], $3, $4, $5, $6, $7::bigint)`,
    get: `SELECT ${item} FROM ${s}.store_get($1, $2::text[], $3)`,
    // Also the statement of gathered gets: a row per ref, in order.
    getMany: `SELECT ${item} FROM ${s}.store_get_many($1, $2::jsonb)`,
    delete: `SELECT ${s}.store_delete($1, $2::text[], $3, $4, $5::bigint) AS deleted`,
    list: `SELECT * FROM ${s}.store_list($1, $2::text[], $3, $4, $5)`,
    namespaces: `SELECT * FROM ${s}.store_namespaces($1, $2::text[], $3, $4::text[], $5)`,
    search: `SELECT ${searchedItem} FROM ${s}.store_search($1, $2::text[], $3::text[], $4, $5, $6)`,
    evictTenant: `SELECT ${s}.store_evict_expired($1) AS deleted`,
    evictAll: `SELECT ${s}.store_evict_all_expired() AS deleted`,
  };
}

/**
 * A store over `<schema>.store_items`; one SQL function call per operation. Gets of one
 * tenant issued together share statements (see `gatherReads`), as a `getMany` would.
 */
export function createPostgresStore(context: PostgresContext): StoreDriver {
  const { db, schema, upkeep } = context;
  const sql = storeStatements(schema);

  /** Items of one tenant in one statement: a row per ref, in order, none where it finds none. */
  const readItems = async (
    tenantId: string | undefined,
    refs: readonly ItemRef[],
    action: string,
    call?: DriverCall,
  ) => {
    const wanted = JSON.stringify(refs.map((ref) => [ref.scope, ref.key]));
    const { rows } = await runQuery(db, action, sql.getMany, [tenantId, wanted], call);
    return rows.map((row) => (row.item_value === null ? undefined : row));
  };
  // Gets issued in the same turn share statements (see gatherReads), as getMany's.
  const getItem = gatherReads<ItemRef, Record<string, unknown>>({
    async one(tenantId, { scope, key }, call) {
      const { rows } = await runQuery(db, 'store get', sql.get, [tenantId, scope, key], call);
      return rows[0];
    },
    many: (tenantId, refs) => readItems(tenantId, refs, 'store get'),
  });

  return {
    async put(ns, key, payload, ttlMs, call) {
      await runQuery(
        db,
        'store put',
        sql.put,
        [ns.tenantId, ns.scope, key, payload, ttlMs ?? null, ...fenceParameters(call)],
        call,
      );
    },

    async get(ns, key, call) {
      const row = await getItem(ns.tenantId, { scope: ns.scope, key }, call);
      return row === undefined ? undefined : toItemRow(row);
    },

    async getMany(refs, call) {
      // The kit hands over refs of one tenant only.
      const tenantId = refs[0]?.namespace.tenantId;
      const wanted = refs.map((ref) => ({ scope: ref.namespace.scope, key: ref.key }));
      const rows = await readItems(tenantId, wanted, 'store getMany', call);
      return rows.map((row) => (row === undefined ? undefined : toItemRow(row)));
    },

    async delete(ns, key, call) {
      const { rows } = await runQuery(
        db,
        'store delete',
        sql.delete,
        [ns.tenantId, ns.scope, key, ...fenceParameters(call)],
        call,
      );
      const deleted = rows[0]?.deleted === true;
      if (deleted) await upkeep?.rowsRemoved(1);
      return deleted;
    },

    async list(ns, query, call) {
      const { from, until } = keyRange(query.prefix, query.after);
      const limit = query.limit === undefined ? null : int4Limit(query.limit);
      const { rows } = await runQuery(
        db,
        'store list',
        sql.list,
        [ns.tenantId, ns.scope, from, until, limit],
        call,
      );
      // The kit sees keys only: the rows' tenant is checked here.
      return rows.map((row) => {
        assertRowTenant(row.item_tenant_id, ns, BACKEND);
        return row.item_key;
      });
    },

    async listNamespaces(tenantId, query, call) {
      const { rows } = await runQuery(
        db,
        'store listNamespaces',
        sql.namespaces,
        [
          tenantId,
          query.prefix,
          query.maxDepth === undefined ? null : int4Limit(query.maxDepth),
          query.after ?? null,
          query.limit === undefined ? null : int4Limit(query.limit),
        ],
        call,
      );
      return rows.map((row) => {
        assertRowTenant(row.ns_tenant_id, { tenantId }, BACKEND);
        return row.ns_scope;
      });
    },

    async search(tenantId, query, call) {
      const filter = query.filter.length === 0 ? null : JSON.stringify(query.filter);
      const { rows } = await runQuery(
        db,
        'store search',
        sql.search,
        [
          tenantId,
          query.namespacePrefix,
          query.after?.scope ?? null,
          query.after?.key ?? null,
          filter,
          int4Limit(query.limit),
        ],
        call,
      );
      return rows.map(toSearchRow);
    },

    async evictExpired(tenantId, call) {
      const [text, params] =
        tenantId === undefined ? [sql.evictAll, []] : [sql.evictTenant, [tenantId]];
      return runRemoval(context, 'store evictExpired', text, params, call, 'evicted count');
    },
  };
}

/** A row of `store_search`: an item with its namespace scope and key. */
function toSearchRow(row: Record<string, unknown>): StoreSearchRow {
  // One literal, not a spread of toItemRow: a page is up to thousands of rows.
  return {
    tenantId: row.item_tenant_id,
    scope: row.item_scope,
    key: row.item_key,
    payload: row.item_value,
    createdAt: row.item_created_at,
    updatedAt: row.item_updated_at,
    expiresAt: row.item_expires_at,
  };
}

/** A row of the item read functions, as the kit checks and decodes it. */
function toItemRow(row: Record<string, unknown>): StoreItemRow {
  return {
    tenantId: row.item_tenant_id,
    payload: row.item_value,
    createdAt: row.item_created_at,
    updatedAt: row.item_updated_at,
    expiresAt: row.item_expires_at,
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
