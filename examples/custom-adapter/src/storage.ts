import { CorruptRecordError, type ThreadKey } from '@entelix/core';
import {
  assertNewestFence,
  assertRowTenant,
  toBackendError,
  type VerifiedFence,
} from '@entelix/core/adapter';
import type { KeyRange, KeyValueClient } from './key-value-client.js';

/** The backend name in error messages: `[entelix] [key-value] ...`. */
export const BACKEND = 'key-value';

// U+0000 is the one character no identifier, namespace or task id may contain, so it
// separates the parts of a storage key without escaping: two different records never
// share a key, a prefix that ends with it selects exactly one tenant's, thread's or
// namespace's records, and because it sorts below every other character, keys sort the
// way their parts do, part by part in code-point order.
const SEPARATOR = '\u0000';
const join = (family: RecordFamily, ...parts: string[]) => [family, ...parts].join(SEPARATOR);

// A store scope is written part by part, each part closed by the separator, so the
// path of a scope starts the paths of exactly its descendants and sorts before them.
const scopePath = (scope: readonly string[]) => scope.map((part) => part + SEPARATOR).join('');

// Zero-padded to 16 digits, which hold every safe integer, so key order is number order.
const ordinal = (n: number) => String(n).padStart(16, '0');

/** The first part of every key: what kind of record it is. */
export type RecordFamily =
  | 'checkpoint'
  | 'checkpoint-id'
  | 'checkpoint-ns'
  | 'checkpoint-write'
  | 'checkpoint-thread'
  | 'session-event'
  | 'session-head'
  | 'store-item'
  | 'store-namespace'
  | 'lock-lease'
  | 'lock-fence';

/**
 * Where every record lives: the record kind, then the tenant, then what identifies the
 * record. Families that a scan walks in write order end in an ordinal (see
 * {@link atOrdinal}).
 */
export const storageKeys = {
  /** `{ tenantId, lastWriteSeq }`: the thread's write-order counter, while it holds a checkpoint. */
  checkpointThread: (key: ThreadKey) => join('checkpoint-thread', key.tenantId, key.threadId),
  /** Ordinal: write seq. The checkpoint, every namespace of the thread in one order. */
  checkpointsOf: (key: ThreadKey) => join('checkpoint', key.tenantId, key.threadId, ''),
  /** Ordinal: write seq. The checkpoint's id: one namespace's checkpoints in write order. */
  checkpointsInNamespace: (key: ThreadKey, ns: string) =>
    join('checkpoint-ns', key.tenantId, key.threadId, ns, ''),
  /** The write seq of (ns, id). Id before ns, so one id's namespaces are one prefix. */
  checkpointId: (key: ThreadKey, id: string, ns: string) =>
    join('checkpoint-id', key.tenantId, key.threadId, id, ns),
  checkpointIdInEveryNamespace: (key: ThreadKey, id: string) =>
    join('checkpoint-id', key.tenantId, key.threadId, id, ''),
  /** A pending write of the checkpoint at a write seq; the kit orders them on reading. */
  pendingWrite: (key: ThreadKey, seq: number, taskId: string, idx: number) =>
    join('checkpoint-write', key.tenantId, key.threadId, ordinal(seq), taskId, String(idx)),
  pendingWritesOf: (key: ThreadKey, seq: number) =>
    join('checkpoint-write', key.tenantId, key.threadId, ordinal(seq), ''),
  /** Every record of one family for one thread. */
  ofThread: (family: RecordFamily, key: ThreadKey) => join(family, key.tenantId, key.threadId, ''),

  /** `{ tenantId, headOrdinal }`, never deleted: ordinals are never handed out twice. */
  sessionHead: (key: ThreadKey) => join('session-head', key.tenantId, key.threadId),
  /** Ordinal: the event's seq. */
  sessionEventsOf: (key: ThreadKey) => join('session-event', key.tenantId, key.threadId, ''),

  /** An empty record per namespace that holds an item, in scope order. */
  storeNamespace: (tenantId: string, scope: readonly string[]) =>
    join('store-namespace', tenantId, '') + scopePath(scope),
  /** Every namespace record of one tenant, or of every tenant. */
  storeNamespacesOf: (tenantId?: string) =>
    tenantId === undefined ? join('store-namespace', '') : join('store-namespace', tenantId, ''),
  /** An item: in (scope, key) order, the scope closed by one more separator. */
  storeItem: (tenantId: string, scope: readonly string[], key: string) =>
    join('store-item', tenantId, '') + scopePath(scope) + SEPARATOR + key,
  /** The items of one namespace, followed by a key prefix when given. */
  storeItemsOf: (tenantId: string, scope: readonly string[]) =>
    storageKeys.storeItem(tenantId, scope, ''),
  /** The items of a namespace and all its descendants (`[]`: the whole tenant). */
  storeItemsUnder: (tenantId: string, scopePrefix: readonly string[]) =>
    join('store-item', tenantId, '') + scopePath(scopePrefix),

  /** `{ fence, expiresAtMs }` of the thread's lock. */
  lease: (key: ThreadKey) => join('lock-lease', key.tenantId, key.threadId),
  /** The newest fence granted for the thread's lock, never deleted. */
  newestFence: (key: ThreadKey) => join('lock-fence', key.tenantId, key.threadId),

  /** Every record of one family for one tenant. */
  ofTenant: (family: RecordFamily, tenantId: string) => join(family, tenantId, ''),
};

/**
 * The tenant and scope of a namespace record, from its key, which ends with the
 * separator that closes its last part.
 */
export function namespaceOfKey(storageKey: string): { tenantId: string; scope: string[] } {
  const [, tenantId, ...scope] = storageKey.slice(0, -1).split(SEPARATOR);
  return { tenantId: tenantId as string, scope };
}

/**
 * The smallest key above every namespace key under `scope`: the separator that closes
 * its path raised to U+0001, so a scan after it skips that whole subtree.
 */
export function pastNamespaceSubtree(tenantId: string, scope: readonly string[]): string {
  return `${storageKeys.storeNamespace(tenantId, scope).slice(0, -1)}\u0001`;
}

/** The key of the ordinal `n` in an ordered family. */
export const atOrdinal = (prefix: string, n: number) => prefix + ordinal(n);

/** The ordinal of a key of an ordered family, or of an index entry's value. */
export function readOrdinal(text: string): number {
  const n = Number(text);
  if (!/^[0-9]{1,16}$/.test(text) || !Number.isSafeInteger(n) || n < 1) {
    throw new CorruptRecordError('stored ordinal is not a positive integer', { backend: BACKEND });
  }
  return n;
}

/**
 * A counter read from bookkeeping the kit never sees (a head, a write sequence), before
 * arithmetic on it writes anything: a non-negative safe integer, else `CORRUPT_RECORD`.
 */
export function checkCounter(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new CorruptRecordError(`stored ${what} is not a non-negative integer`, {
      backend: BACKEND,
    });
  }
  return value;
}

/** The ordinal at the end of a key listed under `prefix`. */
export const ordinalOfKey = (prefix: string, storageKey: string) =>
  readOrdinal(storageKey.slice(prefix.length));

/** The client as the contracts use it: scans come back as arrays they may walk while deleting. */
export interface StorageClient extends KeyValueClient {
  keys(prefix: string, range?: KeyRange): string[];
}

/**
 * Wrap the caller's client so a driver failure surfaces once, as `BACKEND`, with the
 * original error as `cause`, however deep in a method it happens.
 */
export function withBackendErrors(client: KeyValueClient): StorageClient {
  const call = <R>(action: string, run: () => R): R => {
    try {
      return run();
    } catch (error) {
      throw toBackendError(error, BACKEND, `key/value ${action}`);
    }
  };
  return {
    get: (key) => call('get', () => client.get(key)),
    set: (key, value) => call('set', () => client.set(key, value)),
    delete: (key) => call('delete', () => client.delete(key)),
    keys: (prefix, range) => call('keys', () => [...client.keys(prefix, range)]),
  };
}

const LARGEST_BATCH = 64;

/**
 * The keys under `prefix` in `range`, fetched in batches that start at one key and
 * double, so a walk that stops early (a filled page, a first live item) reads at most
 * twice what it uses, and no single scan is unbounded. The caller may delete the keys
 * it is given.
 */
export function* walkKeys(
  client: StorageClient,
  prefix: string,
  range: KeyRange = {},
): Generator<string> {
  let { after, before } = range;
  let remaining = range.limit ?? Number.POSITIVE_INFINITY;
  let nextBatch = 1;
  while (remaining > 0) {
    const batchSize = Math.min(remaining, nextBatch);
    const batch = client.keys(prefix, { after, before, limit: batchSize, reverse: range.reverse });
    yield* batch;
    if (batch.length < batchSize) return;
    remaining -= batch.length;
    nextBatch = Math.min(nextBatch * 2, LARGEST_BATCH);
    const last = batch[batch.length - 1] as string;
    if (range.reverse) before = last;
    else after = last;
  }
}

/** Delete every key under `prefix` in `range`; returns how many there were. */
export function deleteKeys(client: StorageClient, prefix: string, range: KeyRange = {}): number {
  let deleted = 0;
  for (const storageKey of walkKeys(client, prefix, range)) {
    if (client.delete(storageKey)) deleted++;
  }
  return deleted;
}

/** True when some key starts with `prefix`. */
export const hasKeys = (client: StorageClient, prefix: string) =>
  client.keys(prefix, { limit: 1 }).length > 0;

/** Read and parse one JSON record; anything unreadable is `CORRUPT_RECORD`, never skipped. */
export function readRecord<T extends object>(client: StorageClient, key: string): T | undefined {
  const text = client.get(key);
  if (text === undefined) return undefined;
  let record: unknown;
  try {
    record = JSON.parse(text);
  } catch (error) {
    throw new CorruptRecordError('stored record is not valid JSON', {
      cause: error,
      backend: BACKEND,
    });
  }
  if (typeof record !== 'object' || record === null || Array.isArray(record)) {
    throw new CorruptRecordError('stored record is not an object', { backend: BACKEND });
  }
  return record as T;
}

/**
 * Read a record that a scan just listed or an index points to: its absence means the
 * index and the records disagree, which is corruption, not an empty answer.
 */
export function readListedRecord<T extends object>(client: StorageClient, key: string): T {
  const record = readRecord<T>(client, key);
  if (record === undefined) {
    throw new CorruptRecordError('an index entry points to a missing record', {
      backend: BACKEND,
    });
  }
  return record;
}

/**
 * Check that a record read for `tenantId` belongs to it. The kit checks every row it is
 * handed; this is for what it never sees (heads, counters, keys that `list` returns).
 */
export function checkTenant<T extends { tenantId: unknown }>(record: T, tenantId: string): T {
  assertRowTenant(record.tenantId, { tenantId }, BACKEND);
  return record;
}

/** {@link readRecord}, checked with {@link checkTenant}. */
export function readTenantRecord<T extends { tenantId: unknown }>(
  client: StorageClient,
  key: string,
  tenantId: string,
): T | undefined {
  const record = readRecord<T>(client, key);
  return record === undefined ? undefined : checkTenant(record, tenantId);
}

export function writeRecord(client: StorageClient, key: string, record: object): void {
  client.set(key, JSON.stringify(record));
}

/** The newest fence ever granted for a thread's lock, `0n` before the first grant. */
export function readNewestFence(client: StorageClient, key: ThreadKey): bigint {
  const text = client.get(storageKeys.newestFence(key));
  if (text === undefined) return 0n;
  if (!/^[1-9][0-9]*$/.test(text)) {
    throw new CorruptRecordError('stored fence counter is not a positive integer', {
      backend: BACKEND,
    });
  }
  return BigInt(text);
}

/**
 * Reject a fenced write whose lease is no longer the newest grant for its lock. Every
 * driver write calls this first, in the same synchronous step as the write it guards,
 * so no grant can slip in between the check and the write.
 */
export function checkFence(client: StorageClient, fence: VerifiedFence | undefined): void {
  if (fence !== undefined) assertNewestFence(fence, readNewestFence(client, fence.key), BACKEND);
}
