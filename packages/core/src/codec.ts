import { ConfigError, SerializationError } from './errors.js';
import { describeValue } from './ids.js';

/** A value that survives `JSON.stringify` / `JSON.parse` unchanged. */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue };

/** A JSON object: what checkpoint metadata and filters are. */
export type JsonObject = { [key: string]: JsonValue };

/**
 * Turns application values into JSON and back. `encode` runs on every write and may
 * throw `SerializationError`; `decode` runs on every read.
 */
export interface Codec<T> {
  encode(value: T): JsonValue;
  decode(json: JsonValue): T;
}

/**
 * Check that `value` round-trips exactly through JSON, or throw `SerializationError`
 * naming the path of the first offending part.
 *
 * Rejected: `NaN`, `Infinity`, `-0`, `undefined` at the top level or inside an array,
 * sparse arrays, arrays with properties beside their elements, `BigInt`, symbols,
 * functions, `Date`, `Map`, `Set`, class instances (of `Array` subclasses too), objects
 * and arrays with an own `toJSON`, cycles, and arrays and objects nested more than
 * {@link MAX_JSON_DEPTH} levels deep. An object property whose value is
 * `undefined` is accepted and omitted, the way an absent optional property reads back.
 */
export function assertJsonValue(value: unknown): asserts value is JsonValue {
  const flaw = findJsonFlaw(value);
  if (flaw !== undefined) {
    throw new SerializationError(
      `value at ${flaw.shownPath('$')} cannot be stored: ${flaw.reason}`,
    );
  }
}

/** The first part of a value that would not read back unchanged, and why. */
class JsonFlaw {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {}

  /** The path from `root`; a path a thousand levels long says no more than its two ends. */
  shownPath(root: string): string {
    const path = root + this.path;
    if (path.length <= 200) return path;
    // Cut between code points, so the message stays well-formed text.
    const head = path.slice(0, /[\ud800-\udbff]/.test(path[99] ?? '') ? 99 : 100);
    const tail = path.slice(/[\udc00-\udfff]/.test(path.at(-60) ?? '') ? -59 : -60);
    return `${head}…${tail}`;
  }
}

/**
 * Where `value` first fails {@link assertJsonValue} and why, as `at <what><path>, <why>`,
 * or `undefined` for a value that passes.
 */
export function describeJsonFlaw(value: unknown, what: string): string | undefined {
  const flaw = findJsonFlaw(value);
  return flaw === undefined ? undefined : `at ${flaw.shownPath(what)}, ${flaw.reason}`;
}

function findJsonFlaw(value: unknown): JsonFlaw | undefined {
  // The quick walk builds no paths; only a value it refuses is walked again to say why.
  if (isStrictJson(value, 0)) return undefined;
  try {
    checkJson(value, '', new Set(), 1);
  } catch (error) {
    if (error instanceof JsonFlaw) return error;
    throw error;
  }
  return undefined;
}

/**
 * How many arrays and objects a value may nest: a backend writes and reads JSON with
 * recursive code, and one much deeper exhausts the stack somewhere between the
 * application and the database.
 */
export const MAX_JSON_DEPTH = 1000;

// Deeper than this, the quick walk gives up and lets `checkJson` look for a cycle.
const QUICK_WALK_DEPTH = 64;

/** `checkJson` as a yes/no answer, for the values that pass. */
function isStrictJson(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0);
    case 'object':
      break;
    default:
      return false;
  }
  if (value === null) return true;
  if (depth === QUICK_WALK_DEPTH) return false;
  // JSON.stringify would write what toJSON returns, not the value that was checked.
  if (Object.hasOwn(value, 'toJSON')) return false;
  if (Array.isArray(value)) {
    if (Object.getPrototypeOf(value) !== Array.prototype) return false;
    if (hasPropertiesBesideElements(value)) return false;
    for (let i = 0; i < value.length; i++) {
      if (!(i in value)) return false;
      const item = value[i];
      if (item === undefined || !isStrictJson(item, depth + 1)) return false;
    }
    return true;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  if (Object.getOwnPropertySymbols(value).length > 0) return false;
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    const item = (value as Record<string, unknown>)[key];
    if (item !== undefined && !isStrictJson(item, depth + 1)) return false;
  }
  return true;
}

function checkJson(value: unknown, path: string, ancestors: Set<object>, depth: number): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) fail(path, `${value} is not finite`);
      if (Object.is(value, -0)) fail(path, '-0 reads back as 0');
      return;
    case 'object':
      break;
    default:
      fail(path, `${typeof value} is not JSON`);
  }
  if (value === null) return;
  const object = value as object;
  if (ancestors.has(object)) fail(path, 'the value has a cycle');
  if (depth > MAX_JSON_DEPTH)
    fail(path, `arrays and objects nest more than ${MAX_JSON_DEPTH} deep`);
  ancestors.add(object);
  if (Object.hasOwn(object, 'toJSON')) fail(path, 'a toJSON method stores what it returns');
  if (Array.isArray(object)) {
    if (Object.getPrototypeOf(object) !== Array.prototype) {
      fail(path, `${object.constructor?.name ?? 'array'} instances are not plain JSON arrays`);
    }
    for (let i = 0; i < object.length; i++) {
      if (!(i in object)) fail(`${path}[${i}]`, 'sparse arrays read back with null holes');
      const item = object[i];
      if (item === undefined) fail(`${path}[${i}]`, 'undefined reads back as null');
      checkJson(item, `${path}[${i}]`, ancestors, depth + 1);
    }
    if (hasPropertiesBesideElements(object)) {
      const named = Object.keys(object)[object.length];
      fail(
        path,
        `the array's property ${JSON.stringify(named)} would not be stored, only its elements`,
      );
    }
  } else {
    const proto = Object.getPrototypeOf(object);
    if (proto !== Object.prototype && proto !== null) {
      const name = (object as { constructor?: { name?: string } }).constructor?.name ?? 'object';
      fail(path, `${name} instances are not plain JSON objects`);
    }
    if (Object.getOwnPropertySymbols(object).length > 0) fail(path, 'symbol keys are not JSON');
    for (const key of Object.keys(object)) {
      const item = (object as Record<string, unknown>)[key];
      if (item !== undefined) checkJson(item, `${path}.${key}`, ancestors, depth + 1);
    }
  }
  ancestors.delete(object);
}

/**
 * True when a dense array holds more than its elements (a regular expression match's
 * `index` and `input`, say): JSON.stringify writes the elements alone.
 */
function hasPropertiesBesideElements(array: unknown[]): boolean {
  return Object.keys(array).length !== array.length;
}

function fail(path: string, reason: string): never {
  throw new JsonFlaw(path, reason);
}

/**
 * The default codec: values must be strict JSON (see {@link assertJsonValue}); what is
 * read back is always a fresh copy.
 */
export function strictJsonCodec<T = JsonValue>(): Codec<T> {
  return STRICT_JSON_CODEC as Codec<T>;
}

const STRICT_JSON_CODEC: Codec<unknown> = Object.freeze({
  encode(value: unknown): JsonValue {
    assertJsonValue(value);
    return value;
  },
  decode(json: JsonValue): unknown {
    return json;
  },
});

/** True for the shared strict codec, whose output needs no second check. */
export function isStrictJsonCodec(codec: Codec<unknown>): boolean {
  return codec === STRICT_JSON_CODEC;
}

/**
 * Read an argument that must be a plain JSON object (metadata, a filter), returning
 * `undefined` for `undefined`. Anything else is `ConfigError` naming the offending part.
 */
export function readJsonObject(value: unknown, what: string): JsonObject | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError(`${what} must be a plain JSON object, got ${describeValue(value)}`);
  }
  const flaw = describeJsonFlaw(value, what);
  if (flaw !== undefined) throw new ConfigError(`${what} must be a plain JSON object: ${flaw}`);
  return value as JsonObject;
}

/**
 * JSON equality: the same type and, recursively, the same elements or the same keys
 * (in any order) with equal values. What `JSON.parse` of both texts would compare equal.
 */
export function jsonEquals(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEquals(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const keys = Object.keys(a).filter((key) => a[key] !== undefined);
  let bCount = 0;
  for (const key of Object.keys(b)) if (b[key] !== undefined) bCount++;
  if (keys.length !== bCount) return false;
  for (const key of keys) {
    if (!Object.hasOwn(b, key) || !jsonEquals(a[key], b[key])) return false;
  }
  return true;
}
