import {
  ConfigError,
  type FenceToken,
  InvalidIdError,
  type JsonObject,
  Namespace,
  type Persistence,
  type Store,
  type StoreFilter,
  type StoreItem,
  type StoreItemRef,
  TenantId,
} from '@entelix/core';
import { assertJsonValue, assertTtlMs, readFence, validateId } from '@entelix/core/adapter';
import {
  BaseStore,
  type GetOperation,
  type Item,
  type ListNamespacesOperation,
  type MatchCondition,
  type Operation,
  type OperationResults,
  type PutOperation,
  type SearchItem,
  type SearchOperation,
} from '@langchain/langgraph-checkpoint';
import { BRIDGE } from './errors.js';

/** Options of {@link createEntelixStore}. */
export interface EntelixStoreOptions {
  /** The tenant every item of this store belongs to. */
  tenantId: string;
  /** Each item expires this long after it was last put. Default: never. */
  ttlMs?: number;
  /**
   * A lease (or `{ key, fence }`) of the tenant that fences every put and delete: once a
   * newer lease is granted for its thread, they fail with `FENCED` and change nothing.
   * Give a run's store its lease (see `withThreadLock`), so a superseded run writes no
   * memories either.
   */
  fence?: FenceToken;
  /**
   * How many namespaces one backend call reads when `listNamespaces` has a suffix or a
   * `*` wildcard, which the bridge matches itself. Default 100.
   */
  pageSize?: number;
}

const DEFAULT_PAGE_SIZE = 100;
const DEFAULT_SEARCH_LIMIT = 10;
const DEFAULT_NAMESPACE_LIMIT = 100;
const RESERVED_ROOT = 'langgraph';

/**
 * A LangGraph `BaseStore` over an Entelix store, for one tenant: LangGraph's
 * namespace (an array of strings) is the scope of an Entelix namespace of that tenant.
 * Item values are JSON objects, stored as readable JSON. Create one per request and pass
 * it to `graph.invoke(input, { store })` so one compiled graph serves every tenant.
 *
 * @example
 * ```ts
 * const store = createEntelixStore(persistence, { tenantId: 'acme' });
 * await store.put(['users', 'u1'], 'profile', { name: 'Ada' });
 * await graph.invoke(input, { configurable: { tenant_id: 'acme', thread_id: 't-1' }, store });
 * ```
 */
export function createEntelixStore(
  persistence: Persistence,
  options: EntelixStoreOptions,
): EntelixStore {
  if (typeof persistence?.store !== 'function') {
    throw new ConfigError('createEntelixStore needs an Entelix Persistence', { backend: BRIDGE });
  }
  if (typeof options !== 'object' || options === null || options.tenantId === undefined) {
    throw new ConfigError(
      'createEntelixStore needs { tenantId }: a store belongs to one tenant, and there is no default tenant',
      { backend: BRIDGE },
    );
  }
  const tenantId = TenantId.parse(options.tenantId);
  const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
  if (!Number.isSafeInteger(pageSize) || pageSize <= 0) {
    throw new ConfigError('pageSize must be a positive integer', { backend: BRIDGE });
  }
  const ttlMs = options.ttlMs === undefined ? undefined : assertTtlMs(options.ttlMs);
  const fence = readFence(options.fence, tenantId, BRIDGE);
  return new EntelixLangGraphStore(persistence.store<JsonObject>(), tenantId, pageSize, {
    ttlMs,
    fence,
  });
}

/** A LangGraph store over Entelix, bound to one tenant. */
export interface EntelixStore extends BaseStore {
  readonly tenantId: TenantId;
}

type Planned =
  | { kind: 'get'; namespace: Namespace | undefined; key: string }
  | {
      kind: 'search';
      prefix: string[];
      filter: StoreFilter | undefined;
      limit: number;
      offset: number;
    }
  | { kind: 'put'; namespace: Namespace; key: string; value: JsonObject | null }
  | {
      kind: 'listNamespaces';
      conditions: MatchCondition[];
      maxDepth: number | undefined;
      limit: number;
      offset: number;
    };

class EntelixLangGraphStore extends BaseStore implements EntelixStore {
  readonly tenantId: TenantId;
  readonly #store: Store<JsonObject>;
  readonly #pageSize: number;
  /** What every put and delete carries. */
  readonly #writes: { ttlMs: number | undefined; fence: FenceToken | undefined };

  constructor(
    store: Store<JsonObject>,
    tenantId: TenantId,
    pageSize: number,
    writes: { ttlMs: number | undefined; fence: FenceToken | undefined },
  ) {
    super();
    this.#store = store;
    this.tenantId = tenantId;
    this.#pageSize = pageSize;
    this.#writes = writes;
  }

  // The convenience methods go straight to `batch`, which checks everything itself and
  // reports bad input as Entelix errors.
  override async get(namespace: string[], key: string): Promise<Item | null> {
    // One operation in, one result out.
    const [item] = (await this.batch([{ namespace, key }])) as [Item | null];
    return item;
  }

  override async search(
    namespacePrefix: string[],
    options: { filter?: Record<string, any>; limit?: number; offset?: number; query?: string } = {},
  ): Promise<SearchItem[]> {
    const { filter, limit = DEFAULT_SEARCH_LIMIT, offset = 0, query } = options;
    const [items] = (await this.batch([{ namespacePrefix, filter, limit, offset, query }])) as [
      SearchItem[],
    ];
    return items;
  }

  override async put(
    namespace: string[],
    key: string,
    value: Record<string, any>,
    index?: false | string[],
  ): Promise<void> {
    // BaseStore's put keeps this root for LangGraph's own use; its batch does not check.
    if (Array.isArray(namespace) && namespace[0] === RESERVED_ROOT) {
      throw new InvalidIdError(`a namespace's root label cannot be "${RESERVED_ROOT}"`, {
        backend: BRIDGE,
      });
    }
    await this.batch([{ namespace, key, value, index }]);
  }

  override async delete(namespace: string[], key: string): Promise<void> {
    await this.batch([{ namespace, key, value: null }]);
  }

  override async listNamespaces(
    options: {
      prefix?: string[];
      suffix?: string[];
      maxDepth?: number;
      limit?: number;
      offset?: number;
    } = {},
  ): Promise<string[][]> {
    const { prefix, suffix, maxDepth, limit = DEFAULT_NAMESPACE_LIMIT, offset = 0 } = options;
    const matchConditions: MatchCondition[] = [];
    if (prefix !== undefined) matchConditions.push({ matchType: 'prefix', path: prefix });
    if (suffix !== undefined) matchConditions.push({ matchType: 'suffix', path: suffix });
    const [namespaces] = (await this.batch([{ matchConditions, maxDepth, limit, offset }])) as [
      string[][],
    ];
    return namespaces;
  }

  /**
   * Run the operations in as few backend calls as the Entelix store allows: every get in
   * one `getMany`, one `search` per search, one `listNamespaces` call per listing (more
   * pages only when a suffix or wildcard is matched here), one call per put or delete.
   * As in LangGraph's InMemoryStore, the reads see the store as it was before the batch
   * and the writes apply after them, the last write to a key winning. Every operation is
   * checked before anything runs.
   */
  async batch<Op extends Operation[]>(operations: Op): Promise<OperationResults<Op>> {
    if (!Array.isArray(operations)) {
      throw new ConfigError('batch takes an array of operations', { backend: BRIDGE });
    }
    const planned = operations.map((operation, index) => this.#plan(operation, index));
    const results: unknown[] = new Array(planned.length).fill(undefined);

    const gets = planned.flatMap((op, index) =>
      op.kind === 'get' && op.namespace !== undefined
        ? [{ index, ref: { namespace: op.namespace, key: op.key } satisfies StoreItemRef }]
        : [],
    );
    for (const [index, op] of planned.entries()) if (op.kind === 'get') results[index] = null;
    const reads: Promise<void>[] = [];
    if (gets.length > 0) {
      reads.push(
        this.#store.getMany(gets.map((get) => get.ref)).then((items) => {
          for (const [i, get] of gets.entries()) {
            const item = items[i];
            results[get.index] = item === undefined ? null : toItem(item);
          }
        }),
      );
    }
    for (const [index, op] of planned.entries()) {
      if (op.kind === 'search') {
        reads.push(
          this.#search(op).then((items) => {
            results[index] = items;
          }),
        );
      } else if (op.kind === 'listNamespaces') {
        reads.push(
          this.#listNamespaces(op).then((found) => {
            results[index] = found;
          }),
        );
      }
    }
    await Promise.all(reads);

    const writes = new Map<string, Extract<Planned, { kind: 'put' }>>();
    for (const op of planned) {
      if (op.kind === 'put') writes.set(JSON.stringify([op.namespace.scope, op.key]), op);
    }
    await Promise.all(
      [...writes.values()].map((op) =>
        op.value === null
          ? this.#store.delete(op.namespace, op.key, { fence: this.#writes.fence })
          : this.#store.put(op.namespace, op.key, op.value, this.#writes),
      ),
    );
    return results as OperationResults<Op>;
  }

  #plan(operation: unknown, index: number): Planned {
    if (typeof operation !== 'object' || operation === null) {
      throw new ConfigError(`operation ${index} must be an object`, { backend: BRIDGE });
    }
    const op = operation as Record<string, unknown>;
    if ('namespacePrefix' in op) return this.#planSearch(op as unknown as SearchOperation);
    if ('matchConditions' in op || ('limit' in op && 'offset' in op && !('namespace' in op))) {
      return planListNamespaces(op as unknown as ListNamespacesOperation);
    }
    if (!('namespace' in op) || !('key' in op)) {
      throw new ConfigError(`operation ${index} is not a get, put, search or listNamespaces`, {
        backend: BRIDGE,
      });
    }
    if ('value' in op) return this.#planPut(op as unknown as PutOperation);
    const get = op as unknown as GetOperation;
    const scope = readScope(get.namespace, { allowEmpty: true });
    return {
      kind: 'get',
      // An empty namespace holds nothing: an Entelix namespace has at least one part.
      namespace: scope.length === 0 ? undefined : Namespace.of(this.tenantId, ...scope),
      key: readKey(get.key),
    };
  }

  #planPut(op: PutOperation): Planned {
    const namespace = Namespace.of(
      this.tenantId,
      ...readScope(op.namespace, { allowEmpty: false }),
    );
    const key = readKey(op.key);
    if (op.value === null) return { kind: 'put', namespace, key, value: null };
    if (typeof op.value !== 'object' || Array.isArray(op.value)) {
      throw new ConfigError('a store value must be an object (or null to delete)', {
        backend: BRIDGE,
      });
    }
    assertJsonValue(op.value);
    return { kind: 'put', namespace, key, value: op.value as JsonObject };
  }

  #planSearch(op: SearchOperation): Planned {
    if (op.query !== undefined && op.query !== null && op.query !== '') {
      throw new ConfigError(
        'semantic search (a search query) is not supported by the Entelix store: search with namespacePrefix and filter instead',
        { backend: BRIDGE },
      );
    }
    const filter = op.filter;
    if (
      filter !== undefined &&
      (typeof filter !== 'object' || filter === null || Array.isArray(filter))
    ) {
      throw new ConfigError('a search filter must be an object', { backend: BRIDGE });
    }
    return {
      kind: 'search',
      prefix: readScope(op.namespacePrefix, { allowEmpty: true }),
      filter: filter as StoreFilter | undefined,
      ...readPage(op, DEFAULT_SEARCH_LIMIT, 'search'),
    };
  }

  /** One `search` call: `offset` is read and skipped, so its cost grows with the offset. */
  async #search(op: Extract<Planned, { kind: 'search' }>): Promise<SearchItem[]> {
    if (op.limit === 0) return [];
    const items = await this.#store.search(this.tenantId, {
      namespacePrefix: op.prefix.length === 0 ? undefined : op.prefix,
      filter: op.filter,
      limit: op.offset + op.limit,
    });
    return items.slice(op.offset).map((item) => Object.assign(toItem(item), { score: undefined }));
  }

  async #listNamespaces(op: Extract<Planned, { kind: 'listNamespaces' }>): Promise<string[][]> {
    if (op.limit === 0) return [];
    const wanted = op.offset + op.limit;
    const [only] = op.conditions;
    const literalPrefix = longestLiteralPrefix(op.conditions);
    const prefix = literalPrefix.length === 0 ? undefined : literalPrefix;
    const backendMatchesAll =
      op.conditions.length === 0 ||
      (op.conditions.length === 1 && only?.matchType === 'prefix' && !only.path.includes('*'));
    if (backendMatchesAll) {
      const found = await this.#store.listNamespaces(this.tenantId, {
        prefix,
        maxDepth: op.maxDepth,
        limit: wanted,
      });
      return found.slice(op.offset).map((namespace) => [...namespace.scope]);
    }
    // A suffix or a wildcard: read every namespace under the literal prefix, in pages,
    // and match, truncate and de-duplicate here. Entelix order is kept, so truncated
    // duplicates are neighbours.
    const found: string[][] = [];
    let after: readonly string[] | undefined;
    for (;;) {
      const page = await this.#store.listNamespaces(this.tenantId, {
        prefix,
        limit: this.#pageSize,
        after,
      });
      for (const namespace of page) {
        if (!op.conditions.every((condition) => matches(condition, namespace.scope))) continue;
        const scope =
          op.maxDepth === undefined ? [...namespace.scope] : namespace.scope.slice(0, op.maxDepth);
        const last = found[found.length - 1];
        if (last !== undefined && sameScope(last, scope)) continue;
        found.push(scope);
        if (found.length === wanted) return found.slice(op.offset);
      }
      if (page.length < this.#pageSize) return found.slice(op.offset);
      after = page[page.length - 1]?.scope;
    }
  }
}

function planListNamespaces(op: ListNamespacesOperation): Planned {
  const conditions = op.matchConditions ?? [];
  if (!Array.isArray(conditions)) {
    throw new ConfigError('matchConditions must be an array', { backend: BRIDGE });
  }
  for (const condition of conditions) {
    if (condition?.matchType !== 'prefix' && condition?.matchType !== 'suffix') {
      throw new ConfigError('a namespace match condition is a prefix or a suffix', {
        backend: BRIDGE,
      });
    }
    readScope(condition.path, { allowEmpty: true, wildcards: true });
  }
  const { maxDepth } = op;
  if (maxDepth !== undefined && (!Number.isSafeInteger(maxDepth) || maxDepth <= 0)) {
    throw new ConfigError('maxDepth must be a positive integer', { backend: BRIDGE });
  }
  return {
    kind: 'listNamespaces',
    conditions,
    maxDepth,
    ...readPage(op, DEFAULT_NAMESPACE_LIMIT, 'listNamespaces'),
  };
}

/**
 * A LangGraph namespace, checked by LangGraph's rules (labels are non-empty strings
 * without `.`, `:` or NUL) as Entelix errors; Entelix then checks each part as an id.
 */
function readScope(
  namespace: unknown,
  { allowEmpty, wildcards = false }: { allowEmpty: boolean; wildcards?: boolean },
): string[] {
  if (!Array.isArray(namespace)) {
    throw new InvalidIdError('a namespace must be an array of strings', { backend: BRIDGE });
  }
  if (namespace.length === 0 && !allowEmpty) {
    throw new InvalidIdError('a namespace must not be empty', { backend: BRIDGE });
  }
  for (const label of namespace) {
    if (typeof label !== 'string' || label === '') {
      throw new InvalidIdError('namespace labels must be non-empty strings', { backend: BRIDGE });
    }
    if (wildcards && label === '*') continue;
    if (label.includes('.') || label.includes(':') || label.includes('\u0000')) {
      throw new InvalidIdError(
        `namespace label ${JSON.stringify(label)} has a character LangGraph reserves ('.', ':' or NUL)`,
        { backend: BRIDGE },
      );
    }
  }
  return namespace as string[];
}

// Checked here, before any write of the batch runs, not when its own write is made.
function readKey(key: unknown): string {
  return validateId(key, 'store key');
}

function readCount(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new ConfigError(`${what} must be a non-negative integer`, { backend: BRIDGE });
  }
  return value;
}

/** A page's limit and offset: the backend is asked for offset + limit items. */
function readPage(
  op: { limit?: unknown; offset?: unknown },
  defaultLimit: number,
  what: string,
): { limit: number; offset: number } {
  const limit = readCount(op.limit ?? defaultLimit, `${what} limit`);
  const offset = readCount(op.offset ?? 0, `${what} offset`);
  if (!Number.isSafeInteger(offset + limit)) {
    throw new ConfigError(
      `${what} offset + limit must be a safe integer, got ${offset} + ${limit}`,
      {
        backend: BRIDGE,
      },
    );
  }
  return { limit, offset };
}

/** The leading parts before the first `*` of the longest prefix condition. */
function longestLiteralPrefix(conditions: readonly MatchCondition[]): string[] {
  let longest: string[] = [];
  for (const condition of conditions) {
    if (condition.matchType !== 'prefix') continue;
    const wildcard = condition.path.indexOf('*');
    const literal = wildcard === -1 ? condition.path : condition.path.slice(0, wildcard);
    if (literal.length > longest.length) longest = [...literal];
  }
  return longest;
}

/** LangGraph's namespace match: `*` matches any one label. */
function matches(condition: MatchCondition, scope: readonly string[]): boolean {
  const { matchType, path } = condition;
  if (path.length > scope.length) return false;
  const offset = matchType === 'prefix' ? 0 : scope.length - path.length;
  return path.every((label, i) => label === '*' || scope[offset + i] === label);
}

function sameScope(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((part, i) => part === b[i]);
}

function toItem(item: StoreItem<JsonObject>): Item {
  return {
    value: item.value,
    key: item.key,
    namespace: [...item.namespace.scope],
    createdAt: item.createdAt,
    updatedAt: item.updatedAt,
  };
}
