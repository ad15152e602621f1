import { type JsonObject, type JsonValue, SerializationError } from '@entelix/core';
import type { SerializerProtocol } from '@langchain/langgraph-checkpoint';
import { BRIDGE } from './errors.js';

/**
 * The key that marks a stored value which is not the serializer's JSON itself:
 * `{ "$entelix": "bytes", "type": ..., "base64": ... }` holds what the serializer
 * rendered as bytes (or as JSON that does not read back exactly), and
 * `{ "$entelix": "json", "value": ... }` escapes a JSON object that has this key itself.
 * Every other stored value is exactly the JSON the serializer wrote, so a thread can
 * be read with SQL or `redis-cli`.
 */
export const VALUE_TAG = '$entelix';

/**
 * What LangGraph's serializer writes for a value `JSON.stringify` throws on (a bigint,
 * a `toJSON` that throws): the whole value is lost to this string, so it is refused.
 */
const SERIALIZER_PLACEHOLDER = JSON.stringify(
  '[unable to serialize, circular reference is too complex to analyze]',
);

/** Serializer output as Entelix keeps it: readable JSON, or a tagged escape. */
export interface ValueCodec {
  /** Synchronous when the value needs no serializer (plain JSON with the default one). */
  dump(value: unknown): JsonValue | Promise<JsonValue>;
  /** A stored value back as the serializer reads it. Synchronous when nothing needs reviving. */
  load(stored: JsonValue): unknown;
}

/**
 * @param serde the saver's serializer
 * @param isDefaultSerde true when it is the `JsonPlusSerializer` the bridge created
 *   itself: plain JSON then skips the serializer both ways, since that serializer
 *   writes plain JSON unchanged and only revives objects with an `lc` field.
 */
export function createValueCodec(serde: SerializerProtocol, isDefaultSerde: boolean): ValueCodec {
  const decoder = new TextDecoder();

  const fromSerializer = async (value: unknown): Promise<JsonValue> => {
    let typed: [string, Uint8Array];
    try {
      typed = await serde.dumpsTyped(value);
    } catch (error) {
      throw new SerializationError('the LangGraph serializer could not dump a value', {
        cause: error,
        backend: BRIDGE,
      });
    }
    const [type, bytes] = typed;
    if (type === 'json') {
      const text = typeof bytes === 'string' ? bytes : decoder.decode(bytes);
      if (text === SERIALIZER_PLACEHOLDER) {
        throw new SerializationError(
          'the LangGraph serializer could not write a value (a bigint, or a toJSON that throws) and wrote a placeholder string in its place; store it as something JSON can hold',
          { backend: BRIDGE },
        );
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (error) {
        throw new SerializationError('the LangGraph serializer wrote JSON that does not parse', {
          cause: error,
          backend: BRIDGE,
        });
      }
      if (isPlainJson(parsed, 0)) return escapeTagged(parsed);
    }
    const raw = typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes;
    return { [VALUE_TAG]: 'bytes', type, base64: toBase64(raw) };
  };

  const revive = (json: JsonValue): unknown | Promise<unknown> => {
    if (isDefaultSerde && !hasLangChainRecord(json)) return json;
    return serde.loadsTyped('json', JSON.stringify(json));
  };

  return {
    dump(value) {
      if (isDefaultSerde && isPlainJson(value, 0)) return escapeTagged(value);
      return fromSerializer(value);
    },
    load(stored) {
      if (!isTagged(stored)) return revive(stored);
      const tag = stored[VALUE_TAG];
      if (tag === 'json') return revive(stored.value ?? null);
      const { type, base64 } = stored;
      if (tag !== 'bytes' || typeof type !== 'string' || typeof base64 !== 'string') {
        throw new SerializationError(`a stored value has an unknown ${VALUE_TAG} tag`, {
          backend: BRIDGE,
        });
      }
      return serde.loadsTyped(type, fromBase64(base64));
    },
  };
}

function isTagged(value: JsonValue): value is JsonObject {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.hasOwn(value, VALUE_TAG)
  );
}

function escapeTagged(value: JsonValue): JsonValue {
  return isTagged(value) ? { [VALUE_TAG]: 'json', value } : value;
}

// Deeper than this, a value goes through the serializer, which handles cycles.
const PLAIN_JSON_DEPTH = 64;

/**
 * True for values that survive `JSON.stringify` and `JSON.parse` unchanged and that the
 * serializer writes as they are: plain objects and dense arrays of finite numbers (not
 * -0), strings, booleans and null, with no `undefined` anywhere (the serializer keeps
 * those as records), no array holding properties beside its elements (it writes the
 * elements alone) and no object whose `lg_name` is "Send" (it writes a Send's fields).
 */
export function isPlainJson(value: unknown, depth: number): value is JsonValue {
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
  if (depth === PLAIN_JSON_DEPTH) return false;
  // The serializer writes what toJSON returns, and an Array subclass may be revived.
  if (Object.hasOwn(value, 'toJSON')) return false;
  if (Array.isArray(value)) {
    if (Object.getPrototypeOf(value) !== Array.prototype) return false;
    if (Object.keys(value).length !== value.length) return false;
    for (let i = 0; i < value.length; i++) {
      if (!(i in value) || !isPlainJson(value[i], depth + 1)) return false;
    }
    return true;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  if (Object.getOwnPropertySymbols(value).length > 0) return false;
  if ((value as { lg_name?: unknown }).lg_name === 'Send') return false;
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    if (!isPlainJson((value as Record<string, unknown>)[key], depth + 1)) return false;
  }
  return true;
}

// The serializer revives exactly the objects that carry an `lc` field (LangChain
// objects, `undefined`, Set, Map, Uint8Array...); JSON without one reads back as is.
function hasLangChainRecord(value: JsonValue): boolean {
  const pending: JsonValue[] = [value];
  while (pending.length > 0) {
    const next = pending.pop();
    if (typeof next !== 'object' || next === null) continue;
    if (Array.isArray(next)) {
      for (const item of next) if (typeof item === 'object' && item !== null) pending.push(item);
      continue;
    }
    if (Object.hasOwn(next, 'lc')) return true;
    for (const key in next) {
      const item = next[key];
      if (typeof item === 'object' && item !== null) pending.push(item);
    }
  }
  return false;
}

function toBase64(bytes: Uint8Array): string {
  let binary = '';
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) {
    binary += String.fromCharCode(...bytes.subarray(i, i + chunk));
  }
  return btoa(binary);
}

function fromBase64(base64: string): Uint8Array {
  let binary: string;
  try {
    binary = atob(base64);
  } catch (error) {
    throw new SerializationError('a stored binary value is not valid base64', {
      cause: error,
      backend: BRIDGE,
    });
  }
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * The values of `items` once every one that is a promise has settled; no promise is
 * awaited when none is one, which is the common case of plain JSON state.
 */
export function settled<T>(items: readonly (T | Promise<T>)[]): T[] | Promise<T[]> {
  return items.some((item) => item instanceof Promise) ? Promise.all(items) : (items as T[]);
}
