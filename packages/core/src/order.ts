/**
 * Compare two strings by Unicode code point (what `COLLATE "C"` on UTF-8 and Redis
 * byte order give), not by UTF-16 code unit as `<` does.
 */
export function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0;
  // The two orders differ only where the first differing units are both at or above
  // U+D800 (a surrogate against U+E000-FFFF): a string without such a unit, as most ids
  // are, compares by the engine's own `<`.
  if (!HIGH_UNIT.test(a) || !HIGH_UNIT.test(b)) return a < b ? -1 : 1;
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

const HIGH_UNIT = /[\uD800-\uFFFF]/;

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

/** True when `scope` begins with every part of `prefix`, whole parts only. */
export function startsWithScope(scope: readonly string[], prefix: readonly string[]): boolean {
  if (prefix.length > scope.length) return false;
  return prefix.every((part, i) => scope[i] === part);
}

/** What a listing asked for, to check the page a driver returned against. */
export interface PageQuery<T> {
  readonly limit: number | undefined;
  readonly after: T | undefined;
}

/**
 * The checks every listing's page passes before the kit returns it: at most `limit`
 * entries, each strictly after the one before and after the cursor. A driver that
 * pages wrong (a cursor applied after the limit, an unordered index) would otherwise
 * skip or repeat entries on the caller's next page, silently.
 */
export function isOrderedPage<T>(
  page: readonly T[],
  query: PageQuery<T>,
  compare: (a: T, b: T) => number,
): boolean {
  if (query.limit !== undefined && page.length > query.limit) return false;
  let previous = query.after;
  for (const entry of page) {
    if (previous !== undefined && compare(previous, entry) >= 0) return false;
    previous = entry;
  }
  return true;
}
