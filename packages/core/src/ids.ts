import { CorruptRecordError, InvalidIdError } from './errors.js';

/** Longest legal identifier, in UTF-8 bytes. */
export const MAX_ID_BYTES = 256;

/**
 * Longest legal checkpoint namespace, task path or pending write channel, in UTF-8
 * bytes: a runtime's nested subgraphs join their names into one such string, and names
 * channels after its nodes, so these need more room than an id.
 */
export const MAX_PATH_BYTES = 1024;

const encoder = new TextEncoder();

/**
 * Validate one identifier: a non-empty string of at most 256 UTF-8 bytes, without
 * U+0000 and without lone surrogates. Every other character is legal.
 *
 * @param what names the identifier in the error message (`tenantId`, `store key`...)
 * @throws InvalidIdError
 */
export function validateId(value: unknown, what: string): string {
  return validateText(value, what, MAX_ID_BYTES, false);
}

/**
 * Validate a checkpoint namespace or task path: like an identifier, but `''` is legal
 * (the root graph) and it may hold up to 1024 UTF-8 bytes.
 *
 * @throws InvalidIdError
 */
export function validatePath(value: unknown, what: string): string {
  return validateText(value, what, MAX_PATH_BYTES, true);
}

/**
 * Validate a pending write's channel name: non-empty like an identifier, with the room
 * of a path, since a runtime names channels after its graph's nodes (LangGraph writes
 * `branch:to:<node>`), and a node's name may be as long as a namespace's part.
 *
 * @throws InvalidIdError
 */
export function validateChannel(value: unknown, what: string): string {
  return validateText(value, what, MAX_PATH_BYTES, false);
}

function validateText(value: unknown, what: string, maxBytes: number, allowEmpty: boolean): string {
  if (typeof value !== 'string') {
    throw new InvalidIdError(`${what} must be a string, got ${describeValue(value)}`);
  }
  if (value.length === 0) {
    if (allowEmpty) return value;
    throw new InvalidIdError(`${what} must not be empty`);
  }
  if (value.includes('\u0000')) throw new InvalidIdError(`${what} must not contain U+0000`);
  if (!value.isWellFormed()) {
    throw new InvalidIdError(`${what} must be well-formed UTF-16 (it has a lone surrogate)`);
  }
  // Cheap bound first: a string of n UTF-16 units encodes to at most 3n UTF-8 bytes.
  if (value.length * 3 > maxBytes && encoder.encode(value).byteLength > maxBytes) {
    throw new InvalidIdError(`${what} must be at most ${maxBytes} UTF-8 bytes`);
  }
  return value;
}

/**
 * A short description of a value for error messages: its type, or the value itself
 * when it is a short primitive, never a large or structured value.
 */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'string':
      return value.length <= 40 ? JSON.stringify(value) : `a string of ${value.length} characters`;
    case 'number':
    case 'boolean':
    case 'bigint':
      return typeof value === 'bigint' ? `${value}n` : String(value);
    default:
      return typeof value;
  }
}

declare const tenantBrand: unique symbol;
declare const threadBrand: unique symbol;

/** A validated tenant id. Obtain one with {@link TenantId.parse}. */
export type TenantId = string & { readonly [tenantBrand]: true };
/** A validated thread id. Obtain one with {@link ThreadId.parse}. */
export type ThreadId = string & { readonly [threadBrand]: true };

/** Parser for {@link TenantId}. */
export const TenantId = {
  /** Return `value` as a `TenantId`, or throw `InvalidIdError`. */
  parse(value: unknown): TenantId {
    return validateId(value, 'tenantId') as TenantId;
  },
};

/** Parser for {@link ThreadId}. */
export const ThreadId = {
  /** Return `value` as a `ThreadId`, or throw `InvalidIdError`. */
  parse(value: unknown): ThreadId {
    return validateId(value, 'threadId') as ThreadId;
  },
};

/** The key of everything thread-scoped: always a tenant first, then a thread. */
export interface ThreadKey {
  readonly tenantId: TenantId;
  readonly threadId: ThreadId;
}

/** Constructors for {@link ThreadKey}. */
export const ThreadKey = {
  /** Validate both ids and return a frozen `{ tenantId, threadId }`. */
  of(tenantId: string, threadId: string): ThreadKey {
    return Object.freeze({
      tenantId: TenantId.parse(tenantId),
      threadId: ThreadId.parse(threadId),
    });
  },
  /**
   * Re-validate something that claims to be a `ThreadKey` (it may have been cast past
   * the types) and return a fresh frozen key.
   */
  from(value: unknown): ThreadKey {
    if (typeof value !== 'object' || value === null) {
      throw new InvalidIdError(`thread key must be an object, got ${describeValue(value)}`);
    }
    const { tenantId, threadId } = value as Record<string, unknown>;
    return ThreadKey.of(tenantId as string, threadId as string);
  },
  /** An injective string form, `tenant:thread` with `\` and `:` escaped. */
  render(key: ThreadKey): string {
    return renderParts([key.tenantId, key.threadId]);
  },
  /** True when both keys name the same thread of the same tenant. */
  equals(a: ThreadKey, b: ThreadKey): boolean {
    return a.tenantId === b.tenantId && a.threadId === b.threadId;
  },
};

/** A namespace of the store: a tenant and one or more scope parts. */
export interface Namespace {
  readonly tenantId: TenantId;
  readonly scope: readonly string[];
  /** `tenant:part:part` with `\` and `:` escaped; {@link Namespace.parse} inverts it. */
  render(): string;
}

function renderNamespace(this: Namespace): string {
  return renderParts([this.tenantId, ...this.scope]);
}

/** Constructors for {@link Namespace}. */
export const Namespace = {
  /** Validate the tenant and every scope part (at least one) and return a frozen namespace. */
  of(tenantId: string, ...scope: string[]): Namespace {
    const tenant = TenantId.parse(tenantId);
    if (scope.length === 0) throw new InvalidIdError('a namespace needs at least one scope part');
    const parts = Object.freeze(scope.map((part) => validateId(part, 'namespace scope part')));
    return Object.freeze({ tenantId: tenant, scope: parts, render: renderNamespace });
  },
  /** Re-validate something that claims to be a `Namespace` and return a fresh one. */
  from(value: unknown): Namespace {
    if (typeof value !== 'object' || value === null) {
      throw new InvalidIdError(`namespace must be an object, got ${describeValue(value)}`);
    }
    const { tenantId, scope } = value as Record<string, unknown>;
    if (!Array.isArray(scope)) throw new InvalidIdError('namespace scope must be an array');
    return Namespace.of(tenantId as string, ...(scope as string[]));
  },
  /** Invert {@link Namespace.render}; throws `InvalidIdError` on malformed input. */
  parse(rendered: string): Namespace {
    if (typeof rendered !== 'string') {
      throw new InvalidIdError(
        `rendered namespace must be a string, got ${describeValue(rendered)}`,
      );
    }
    const [tenant, ...scope] = parseParts(rendered);
    return Namespace.of(tenant as string, ...scope);
  },
};

function renderParts(parts: readonly string[]): string {
  return parts.map((part) => part.replaceAll('\\', '\\\\').replaceAll(':', '\\:')).join(':');
}

function parseParts(rendered: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < rendered.length; i++) {
    const ch = rendered[i];
    if (ch === '\\') {
      const next = rendered[i + 1];
      if (next !== '\\' && next !== ':') {
        throw new InvalidIdError('malformed rendered namespace: dangling or unknown escape');
      }
      current += next;
      i++;
    } else if (ch === ':') {
      parts.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts;
}

declare const checkpointBrand: unique symbol;
/** A checkpoint id: a lowercase UUID string (UUIDv7 when created by this library). */
export type CheckpointId = string & { readonly [checkpointBrand]: true };

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Parser and generator for {@link CheckpointId}. */
export const CheckpointId = {
  /** Accept any UUID in canonical hyphenated form (either case); returns it lowercased. */
  parse(value: unknown): CheckpointId {
    if (typeof value !== 'string') {
      throw new InvalidIdError(`checkpoint id must be a string, got ${describeValue(value)}`);
    }
    const lower = value.toLowerCase();
    if (!UUID_PATTERN.test(lower)) {
      throw new InvalidIdError('checkpoint id must be a UUID (8-4-4-4-12 hex digits)');
    }
    return lower as CheckpointId;
  },
  /** A fresh UUIDv7, strictly greater than every id generated before it in this process. */
  create(): CheckpointId {
    return uuidV7() as CheckpointId;
  },
};

// A monotonic UUIDv7 needs the last timestamp and counter, and random bytes come from
// a pool refilled 4 KiB at a time (one `getRandomValues` call per 512 ids, not per id).
// Process-wide on purpose (ids must increase across every bundle of the process); it
// holds no resources.
let lastMs = 0;
let counter = 0;
const RANDOM_POOL_BYTES = 4096;
const randomPool = new Uint8Array(RANDOM_POOL_BYTES);
let randomOffset = RANDOM_POOL_BYTES;
const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));
// The id's first 15 characters depend on the millisecond only.
let timePrefixMs = -1;
let timePrefix = '';

function uuidV7(): string {
  let ms = Date.now();
  if (ms <= lastMs) {
    // Same millisecond or a clock step backwards: keep the timestamp, bump the
    // 12-bit counter; when it overflows borrow the next millisecond.
    ms = lastMs;
    counter++;
    if (counter > 0xfff) {
      ms++;
      counter = 0;
    }
  } else {
    counter = 0;
  }
  lastMs = ms;
  if (randomOffset + 8 > RANDOM_POOL_BYTES) {
    crypto.getRandomValues(randomPool);
    randomOffset = 0;
  }
  const r = randomPool.subarray(randomOffset, randomOffset + 8);
  randomOffset += 8;
  if (ms !== timePrefixMs) {
    const timeHex = ms.toString(16).padStart(12, '0');
    timePrefix = `${timeHex.slice(0, 8)}-${timeHex.slice(8, 12)}-7`;
    timePrefixMs = ms;
  }
  // Layout: 48-bit ms | version 7 + 12-bit counter | variant 10 + 62 random bits.
  return (
    `${timePrefix}${(HEX[counter >> 8] as string)[1]}${HEX[counter & 0xff]}-` +
    `${HEX[0x80 | ((r[0] as number) & 0x3f)]}${HEX[r[1] as number]}-` +
    `${HEX[r[2] as number]}${HEX[r[3] as number]}${HEX[r[4] as number]}${HEX[r[5] as number]}${HEX[r[6] as number]}${HEX[r[7] as number]}`
  );
}

/**
 * Check that a stored row belongs to the tenant that asked for it. Backends call this
 * on every row they read, so a row written behind their back never leaks.
 */
export function assertRowTenant(
  rowTenantId: unknown,
  key: { tenantId: string },
  backend: string,
): void {
  if (typeof rowTenantId !== 'string' || rowTenantId === '' || rowTenantId !== key.tenantId) {
    throw new CorruptRecordError(
      rowTenantId === '' || rowTenantId == null
        ? 'stored row has an empty tenant_id'
        : 'stored row belongs to another tenant',
      { backend },
    );
  }
}
