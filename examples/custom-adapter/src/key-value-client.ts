/**
 * The storage this adapter is written for: a synchronous string key/value store with
 * prefix scans, in the spirit of `localStorage`, LMDB or a browser's IndexedDB cursor.
 * Every method is synchronous, so a method of the adapter that makes no `await`
 * between its reads and its writes is atomic within the process.
 */
export interface KeyValueClient {
  get(key: string): string | undefined;
  set(key: string, value: string): void;
  /** True when the key existed. */
  delete(key: string): boolean;
  /** Every stored key that starts with `prefix`, in any order. */
  keys(prefix: string): Iterable<string>;
}

/**
 * A `KeyValueClient` over a `Map`, for tests and single-process tools. It keeps its
 * keys sorted so `keys(prefix)` is a range scan whose cost is the size of the answer
 * (plus a binary search), as it would be on an ordered key/value engine.
 */
export function createInMemoryKeyValueClient(): KeyValueClient {
  const values = new Map<string, string>();
  // Sorted by UTF-16 code unit. Any fixed lexicographic order keeps the keys that share
  // a prefix contiguous, which is all a range scan needs.
  const sortedKeys: string[] = [];

  const firstIndexNotBelow = (key: string): number => {
    let low = 0;
    let high = sortedKeys.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((sortedKeys[middle] as string) < key) low = middle + 1;
      else high = middle;
    }
    return low;
  };

  return {
    get(key) {
      return values.get(key);
    },
    set(key, value) {
      if (!values.has(key)) sortedKeys.splice(firstIndexNotBelow(key), 0, key);
      values.set(key, value);
    },
    delete(key) {
      if (!values.delete(key)) return false;
      sortedKeys.splice(firstIndexNotBelow(key), 1);
      return true;
    },
    keys(prefix) {
      const matches: string[] = [];
      for (let i = firstIndexNotBelow(prefix); i < sortedKeys.length; i++) {
        const key = sortedKeys[i] as string;
        if (!key.startsWith(prefix)) break;
        matches.push(key);
      }
      return matches;
    },
  };
}
