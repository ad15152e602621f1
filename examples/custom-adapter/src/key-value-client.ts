import { compareCodePoints } from '@entelix/core/adapter';

/**
 * Which keys of a prefix scan to return. The shape of an ordered engine's range read:
 * LevelDB's and abstract-level's iterator options (`gt`, `lt`, `limit`, `reverse`),
 * LMDB and IndexedDB cursors, FoundationDB's `getRange`.
 */
export interface KeyRange {
  /** Only keys greater than this one. */
  after?: string;
  /** Only keys less than this one. */
  before?: string;
  /** At most this many keys, counted from the end the scan starts at. */
  limit?: number;
  /** Greatest key first. */
  reverse?: boolean;
}

/**
 * The storage this adapter is written for: a synchronous, ordered string key/value
 * store with range scans, in the spirit of LMDB, LevelDB or an IndexedDB cursor. Keys
 * are ordered by Unicode code point, which is the byte order of their UTF-8 encoding:
 * what an engine that stores UTF-8 keys keeps. Every method is synchronous, so a method
 * of the adapter that makes no `await` between its reads and writes is atomic within
 * the process.
 */
export interface KeyValueClient {
  get(key: string): string | undefined;
  set(key: string, value: string): void;
  /** True when the key existed. */
  delete(key: string): boolean;
  /** The stored keys that start with `prefix` and fall in `range`, in key order. */
  keys(prefix: string, range?: KeyRange): Iterable<string>;
}

/**
 * A `KeyValueClient` over a `Map`, for tests and single-process tools. It keeps its
 * keys sorted so a scan is two binary searches plus the keys it returns, as on an
 * ordered key/value engine.
 */
export function createInMemoryKeyValueClient(): KeyValueClient {
  const values = new Map<string, string>();
  const sortedKeys: string[] = [];

  // The index of the first key at or above `key` (`inclusive`), or above it.
  const firstIndexFrom = (key: string, inclusive: boolean, low = 0): number => {
    let high = sortedKeys.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const order = compareCodePoints(sortedKeys[middle] as string, key);
      if (order < 0 || (!inclusive && order === 0)) low = middle + 1;
      else high = middle;
    }
    return low;
  };

  // Keys that start with `prefix` are contiguous from the first key not below it.
  const endOfPrefix = (prefix: string, start: number): number => {
    let low = start;
    let high = sortedKeys.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((sortedKeys[middle] as string).startsWith(prefix)) low = middle + 1;
      else high = middle;
    }
    return low;
  };

  return {
    get(key) {
      return values.get(key);
    },
    set(key, value) {
      if (!values.has(key)) sortedKeys.splice(firstIndexFrom(key, true), 0, key);
      values.set(key, value);
    },
    delete(key) {
      if (!values.delete(key)) return false;
      sortedKeys.splice(firstIndexFrom(key, true), 1);
      return true;
    },
    keys(prefix, range = {}) {
      const prefixStart = firstIndexFrom(prefix, true);
      let start = prefixStart;
      let end = endOfPrefix(prefix, prefixStart);
      if (range.after !== undefined) start = Math.max(start, firstIndexFrom(range.after, false));
      if (range.before !== undefined) end = Math.min(end, firstIndexFrom(range.before, true));
      if (start >= end) return [];
      const limit = range.limit ?? end - start;
      return range.reverse
        ? sortedKeys.slice(Math.max(start, end - limit), end).reverse()
        : sortedKeys.slice(start, Math.min(end, start + limit));
    },
  };
}
