import { ConfigError, CorruptRecordError, type Namespace, type ThreadKey } from '@entelix/core';
import { validateId } from '@entelix/core/adapter';

/**
 * Key layout. Every Redis key is `<prefix>:<kind>:{<tag>}:<part>`, where the tag is
 * made of encoded id components joined by `:`. Encoded components never contain
 * `{ } : * ? [ ] \`, so
 * - the tag is the whole `{...}` section and every key of one thread (or one store
 *   namespace, or one tenant's namespace index) hashes to one Cluster slot;
 * - `:` separates components unambiguously, so distinct ids never share a key
 *   (the reference's `tenant:thread` let `a:b`+`c` collide with `a`+`b:c`);
 * - no key is a glob pattern by accident.
 */

/** Default `keyPrefix`. */
export const DEFAULT_KEY_PREFIX = 'entelix';

// Letters, digits, `_`, `.` and `-`: no `:` (so one prefix is never another's key),
// no `{`/`}` (the prefix sits outside the hash tag), no glob characters.
const KEY_PREFIX_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

/** Validate the `keyPrefix` option. */
export function readKeyPrefix(value: unknown): string {
  if (value === undefined) return DEFAULT_KEY_PREFIX;
  if (typeof value !== 'string' || !KEY_PREFIX_PATTERN.test(value)) {
    throw new ConfigError('keyPrefix must be 1-64 characters of A-Z a-z 0-9 _ . -', {
      backend: 'redis',
    });
  }
  return value;
}

/**
 * Encode one id component: UTF-8 percent-encoding where only `A-Z a-z 0-9 - .` stay
 * literal. Injective (decodeURIComponent inverts it) and pure ASCII. `_` is escaped
 * too, so no encoded component is `__proto__`: ioredis-mock keeps hash fields in plain
 * objects, where that field would vanish.
 */
export function encodeComponent(value: string): string {
  if (LITERAL_COMPONENT.test(value)) return value;
  return encodeURIComponent(value).replace(
    /[!'()*~_]/g,
    (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

const LITERAL_COMPONENT = /^[A-Za-z0-9.-]*$/;

/**
 * Invert {@link encodeComponent}. An index entry is read back with this, so anything
 * `encodeComponent` would not have written for a legal id (a broken escape, the encoding
 * of an empty or NUL-holding id, a character escaped that needs no escape) is
 * `CORRUPT_RECORD`, naming `what` it was meant to be.
 */
export function decodeComponent(encoded: string, what = 'id'): string {
  let id: string;
  try {
    id = validateId(decodeURIComponent(encoded), what);
  } catch (cause) {
    throw unreadable(encoded, what, cause);
  }
  if (encodeComponent(id) !== encoded) throw unreadable(encoded, what, undefined);
  return id;
}

function unreadable(encoded: string, what: string, cause: unknown): CorruptRecordError {
  return new CorruptRecordError(`${JSON.stringify(encoded)} is not an encoded ${what}`, {
    cause,
    backend: 'redis',
  });
}

/**
 * Store keys are kept in sorted sets and hashes as lowercase hex of their UTF-8
 * bytes: hex order is byte order, which is code-point order, on real Redis and on
 * ioredis-mock alike (the mock compares JavaScript strings, i.e. UTF-16 units), and
 * a literal prefix becomes the range `[hex(prefix)` .. `(hex(prefix)g`.
 */
export function encodeStoreKey(key: string): string {
  // A short ASCII key by hand (the usual case), the rest through a Buffer: concatenating
  // two characters at a time is quicker than a Buffer for a key, and over a thousand
  // times slower for a string field of megabytes (the field index encodes those too).
  if (key.length > SHORT_KEY) return Buffer.from(key, 'utf8').toString('hex');
  let hex = '';
  for (let i = 0; i < key.length; i++) {
    const code = key.charCodeAt(i);
    if (code >= 0x80) return Buffer.from(key, 'utf8').toString('hex');
    hex += HEX_BYTES[code];
  }
  return hex;
}

const HEX_BYTES = Array.from({ length: 128 }, (_, b) => b.toString(16).padStart(2, '0'));
const SHORT_KEY = 32;

/** Invert {@link encodeStoreKey}; `hex` is `text[start, end)`. */
export function decodeStoreKey(text: string, start = 0, end = text.length): string {
  // ASCII by hand, the rest through a Buffer.
  let key = '';
  for (let i = start; i < end; i += 2) {
    const high = HEX_VALUES[text.charCodeAt(i)] ?? 16;
    const low = HEX_VALUES[text.charCodeAt(i + 1)] ?? 16;
    if (high > 7 || low > 15) return Buffer.from(text.slice(start, end), 'hex').toString('utf8');
    key += String.fromCharCode(high * 16 + low);
  }
  return key;
}

// Lowercase hex digit values by character code; 16 for anything else.
const HEX_VALUES = Uint8Array.from({ length: 128 }, (_, code) => {
  const value = '0123456789abcdef'.indexOf(String.fromCharCode(code));
  return value === -1 ? 16 : value;
});

/** A thread id as a member of a tenant's thread index: hex of its UTF-8. */
export function encodeThreadMember(threadId: string): string {
  return encodeStoreKey(threadId);
}

/**
 * Invert {@link encodeThreadMember} strictly: anything it would not have written for
 * a legal id (odd length, a non-hex or uppercase digit, bytes that are not UTF-8) is
 * `CORRUPT_RECORD`.
 */
export function decodeThreadMember(member: string): string {
  let id: string | undefined;
  if (/^(?:[0-9a-f]{2})+$/.test(member)) {
    const decoded = decodeStoreKey(member);
    if (encodeStoreKey(decoded) === member) id = decoded;
  }
  try {
    if (id === undefined) throw new Error('not the hex of UTF-8 text');
    return validateId(id, 'thread id');
  } catch (cause) {
    throw unreadable(member, 'thread id', cause);
  }
}

/**
 * A scope as a member of the tenant's namespace order: each part as hex of its UTF-8
 * followed by `.`. Hex is byte order and `.` sorts before every hex digit, so members
 * sort exactly like scopes (part by part in code-point order, a proper prefix first),
 * and the namespaces under a prefix of whole parts are the members starting with the
 * prefix's own member.
 */
export function encodeScopeMember(scope: readonly string[]): string {
  let member = '';
  for (const part of scope) member += `${encodeStoreKey(part)}.`;
  return member;
}

/** Invert {@link encodeScopeMember} strictly; `CORRUPT_RECORD` for what it would not write. */
export function decodeScopeMember(member: string): string[] {
  if (!/^(?:(?:[0-9a-f]{2})+\.)+$/.test(member)) {
    throw unreadable(member, 'namespace scope', undefined);
  }
  const parts = member.slice(0, -1).split('.');
  return parts.map((part) => {
    const decoded = decodeStoreKey(part);
    try {
      if (encodeStoreKey(decoded) !== part) throw new Error('not the hex of UTF-8 text');
      return validateId(decoded, 'namespace scope part');
    } catch (cause) {
      throw unreadable(member, 'namespace scope', cause);
    }
  });
}

/** The encoded scope of a namespace, as stored in the tenant's namespace index. */
export function encodeScope(scope: readonly string[]): string {
  return scope.map(encodeComponent).join(':');
}

/** Invert {@link encodeScope}; `CORRUPT_RECORD` for what it would not have written. */
export function decodeScope(encoded: string): string[] {
  return encoded.split(':').map((part) => decodeComponent(part, 'namespace scope part'));
}

/** Keys of one thread: checkpoints, session log and lock share the thread's slot. */
export interface ThreadKeys {
  /** The hash tag (without braces) shared by every key below. */
  readonly tag: string;
  /** Registration tokens: present while the thread is listed in its tenant's checkpoint threads. */
  readonly checkpointRegistration: string;
  /** The thread's write-order counter, across its namespaces. */
  readonly checkpointSequence: string;
  /** Sorted set of record fields (`encodedNs:id`) by write order. */
  readonly checkpointOrder: string;
  /** Hash of record field to checkpoint record. */
  readonly checkpointData: string;
  /** Hash of record field to the metadata filter index (see scripts/checkpointer.ts). */
  readonly checkpointFilters: string;
  /** Sorted set of the pending writes of every checkpoint, one lex range per checkpoint. */
  readonly checkpointWrites: string;
  /** Sorted set of `id:seq`, one per checkpoint: where each id was written first. */
  readonly checkpointIds: string;
  readonly logHead: string;
  readonly logEvents: string;
  readonly lockLease: string;
  readonly lockFence: string;
}

/** Keys of one thread's checkpoints. */
export interface CheckpointKeys {
  readonly checkpointRegistration: string;
  readonly checkpointSequence: string;
  readonly checkpointOrder: string;
  readonly checkpointData: string;
  readonly checkpointFilters: string;
  readonly checkpointWrites: string;
  readonly checkpointIds: string;
}

/** Keys of one store namespace. */
export interface NamespaceKeys {
  readonly tag: string;
  /** Registration token: present while the namespace is listed in the tenant index. */
  readonly registration: string;
  /** Sorted set (all scores 0) of hex-encoded item keys, for ordered listing. */
  readonly itemKeys: string;
  /** Sorted set of hex-encoded item key by `expiresAt` (only items with a TTL). */
  readonly expiry: string;
  /**
   * Each item is a string key of its own, this prefix followed by the hex-encoded item
   * key, so Redis expires an item with a TTL by itself.
   */
  readonly itemPrefix: string;
}

/** Builds every key under one prefix. */
export class KeyLayout {
  constructor(readonly prefix: string) {}

  private key(kind: string, tag: string, part: string): string {
    return `${this.prefix}:${kind}:{${tag}}:${part}`;
  }

  thread(key: ThreadKey): ThreadKeys {
    const tag = threadTag(key);
    return {
      tag,
      ...this.checkpoint(key),
      logHead: this.key('log', tag, 'head'),
      logEvents: this.key('log', tag, 'events'),
      lockLease: this.key('lock', tag, 'lease'),
      lockFence: this.key('lock', tag, 'fence'),
    };
  }

  /** The checkpoint keys of a thread alone (the common case, without the others). */
  checkpoint(key: ThreadKey): CheckpointKeys {
    const tag = threadTag(key);
    return {
      checkpointRegistration: this.key('cp', tag, 'reg'),
      checkpointSequence: this.key('cp', tag, 'seq'),
      checkpointOrder: this.key('cp', tag, 'order'),
      checkpointData: this.key('cp', tag, 'data'),
      checkpointFilters: this.key('cp', tag, 'filters'),
      checkpointWrites: this.key('cp', tag, 'writes'),
      checkpointIds: this.key('cp', tag, 'ids'),
    };
  }

  /** The fence counter and lease of a thread's lock. */
  lock(key: ThreadKey): { readonly lease: string; readonly fence: string } {
    const tag = threadTag(key);
    return { lease: this.key('lock', tag, 'lease'), fence: this.key('lock', tag, 'fence') };
  }

  /** The session-log keys of a thread alone. */
  log(key: ThreadKey): { readonly head: string; readonly events: string } {
    const tag = threadTag(key);
    return { head: this.key('log', tag, 'head'), events: this.key('log', tag, 'events') };
  }

  namespace(namespace: Namespace): NamespaceKeys {
    const tag = namespaceTag(namespace);
    return {
      tag,
      registration: this.key('ns', tag, 'reg'),
      itemKeys: this.key('ns', tag, 'keys'),
      expiry: this.key('ns', tag, 'expiry'),
      itemPrefix: this.key('ns', tag, 'item:'),
    };
  }

  /** The key of one item, `field` being its hex-encoded key (see `encodeStoreKey`). */
  storeItem(namespace: Namespace, field: string): string {
    return this.key('ns', namespaceTag(namespace), `item:${field}`);
  }

  /**
   * Sorted set (all scores 0) of the same namespaces as {@link namespaceIndex}, as
   * {@link encodeScopeMember}s: in scope order, with every namespace under a prefix in
   * one lex range, for `search`. Changed in the same scripts as the index.
   */
  namespaceOrder(tenantId: string): string {
    return this.key('nsidx', encodeComponent(tenantId), 'order');
  }

  /** Hash of encoded scope to registration tokens: the tenant's namespaces. */
  namespaceIndex(tenantId: string): string {
    return this.key('nsidx', encodeComponent(tenantId), 'scopes');
  }

  /**
   * The tenant's registration tokens, beside its namespace index: present while that
   * index lists a namespace (see scripts/store.ts).
   */
  tenantRegistration(tenantId: string): string {
    return this.key('nsidx', encodeComponent(tenantId), 'reg');
  }

  /**
   * The tenant's thread indexes, in the tenant's slot: sorted sets (all scores 0) of
   * hex-encoded thread ids (see {@link encodeThreadMember}), so byte order is
   * code-point order. `checkpointThreads` lists the threads holding a checkpoint, with
   * `checkpointThreadTokens` (member to registration tokens) beside it; `logThreads`
   * the threads that ever held an event and `lockThreads` the threads whose lock was
   * ever granted: their heads and fence counters are never deleted, so neither are
   * their entries.
   */
  tenantThreads(tenantId: string): {
    readonly checkpointThreads: string;
    readonly checkpointThreadTokens: string;
    readonly logThreads: string;
    readonly lockThreads: string;
  } {
    const tag = encodeComponent(tenantId);
    return {
      checkpointThreads: this.key('threads', tag, 'cp'),
      checkpointThreadTokens: this.key('threads', tag, 'cp-reg'),
      logThreads: this.key('threads', tag, 'log'),
      lockThreads: this.key('threads', tag, 'lock'),
    };
  }

  /**
   * Hash of encoded tenant id to registration tokens: the tenants with a store
   * namespace, so that `evictExpired()` can reach every tenant without scanning the
   * keyspace.
   */
  storeTenants(): string {
    return `${this.prefix}:tenants`;
  }
}

function namespaceTag(namespace: Namespace): string {
  return `${encodeComponent(namespace.tenantId)}:${encodeScope(namespace.scope)}`;
}

function threadTag(key: ThreadKey): string {
  return `${encodeComponent(key.tenantId)}:${encodeComponent(key.threadId)}`;
}

/** The Redis Cluster slot of a key: CRC16 (XMODEM) of its hash tag, mod 16384. */
export function clusterSlot(key: string): number {
  const bytes = Buffer.from(hashTagOf(key), 'utf8');
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
  }
  return crc % 16384;
}

/** The part of a key Redis Cluster hashes: the first non-empty `{...}`, else the key. */
export function hashTagOf(key: string): string {
  const open = key.indexOf('{');
  if (open === -1) return key;
  const close = key.indexOf('}', open + 1);
  if (close === -1 || close === open + 1) return key;
  return key.slice(open + 1, close);
}
