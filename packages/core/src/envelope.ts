import {
  type Codec,
  describeJsonFlaw,
  isStrictJsonCodec,
  type JsonValue,
  strictJsonCodec,
} from './codec.js';
import {
  ConfigError,
  CorruptRecordError,
  EntelixError,
  SchemaVersionMismatchError,
  SerializationError,
} from './errors.js';

/** The payload schema version this release writes. */
export const CURRENT_SCHEMA_VERSION = 1;

/** Lifts a stored payload from version `n` (the record's key) to version `n + 1`. */
export type Upcaster = (state: JsonValue) => JsonValue;

/**
 * How a contract instance turns values into stored payloads. Passed to
 * `persistence.checkpointer(opts)`, `store(opts)` and `sessionLog(opts)`.
 */
export interface PayloadOptions<T> {
  /** Converts values to JSON and back; defaults to the strict JSON codec. */
  codec?: Codec<T>;
  /**
   * The schema version this code writes and understands, default
   * {@link CURRENT_SCHEMA_VERSION}. Reading a newer version fails with
   * `SCHEMA_VERSION_MISMATCH`; older ones go through `upcasters`.
   */
  schemaVersion?: number;
  /** `upcasters[n]` lifts a version-`n` payload to version `n + 1`. */
  upcasters?: Readonly<Record<number, Upcaster>>;
}

/** The stored form of every payload. */
export interface Envelope {
  schema_version: number;
  state: JsonValue;
}

/** Encodes values into envelope text and decodes them back. Built once per contract instance. */
export interface PayloadFormat<T> {
  encode(value: T): string;
  decode(text: string): T;
}

/**
 * Build the payload format for a contract instance. Backends call this once in
 * `checkpointer()` / `store()` / `sessionLog()` and use it for every row.
 *
 * @param backend names the backend in error messages
 */
export function createPayloadFormat<T>(
  options: PayloadOptions<T> | undefined,
  backend: string,
): PayloadFormat<T> {
  const codec = options?.codec ?? strictJsonCodec<T>();
  if (typeof codec?.encode !== 'function' || typeof codec.decode !== 'function') {
    throw new ConfigError('codec must have encode and decode functions', { backend });
  }
  const version = options?.schemaVersion ?? CURRENT_SCHEMA_VERSION;
  if (!Number.isSafeInteger(version) || version < 1) {
    throw new ConfigError('schemaVersion must be a positive integer', { backend });
  }
  const upcasters = options?.upcasters ?? {};
  const checkEncoded = !isStrictJsonCodec(codec as Codec<unknown>);

  return {
    encode(value: T): string {
      const state = runCodec(() => codec.encode(value), backend, 'encode');
      const flaw = checkEncoded ? describeJsonFlaw(state, '$') : undefined;
      if (flaw !== undefined) {
        throw new SerializationError(
          `codec.encode returned a value that is not strict JSON: ${flaw}`,
          {
            backend,
          },
        );
      }
      return JSON.stringify({ schema_version: version, state });
    },
    decode(text: string): T {
      const envelope = parseEnvelope(text, backend);
      let state = envelope.state;
      if (envelope.schema_version > version) {
        throw new SchemaVersionMismatchError(
          `stored payload has schema_version ${envelope.schema_version}, this code reads up to ${version}`,
          { backend },
        );
      }
      for (let v = envelope.schema_version; v < version; v++) {
        const upcast = upcasters[v];
        if (typeof upcast !== 'function') {
          throw new SchemaVersionMismatchError(
            `stored payload has schema_version ${envelope.schema_version} and no upcaster lifts version ${v}`,
            { backend },
          );
        }
        state = upcast(state);
      }
      return runCodec(() => codec.decode(state), backend, 'decode');
    },
  };
}

function runCodec<R>(fn: () => R, backend: string, action: string): R {
  try {
    return fn();
  } catch (error) {
    if (EntelixError.isInstance(error)) throw error;
    throw new SerializationError(`codec.${action} failed`, { cause: error, backend });
  }
}

/** Parse and check envelope text; anything malformed is `CORRUPT_RECORD`. */
export function parseEnvelope(text: string, backend: string): Envelope {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new CorruptRecordError('stored payload is not valid JSON', { cause: error, backend });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new CorruptRecordError('stored payload is not an envelope object', { backend });
  }
  const { schema_version: version } = parsed as Record<string, unknown>;
  if (!Number.isSafeInteger(version) || (version as number) < 1) {
    throw new CorruptRecordError('stored payload lacks a valid schema_version', { backend });
  }
  if (!Object.hasOwn(parsed, 'state')) {
    throw new CorruptRecordError('stored payload lacks state', { backend });
  }
  return parsed as Envelope;
}
