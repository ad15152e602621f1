import { ConfigError } from './errors.js';
import { describe, Namespace, validateId } from './ids.js';
import {
  assertPositiveInteger,
  type CallOptions,
  readOptions,
  type WriteOptions,
} from './options.js';

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
  /** Time to live in milliseconds (positive integer). Omitted: the item never expires. */
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

/**
 * Namespaced key/value long-term memory with TTL. Keys are ordered by Unicode code
 * point; an expired item is never returned, whether or not it was evicted.
 */
export interface Store<V> {
  /** Insert or replace. `createdAt` survives replacement; the TTL is set anew. */
  put(namespace: Namespace, key: string, value: V, options?: StorePutOptions): Promise<void>;
  get(namespace: Namespace, key: string, options?: CallOptions): Promise<StoreItem<V> | undefined>;
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
   * Delete expired items of one tenant, or of every tenant when omitted; returns the
   * number deleted.
   */
  evictExpired(tenantId?: string, options?: CallOptions): Promise<number>;
}

/**
 * Compare two strings by Unicode code point (what `COLLATE "C"` on UTF-8 and Redis
 * byte order give), not by UTF-16 code unit as `<` does.
 */
export function compareCodePoints(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

// Surrogates (U+D800-DFFF) encode code points above U+FFFF, so they must sort after
// U+E000-FFFF; shift both ranges to restore code-point order.
function codePointRank(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000;
  if (unit >= 0xe000) return unit - 0x800;
  return unit;
}

/** Compare two scopes part by part in code-point order; a proper prefix sorts first. */
export function compareScopes(a: readonly string[], b: readonly string[]): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const order = compareCodePoints(a[i] as string, b[i] as string);
    if (order !== 0) return order;
  }
  return a.length - b.length;
}

/** Validated `put` options. */
export function readStorePutOptions(options: unknown): {
  ttlMs: number | undefined;
  signal: AbortSignal | undefined;
  fence: WriteOptions['fence'];
} {
  const opts = readOptions<StorePutOptions>(options, 'put options');
  return {
    ttlMs: opts.ttlMs === undefined ? undefined : assertPositiveInteger(opts.ttlMs, 'ttlMs'),
    signal: opts.signal,
    fence: opts.fence,
  };
}

/** Validated `list` options; an empty prefix means no prefix. */
export function readStoreListOptions(options: unknown): {
  prefix: string | undefined;
  limit: number | undefined;
  after: string | undefined;
  signal: AbortSignal | undefined;
} {
  const opts = readOptions<StoreListOptions>(options, 'list options');
  let prefix: string | undefined;
  if (opts.prefix !== undefined && opts.prefix !== '') prefix = validateId(opts.prefix, 'prefix');
  return {
    prefix,
    limit: opts.limit === undefined ? undefined : assertPositiveInteger(opts.limit, 'limit'),
    after: opts.after === undefined ? undefined : validateId(opts.after, 'after'),
    signal: opts.signal,
  };
}

/** Validated `listNamespaces` options. */
export function readListNamespacesOptions(options: unknown): {
  prefix: string[];
  maxDepth: number | undefined;
  limit: number | undefined;
  after: string[] | undefined;
  signal: AbortSignal | undefined;
} {
  const opts = readOptions<ListNamespacesOptions>(options, 'listNamespaces options');
  const prefix = opts.prefix === undefined ? [] : readScope(opts.prefix, 'prefix');
  let after: string[] | undefined;
  if (opts.after !== undefined) {
    const raw = opts.after as unknown;
    after = Array.isArray(raw) ? readScope(raw, 'after') : [...Namespace.from(raw).scope];
  }
  return {
    prefix,
    maxDepth:
      opts.maxDepth === undefined ? undefined : assertPositiveInteger(opts.maxDepth, 'maxDepth'),
    limit: opts.limit === undefined ? undefined : assertPositiveInteger(opts.limit, 'limit'),
    after,
    signal: opts.signal,
  };
}

function readScope(value: unknown, what: string): string[] {
  if (!Array.isArray(value))
    throw new ConfigError(`${what} must be an array of scope parts, got ${describe(value)}`);
  return value.map((part) => validateId(part, `${what} scope part`));
}

/**
 * Apply `listNamespaces` semantics to a set of scopes in memory: prefix by whole
 * parts, truncate to `maxDepth`, de-duplicate, sort, page. For backends that cannot
 * do it in their query language.
 */
export function selectNamespaceScopes(
  scopes: Iterable<readonly string[]>,
  options: {
    prefix: readonly string[];
    maxDepth?: number | undefined;
    after?: readonly string[] | undefined;
    limit?: number | undefined;
  },
): string[][] {
  const unique = new Map<string, string[]>();
  for (const scope of scopes) {
    if (!startsWithScope(scope, options.prefix)) continue;
    const truncated =
      options.maxDepth === undefined ? [...scope] : scope.slice(0, options.maxDepth);
    if (options.after !== undefined && compareScopes(truncated, options.after) <= 0) continue;
    unique.set(JSON.stringify(truncated), truncated);
  }
  const sorted = [...unique.values()].sort(compareScopes);
  return options.limit === undefined ? sorted : sorted.slice(0, options.limit);
}

/** True when `scope` begins with every part of `prefix`, whole parts only. */
export function startsWithScope(scope: readonly string[], prefix: readonly string[]): boolean {
  if (prefix.length > scope.length) return false;
  return prefix.every((part, i) => scope[i] === part);
}
