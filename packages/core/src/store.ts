import { decodeDate } from './checkpointer.js';
import { type JsonValue, jsonEquals, readJsonObject } from './codec.js';
import type { PayloadFormat } from './envelope.js';
import { ConfigError, CorruptRecordError } from './errors.js';
import { assertRowTenant, describeValue, Namespace, TenantId, validateId } from './ids.js';
import { type DriverCall, type DriverWrite, readWriteCall, startCall, startWrite } from './kit.js';
import {
  assertPositiveInteger,
  assertTtlMs,
  type CallOptions,
  readOptions,
  readSignal,
  type WriteOptions,
} from './options.js';
import { compareCodePoints, compareScopes, isOrderedPage, startsWithScope } from './order.js';

/** One item of the store, as read back. */
export interface StoreItem<V> {
  readonly namespace: Namespace;
  readonly key: string;
  readonly value: V;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  /** When the item stops being visible, or `null` if it never expires. */
  readonly expiresAt: Date | null;
}

/** Options of {@link Store.put}. */
export interface StorePutOptions extends WriteOptions {
  /**
   * Time to live in milliseconds: a positive integer of at most `MAX_TTL_MS` (100
   * years). Omitted: the item never expires.
   */
  ttlMs?: number;
}

/** Options of {@link Store.list}. */
export interface StoreListOptions extends CallOptions {
  /** Literal key prefix: `%`, `_`, `*`, `?`, `[` and `\` match only themselves. */
  prefix?: string;
  /** At most this many keys (positive integer). Omitted: all. */
  limit?: number;
  /** Keyset paging: only keys after this one, in code-point order. */
  after?: string;
}

/** Options of {@link Store.listNamespaces}. */
export interface ListNamespacesOptions extends CallOptions {
  /** Whole leading scope parts: `['a']` matches `['a']` and `['a', 'b']`, never `['ab']`. */
  prefix?: readonly string[];
  /** Truncate every namespace to this many scope parts, then de-duplicate. */
  maxDepth?: number;
  /** At most this many namespaces (positive integer). Omitted: all. */
  limit?: number;
  /** Keyset paging: only namespaces after this scope (or namespace), in scope order. */
  after?: readonly string[] | Namespace;
}

/** The operators of a {@link StoreFilter}. */
export type StoreFilterOperator = '$eq' | '$ne' | '$gt' | '$gte' | '$lt' | '$lte' | '$in' | '$nin';

/**
 * A filter on the top-level fields of object values: `{ field: value }` (JSON
 * equality) or `{ field: { $op: value, ... } }`. `$gt`, `$gte`, `$lt` and `$lte` compare
 * numbers with numbers and strings with strings (code-point order), and are false for
 * any other pair; `$in` and `$nin` take an array. An absent field equals nothing, so
 * it matches only `$ne` and `$nin`. Every condition must hold.
 */
export type StoreFilter = {
  readonly [field: string]: JsonValue | { readonly [op in StoreFilterOperator]?: JsonValue };
};

/** Options of {@link Store.search}. */
export interface StoreSearchOptions extends CallOptions {
  /** Whole leading scope parts, as in `listNamespaces`. Omitted: the whole tenant. */
  namespacePrefix?: readonly string[];
  filter?: StoreFilter;
  /** At most this many items; a positive integer. */
  limit: number;
  /** Keyset paging: the last item of the previous page. */
  after?: { namespace: Namespace | readonly string[]; key: string };
}

/** One `getMany` request. */
export interface StoreItemRef {
  namespace: Namespace;
  key: string;
}

/**
 * Namespaced key/value long-term memory with TTL. Keys are ordered by Unicode code
 * point; an expired item is never returned, whether or not it was evicted.
 */
export interface Store<V> {
  /** Insert or replace. `createdAt` survives replacement; the TTL is set anew. */
  put(namespace: Namespace, key: string, value: V, options?: StorePutOptions): Promise<void>;
  get(namespace: Namespace, key: string, options?: CallOptions): Promise<StoreItem<V> | undefined>;
  /**
   * One result per request, in order: `undefined` for an absent or expired item. Every
   * request must be of one tenant.
   */
  getMany(
    refs: readonly StoreItemRef[],
    options?: CallOptions,
  ): Promise<(StoreItem<V> | undefined)[]>;
  /** True when a live item was deleted. */
  delete(namespace: Namespace, key: string, options?: WriteOptions): Promise<boolean>;
  /** Live keys of one namespace, in code-point order. Cost depends on this namespace only. */
  list(namespace: Namespace, options?: StoreListOptions): Promise<string[]>;
  /**
   * Namespaces of a tenant that hold at least one live item, ordered part by part in
   * code-point order.
   */
  listNamespaces(tenantId: string, options?: ListNamespacesOptions): Promise<Namespace[]>;
  /**
   * Live items with their values under a namespace prefix, ordered by (namespace, key),
   * the filter applied before the limit.
   */
  search(tenantId: string, options: StoreSearchOptions): Promise<StoreItem<V>[]>;
  /**
   * Delete expired items of one tenant, or of every tenant when omitted; returns the
   * number deleted.
   */
  evictExpired(tenantId?: string, options?: CallOptions): Promise<number>;
}

// ---------------------------------------------------------------------------------
// Filters

/** One condition of a validated {@link StoreFilter}. */
export interface StoreFilterCondition {
  readonly field: string;
  readonly op: StoreFilterOperator;
  /** An array for `$in` and `$nin`. */
  readonly value: JsonValue;
}

const OPERATORS: ReadonlySet<string> = new Set([
  '$eq',
  '$ne',
  '$gt',
  '$gte',
  '$lt',
  '$lte',
  '$in',
  '$nin',
]);

/**
 * Validate a filter into its conditions. An object value whose keys all start with
 * `$` is a set of operators (each must be known); any other value is an equality.
 */
export function readStoreFilter(filter: unknown): StoreFilterCondition[] {
  const object = readJsonObject(filter, 'filter');
  if (object === undefined) return [];
  const conditions: StoreFilterCondition[] = [];
  for (const [field, condition] of Object.entries(object)) {
    if (condition === undefined) continue;
    const operators = operatorEntries(condition);
    if (operators === undefined) {
      conditions.push({ field, op: '$eq', value: condition });
      continue;
    }
    for (const [op, value] of operators) {
      if (!OPERATORS.has(op)) {
        throw new ConfigError(
          `filter on ${JSON.stringify(field)}: unknown operator ${JSON.stringify(op)} (known: ${[...OPERATORS].join(', ')})`,
        );
      }
      if ((op === '$in' || op === '$nin') && !Array.isArray(value)) {
        throw new ConfigError(`filter on ${JSON.stringify(field)}: ${op} takes an array`);
      }
      conditions.push({ field, op: op as StoreFilterOperator, value });
    }
  }
  return conditions;
}

// The `$op` entries of an operator object, or undefined for a plain value. Mixing
// operators and plain keys is refused: it is not clear which was meant.
function operatorEntries(condition: JsonValue): [string, JsonValue][] | undefined {
  if (typeof condition !== 'object' || condition === null || Array.isArray(condition)) {
    return undefined;
  }
  const entries = Object.entries(condition).filter(([, value]) => value !== undefined);
  const operators = entries.filter(([key]) => key.startsWith('$'));
  if (operators.length === 0) return undefined;
  if (operators.length !== entries.length) {
    throw new ConfigError('a filter condition mixes $operators with plain keys');
  }
  return operators;
}

/**
 * The reference semantics of a store filter: true when `value` (an item's decoded
 * value) meets every condition. For backends that filter in memory.
 */
export function matchesStoreFilter(
  value: unknown,
  conditions: readonly StoreFilterCondition[],
): boolean {
  const fields =
    typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, JsonValue>)
      : undefined;
  for (const { field, op, value: operand } of conditions) {
    const present = fields !== undefined && Object.hasOwn(fields, field);
    const actual = present ? fields[field] : undefined;
    if (!conditionHolds(present, actual, op, operand)) return false;
  }
  return true;
}

function conditionHolds(
  present: boolean,
  actual: JsonValue | undefined,
  op: StoreFilterOperator,
  operand: JsonValue,
): boolean {
  switch (op) {
    case '$eq':
      return present && jsonEquals(actual, operand);
    case '$ne':
      return !present || !jsonEquals(actual, operand);
    case '$in':
      return present && (operand as JsonValue[]).some((each) => jsonEquals(actual, each));
    case '$nin':
      return !present || !(operand as JsonValue[]).some((each) => jsonEquals(actual, each));
    default: {
      const order = compareOrdered(actual, operand);
      if (order === undefined) return false;
      if (op === '$gt') return order > 0;
      if (op === '$gte') return order >= 0;
      if (op === '$lt') return order < 0;
      return order <= 0;
    }
  }
}

// Numbers with numbers, strings with strings; anything else has no order.
function compareOrdered(a: JsonValue | undefined, b: JsonValue): number | undefined {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return compareCodePoints(a, b);
  return undefined;
}

// ---------------------------------------------------------------------------------
// Readers and in-memory selection shared by backends

/** Validated `listNamespaces` options. */
export interface NamespaceQuery {
  readonly prefix: readonly string[];
  readonly maxDepth: number | undefined;
  readonly limit: number | undefined;
  readonly after: readonly string[] | undefined;
}

function readScope(value: unknown, what: string): string[] {
  if (!Array.isArray(value)) {
    throw new ConfigError(`${what} must be an array of scope parts, got ${describeValue(value)}`);
  }
  return value.map((part) => validateId(part, `${what} scope part`));
}

function readScopeOrNamespace(value: unknown, what: string): string[] {
  return Array.isArray(value) ? readScope(value, what) : [...Namespace.from(value).scope];
}

/**
 * Apply `listNamespaces` semantics to a set of scopes in memory: prefix by whole
 * parts, truncate to `maxDepth`, de-duplicate, sort, page. For backends that cannot
 * do it in their query language.
 */
export function selectNamespaceScopes(
  scopes: Iterable<readonly string[]>,
  query: Pick<NamespaceQuery, 'prefix'> & Partial<NamespaceQuery>,
): string[][] {
  const unique = new Map<string, string[]>();
  for (const scope of scopes) {
    if (!startsWithScope(scope, query.prefix)) continue;
    const truncated = query.maxDepth === undefined ? [...scope] : scope.slice(0, query.maxDepth);
    if (query.after !== undefined && compareScopes(truncated, query.after) <= 0) continue;
    unique.set(JSON.stringify(truncated), truncated);
  }
  const sorted = [...unique.values()].sort(compareScopes);
  return query.limit === undefined ? sorted : sorted.slice(0, query.limit);
}

/** Order store items by (namespace scope, key), as `search` returns them. */
export function compareStoreItems(
  a: { scope: readonly string[]; key: string },
  b: { scope: readonly string[]; key: string },
): number {
  return compareScopes(a.scope, b.scope) || compareCodePoints(a.key, b.key);
}

// ---------------------------------------------------------------------------------
// The adapter kit's side

/** An item as a driver reads it back (the caller knows its namespace and key). */
export interface StoreItemRow {
  readonly tenantId: unknown;
  /** The value's envelope text. */
  readonly payload: unknown;
  /** `Date` or epoch milliseconds, here and below. */
  readonly createdAt: unknown;
  readonly updatedAt: unknown;
  /** `null` when the item never expires. */
  readonly expiresAt: unknown;
}

/** An item found by `search`: it also names its namespace scope and key. */
export interface StoreSearchRow extends StoreItemRow {
  readonly scope: unknown;
  readonly key: unknown;
}

/** A validated `search` query. */
export interface StoreSearchQuery {
  readonly namespacePrefix: readonly string[];
  /** Empty when the caller gave no filter. */
  readonly filter: readonly StoreFilterCondition[];
  readonly limit: number;
  readonly after: { readonly scope: readonly string[]; readonly key: string } | undefined;
}

/** A validated `list` query. */
export interface KeyQuery {
  readonly prefix: string | undefined;
  readonly limit: number | undefined;
  readonly after: string | undefined;
}

/**
 * The storage operations of a store. Arguments are validated and values encoded; a
 * driver never returns an expired item, by its own clock.
 */
export interface StoreDriver {
  put(
    namespace: Namespace,
    key: string,
    payload: string,
    ttlMs: number | undefined,
    call: DriverWrite,
  ): Promise<void>;
  get(namespace: Namespace, key: string, call: DriverCall): Promise<StoreItemRow | undefined>;
  /** One entry per ref, in order; every ref is of one tenant and there is at least one. */
  getMany(refs: readonly StoreItemRef[], call: DriverCall): Promise<(StoreItemRow | undefined)[]>;
  /** True when a live item was deleted. */
  delete(namespace: Namespace, key: string, call: DriverWrite): Promise<boolean>;
  list(namespace: Namespace, query: KeyQuery, call: DriverCall): Promise<string[]>;
  /** Scopes, selected as {@link selectNamespaceScopes} would. */
  listNamespaces(tenantId: TenantId, query: NamespaceQuery, call: DriverCall): Promise<string[][]>;
  /** Live items in (scope, key) order after `after`, filtered before the limit. */
  search(tenantId: TenantId, query: StoreSearchQuery, call: DriverCall): Promise<StoreSearchRow[]>;
  evictExpired(tenantId: TenantId | undefined, call: DriverCall): Promise<number>;
}

/**
 * Build the public {@link Store} over a driver: arguments first, then options, then
 * encoding, then the signal, then the driver; rows checked and decoded here.
 */
export function createStore<V>(
  driver: StoreDriver,
  formats: { readonly backend: string; readonly values: PayloadFormat<V> },
): Store<V> {
  const { backend, values } = formats;
  const callOf = (options: unknown, what: string) =>
    startCall(readSignal(readOptions<CallOptions>(options, what).signal), backend);
  const decode = (row: StoreItemRow, namespace: Namespace, key: string): StoreItem<V> => {
    assertRowTenant(row.tenantId, namespace, backend);
    if (typeof row.payload !== 'string') {
      throw new CorruptRecordError('stored item value is not text', { backend });
    }
    return {
      namespace,
      key,
      value: values.decode(row.payload),
      createdAt: decodeDate(row.createdAt, backend, 'item createdAt'),
      updatedAt: decodeDate(row.updatedAt, backend, 'item updatedAt'),
      expiresAt:
        row.expiresAt == null ? null : decodeDate(row.expiresAt, backend, 'item expiresAt'),
    };
  };

  return {
    async put(namespace, key, value, options) {
      const ns = Namespace.from(namespace);
      const itemKey = validateId(key, 'store key');
      const opts = readOptions<StorePutOptions>(options, 'put options');
      const write = readWriteCall(opts, ns.tenantId, backend, 'put options');
      const ttlMs = opts.ttlMs === undefined ? undefined : assertTtlMs(opts.ttlMs);
      const payload = values.encode(value);
      await driver.put(ns, itemKey, payload, ttlMs, startWrite(write, backend));
    },

    async get(namespace, key, options) {
      const ns = Namespace.from(namespace);
      const itemKey = validateId(key, 'store key');
      const row = await driver.get(ns, itemKey, callOf(options, 'get options'));
      return row === undefined ? undefined : decode(row, ns, itemKey);
    },

    async getMany(refs, options) {
      const requests = readItemRefs(refs);
      const call = callOf(options, 'getMany options');
      if (requests.length === 0) return [];
      const rows = await driver.getMany(requests, call);
      if (!Array.isArray(rows) || rows.length !== requests.length) {
        throw new CorruptRecordError('getMany returned the wrong number of results', { backend });
      }
      return rows.map((row, i) => {
        const { namespace, key } = requests[i] as StoreItemRef;
        return row === undefined || row === null ? undefined : decode(row, namespace, key);
      });
    },

    async delete(namespace, key, options) {
      const ns = Namespace.from(namespace);
      const itemKey = validateId(key, 'store key');
      const write = readWriteCall(options, ns.tenantId, backend, 'delete options');
      return (await driver.delete(ns, itemKey, startWrite(write, backend))) === true;
    },

    async list(namespace, options) {
      const ns = Namespace.from(namespace);
      const opts = readOptions<StoreListOptions>(options, 'list options');
      // An empty prefix is no prefix.
      const prefix =
        opts.prefix === undefined || opts.prefix === ''
          ? undefined
          : validateId(opts.prefix, 'prefix');
      const after = opts.after === undefined ? undefined : validateId(opts.after, 'after');
      const limit =
        opts.limit === undefined ? undefined : assertPositiveInteger(opts.limit, 'limit');
      const call = startCall(readSignal(opts.signal), backend);
      const keys = readStrings(
        await driver.list(ns, { prefix, limit, after }, call),
        backend,
        'store key',
      );
      if (
        !isOrderedPage(keys, { limit, after }, compareCodePoints) ||
        (prefix !== undefined && !keys.every((key) => key.startsWith(prefix)))
      ) {
        throw new CorruptRecordError(
          'list returned keys out of order, after the limit, not after the cursor or outside the prefix',
          { backend },
        );
      }
      return keys;
    },

    async listNamespaces(tenantId, options) {
      const tenant = TenantId.parse(tenantId);
      const opts = readOptions<ListNamespacesOptions>(options, 'listNamespaces options');
      const prefix = opts.prefix === undefined ? [] : readScope(opts.prefix, 'prefix');
      const after =
        opts.after === undefined ? undefined : readScopeOrNamespace(opts.after, 'after');
      const maxDepth =
        opts.maxDepth === undefined ? undefined : assertPositiveInteger(opts.maxDepth, 'maxDepth');
      const limit =
        opts.limit === undefined ? undefined : assertPositiveInteger(opts.limit, 'limit');
      const call = startCall(readSignal(opts.signal), backend);
      const scopes = await driver.listNamespaces(tenant, { prefix, maxDepth, limit, after }, call);
      return scopes.map((scope) => namespaceOf(tenant, scope, backend));
    },

    async search(tenantId, options) {
      const tenant = TenantId.parse(tenantId);
      const opts = readOptions<StoreSearchOptions>(options, 'search options');
      const namespacePrefix =
        opts.namespacePrefix === undefined
          ? []
          : readScope(opts.namespacePrefix, 'namespacePrefix');
      const after = readSearchCursor(opts.after);
      const limit = assertPositiveInteger(opts.limit, 'limit');
      const filter = readStoreFilter(opts.filter);
      const call = startCall(readSignal(opts.signal), backend);
      const rows = await driver.search(tenant, { namespacePrefix, filter, limit, after }, call);
      // Rows come grouped by namespace: one validated Namespace serves a run of them.
      let namespace: Namespace | undefined;
      const items = rows.map((row) => {
        if (namespace === undefined || !hasScope(namespace, row.scope)) {
          namespace = namespaceOf(tenant, row.scope, backend);
        }
        if (typeof row.key !== 'string') {
          throw new CorruptRecordError('stored item key is not text', { backend });
        }
        return decode(row, namespace, row.key);
      });
      const positions = items.map((item) => ({ scope: item.namespace.scope, key: item.key }));
      if (
        !isOrderedPage(positions, { limit, after }, compareStoreItems) ||
        !positions.every((position) => startsWithScope(position.scope, namespacePrefix))
      ) {
        throw new CorruptRecordError(
          'search returned items out of order, after the limit, not after the cursor or outside the prefix',
          { backend },
        );
      }
      return items;
    },

    async evictExpired(tenantId, options) {
      const tenant = tenantId === undefined ? undefined : TenantId.parse(tenantId);
      const count = await driver.evictExpired(tenant, callOf(options, 'evictExpired options'));
      if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) {
        throw new CorruptRecordError('evictExpired returned a malformed count', { backend });
      }
      return count;
    },
  };
}

function readItemRefs(refs: unknown): StoreItemRef[] {
  if (!Array.isArray(refs)) {
    throw new ConfigError(
      `getMany takes an array of { namespace, key }, got ${describeValue(refs)}`,
    );
  }
  const requests = refs.map((ref, i): StoreItemRef => {
    if (typeof ref !== 'object' || ref === null) {
      throw new ConfigError(`getMany request ${i} must be { namespace, key }`);
    }
    const { namespace, key } = ref as Record<string, unknown>;
    return { namespace: Namespace.from(namespace), key: validateId(key, 'store key') };
  });
  const tenant = requests[0]?.namespace.tenantId;
  if (requests.some((request) => request.namespace.tenantId !== tenant)) {
    throw new ConfigError('getMany requests must all be of one tenant');
  }
  return requests;
}

function readSearchCursor(after: unknown): StoreSearchQuery['after'] {
  if (after === undefined) return undefined;
  if (typeof after !== 'object' || after === null) {
    throw new ConfigError(`after must be { namespace, key }, got ${describeValue(after)}`);
  }
  const { namespace, key } = after as Record<string, unknown>;
  return {
    scope: readScopeOrNamespace(namespace, 'after.namespace'),
    key: validateId(key, 'after.key'),
  };
}

/** True when `scope` is exactly `namespace`'s scope, part for part. */
function hasScope(namespace: Namespace, scope: unknown): boolean {
  return (
    Array.isArray(scope) &&
    scope.length === namespace.scope.length &&
    scope.every((part, i) => part === namespace.scope[i])
  );
}

function namespaceOf(tenant: TenantId, scope: unknown, backend: string): Namespace {
  try {
    return Namespace.of(tenant, ...(scope as string[]));
  } catch (error) {
    throw new CorruptRecordError('stored namespace scope is malformed', { cause: error, backend });
  }
}

function readStrings(values: unknown, backend: string, what: string): string[] {
  if (!Array.isArray(values) || values.some((value) => typeof value !== 'string')) {
    throw new CorruptRecordError(`the backend returned a malformed list of ${what}s`, { backend });
  }
  return values as string[];
}
