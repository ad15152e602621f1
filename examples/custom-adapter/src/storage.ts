import {
  assertNewestFence as assertNewestFenceOf,
  assertRowTenant,
  CorruptRecordError,
  type Namespace,
  ThreadKey,
  toBackendError,
} from '@entelix/core';
import type { KeyValueClient } from './key-value-client.js';

/** The backend name in error messages: `[entelix] [key-value] ...`. */
export const BACKEND = 'key-value';

// U+0000 is the one character no identifier may contain, so it separates the parts of
// a storage key without escaping: two different records can never share a key, and a
// prefix that ends with the separator selects exactly the records of one thread,
// namespace or tenant, never a neighbour whose id merely starts the same way.
const SEPARATOR = '\u0000';
const join = (...parts: string[]) => parts.join(SEPARATOR);

/** Where every record lives. Tenant-first, injective, one family per record kind. */
export const storageKeys = {
  checkpoint: (key: ThreadKey, id: string) => join('checkpoint', ThreadKey.render(key), id),
  checkpointsOf: (key: ThreadKey) => join('checkpoint', ThreadKey.render(key), ''),
  checkpointThread: (key: ThreadKey) => join('checkpoint-thread', ThreadKey.render(key)),
  logThread: (key: ThreadKey) => join('log', ThreadKey.render(key)),
  logEvent: (key: ThreadKey, seq: number) => join('log-event', ThreadKey.render(key), String(seq)),
  // The tenant comes first on its own so one tenant's items are one prefix scan away.
  storeItem: (ns: Namespace, key: string) => join('store-item', ns.tenantId, ns.render(), key),
  storeItemsOf: (ns: Namespace) => join('store-item', ns.tenantId, ns.render(), ''),
  storeItemsOfTenant: (tenantId: string) => join('store-item', tenantId, ''),
  storeItemsOfEveryTenant: () => join('store-item', ''),
  lease: (lockKey: string) => join('lock-lease', lockKey),
  newestFence: (lockKey: string) => join('lock-fence', lockKey),
};

/** The client as the contracts use it: scans come back as arrays they may walk while deleting. */
export interface StorageClient extends KeyValueClient {
  keys(prefix: string): string[];
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
    // Copy the scan so a caller may delete while it walks the result.
    keys: (prefix) => call('keys', () => [...client.keys(prefix)]),
  };
}

/** Read and parse one JSON record; anything unreadable is `CORRUPT_RECORD`, never skipped. */
export function readRecord<T extends object>(client: KeyValueClient, key: string): T | undefined {
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
 * Read a record that carries its tenant and check it belongs to the tenant asking,
 * so a record written behind the adapter's back never leaks into another tenant.
 */
export function readTenantRecord<T extends { tenantId: string }>(
  client: KeyValueClient,
  key: string,
  tenantId: string,
): T | undefined {
  const record = readRecord<T>(client, key);
  if (record !== undefined) assertRowTenant(record.tenantId, { tenantId }, BACKEND);
  return record;
}

export function writeRecord(client: KeyValueClient, key: string, record: object): void {
  client.set(key, JSON.stringify(record));
}

/** The newest fence ever granted for a lock key, `0n` before the first grant. */
export function readNewestFence(client: KeyValueClient, lockKey: string): bigint {
  const text = client.get(storageKeys.newestFence(lockKey));
  if (text === undefined) return 0n;
  if (!/^[1-9][0-9]*$/.test(text)) {
    throw new CorruptRecordError('stored fence counter is not a positive integer', {
      backend: BACKEND,
    });
  }
  return BigInt(text);
}

/**
 * Reject a fenced write whose lease is no longer the newest grant for its lock key.
 * Callers run this in the same synchronous step as the write it guards, so no grant
 * can slip in between the check and the write.
 *
 * @param token what `readFence` returned during validation, or `undefined` when unfenced
 */
export function assertNewestFence(
  client: KeyValueClient,
  token: { lockKey: string; fence: bigint } | undefined,
): void {
  if (token === undefined) return;
  assertNewestFenceOf(token, readNewestFence(client, token.lockKey), BACKEND);
}
