import { Namespace, ThreadKey } from '@entelix/core';
import { compareScopes, startsWithScope } from '@entelix/core/adapter';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  clusterSlot,
  decodeComponent,
  decodeScope,
  decodeScopeMember,
  decodeStoreKey,
  decodeThreadMember,
  encodeComponent,
  encodeScope,
  encodeScopeMember,
  encodeStoreKey,
  encodeThreadMember,
  hashTagOf,
  KeyLayout,
} from '../src/keys.js';

// Legal ids: non-empty, no U+0000, well-formed, at most 256 UTF-8 bytes. Heavy on the
// characters that matter to Redis keys and globs.
const special = fc.constantFrom(
  '{',
  '}',
  ':',
  '*',
  '?',
  '[',
  ']',
  '\\',
  '%',
  '_',
  '%3A',
  '😀',
  '\uffff',
);
const legalId = fc
  .array(fc.oneof(special, fc.string({ unit: 'grapheme', minLength: 1, maxLength: 3 })), {
    minLength: 1,
    maxLength: 12,
  })
  .map((parts) => parts.join('').replaceAll('\u0000', 'x'))
  .filter((s) => s.length > 0 && s.isWellFormed() && Buffer.byteLength(s) <= 256);

const threadKey = fc
  .tuple(legalId, legalId)
  .map(([tenant, thread]) => ThreadKey.of(tenant, thread));
const layout = new KeyLayout('entelix');

function threadKeyList(key: ThreadKey): string[] {
  const { tag: _tag, ...keys } = layout.thread(key);
  return Object.values(keys);
}

describe('key encoding', () => {
  it('encodes every component injectively, into an alphabet without { } : * ? [ ] \\', () => {
    fc.assert(
      fc.property(legalId, legalId, (a, b) => {
        const encodedA = encodeComponent(a);
        expect(encodedA).toMatch(/^[A-Za-z0-9.%-]+$/);
        expect(decodeComponent(encodedA)).toBe(a);
        if (a !== b) expect(encodeComponent(b)).not.toBe(encodedA);
      }),
      { numRuns: 500 },
    );
  });

  it('gives distinct threads distinct keys, also when ids contain the separator', () => {
    const tricky = [ThreadKey.of('a:b', 'c'), ThreadKey.of('a', 'b:c'), ThreadKey.of('a%3Ab', 'c')];
    const all = tricky.flatMap(threadKeyList);
    expect(new Set(all).size).toBe(all.length);
    fc.assert(
      fc.property(threadKey, threadKey, (a, b) => {
        const keysA = threadKeyList(a);
        const keysB = threadKeyList(b);
        if (ThreadKey.equals(a, b)) expect(keysB).toEqual(keysA);
        else for (const key of keysB) expect(keysA).not.toContain(key);
      }),
      { numRuns: 500 },
    );
  });

  it('maps every key of one thread to one cluster slot through its hash tag', () => {
    fc.assert(
      fc.property(threadKey, (key) => {
        const keys = layout.thread(key);
        const slots = new Set(threadKeyList(key).map(clusterSlot));
        expect(slots.size).toBe(1);
        for (const each of threadKeyList(key)) expect(hashTagOf(each)).toBe(keys.tag);
      }),
      { numRuns: 500 },
    );
  });

  it('maps every key of one store namespace to one slot, and round-trips its scope', () => {
    fc.assert(
      fc.property(legalId, fc.array(legalId, { minLength: 1, maxLength: 4 }), (tenant, scope) => {
        const namespace = Namespace.of(tenant, ...scope);
        const { tag, ...keys } = layout.namespace(namespace);
        const slots = new Set(Object.values(keys).map(clusterSlot));
        expect(slots.size).toBe(1);
        expect(decodeScope(encodeScope(scope))).toEqual(scope);
        expect(tag.split(':')).toHaveLength(scope.length + 1);
      }),
      { numRuns: 300 },
    );
  });

  it('computes Redis Cluster slots (CRC16/XMODEM mod 16384)', () => {
    // Reference values from the Redis Cluster specification and `CLUSTER KEYSLOT`.
    expect(clusterSlot('123456789')).toBe(0x31c3);
    expect(clusterSlot('foo')).toBe(12182);
    expect(clusterSlot('{user1000}.following')).toBe(clusterSlot('{user1000}.followers'));
    expect(clusterSlot('foo{}{bar}')).toBe(clusterSlot('foo{}{bar}'));
    expect(hashTagOf('foo{}{bar}')).toBe('foo{}{bar}');
    expect(hashTagOf('foo{{bar}}zap')).toBe('{bar');
  });

  it('keeps store keys in code-point order as hex', () => {
    fc.assert(
      fc.property(legalId, legalId, (a, b) => {
        const byBytes = Buffer.compare(Buffer.from(a), Buffer.from(b));
        const byHex =
          encodeStoreKey(a) < encodeStoreKey(b)
            ? -1
            : encodeStoreKey(a) > encodeStoreKey(b)
              ? 1
              : 0;
        expect(byHex).toBe(byBytes);
        expect(decodeStoreKey(encodeStoreKey(a))).toBe(a);
      }),
      { numRuns: 500 },
    );
  });

  it('encodes a string of any length as the hex of its UTF-8, on either side of the short-key path', () => {
    for (const length of [0, 1, 31, 32, 33, 64, 1_000, 100_000]) {
      for (const text of ['k'.repeat(length), `${'k'.repeat(length)}é`, `é${'k'.repeat(length)}`]) {
        expect(encodeStoreKey(text)).toBe(Buffer.from(text, 'utf8').toString('hex'));
        expect(decodeStoreKey(encodeStoreKey(text))).toBe(text);
      }
    }
  });
});

describe('index members', () => {
  const scope = fc.array(legalId, { minLength: 1, maxLength: 3 });

  it('scope members sort like scopes and a prefix of whole parts is a lex range', () => {
    fc.assert(
      fc.property(scope, scope, (a, b) => {
        const [x, y] = [encodeScopeMember(a), encodeScopeMember(b)];
        // Byte order of ASCII members: what ZRANGEBYLEX uses, on Redis and the mock.
        const order = x < y ? -1 : x > y ? 1 : 0;
        expect(order).toBe(Math.sign(compareScopes(a, b)));
        expect(y.startsWith(x)).toBe(startsWithScope(b, a));
        expect(decodeScopeMember(x)).toEqual(a);
      }),
    );
  });

  it('thread members invert exactly', () => {
    fc.assert(
      fc.property(legalId, (id) => {
        expect(decodeThreadMember(encodeThreadMember(id))).toBe(id);
      }),
    );
  });

  it.each([
    ['empty', ''],
    ['unterminated', '61'],
    ['an empty part', '61..'],
    ['uppercase hex', '4A.'],
    ['bytes that are not UTF-8', 'ff.'],
    ['a NUL part', '00.'],
  ])('a scope member that is %s is CORRUPT_RECORD', (_, member) => {
    expect(() => decodeScopeMember(member)).toThrow(
      expect.objectContaining({ code: 'CORRUPT_RECORD' }),
    );
  });
});
