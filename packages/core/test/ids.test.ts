import {
  CheckpointId,
  InvalidIdError,
  Namespace,
  TenantId,
  ThreadId,
  ThreadKey,
} from '@entelix/core';
import { assertRowTenant, validateId, validatePath } from '@entelix/core/adapter';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const LEGAL = [
  ':',
  '%',
  '_',
  '*',
  '{',
  '}',
  '\\',
  '/',
  '__proto__',
  'constructor',
  '🦀',
  'a:b\\c',
  ' ',
  'x'.repeat(256),
  'é'.repeat(128),
  '🦀'.repeat(64),
];
const ILLEGAL: [string, unknown][] = [
  ['empty', ''],
  ['257 bytes', 'x'.repeat(257)],
  ['257 bytes of two-byte chars', `${'é'.repeat(128)}x`],
  ['NUL', 'a\u0000b'],
  ['lone high surrogate', 'a\ud800'],
  ['lone low surrogate', '\udc00b'],
  ['number', 42],
  ['null', null],
  ['undefined', undefined],
  ['object', { toString: () => 'x' }],
];

/** Any legal id: non-empty, well-formed, no NUL, at most 256 UTF-8 bytes. */
export const legalId = fc
  .string({ unit: 'grapheme', minLength: 1, maxLength: 40 })
  .filter((s) => !s.includes('\u0000') && new TextEncoder().encode(s).byteLength <= 256);

describe('validatePath', () => {
  it("accepts '' and up to 1024 UTF-8 bytes, refuses NUL, lone surrogates and more", () => {
    expect(validatePath('', 'ns')).toBe('');
    expect(validatePath('a|b:c', 'ns')).toBe('a|b:c');
    expect(validatePath('é'.repeat(512), 'ns')).toHaveLength(512);
    for (const bad of ['é'.repeat(513), 'a\u0000', '\ud800', 1, null]) {
      expect(() => validatePath(bad, 'ns')).toThrow(
        expect.objectContaining({ code: 'INVALID_ID' }),
      );
    }
  });
});

describe('validateId', () => {
  it.each(LEGAL)('accepts %j', (value) => {
    expect(validateId(value, 'id')).toBe(value);
    expect(TenantId.parse(value)).toBe(value);
    expect(ThreadId.parse(value)).toBe(value);
  });

  it.each(ILLEGAL)('rejects %s with INVALID_ID', (_label, value) => {
    const parsers = [
      () => TenantId.parse(value),
      () => ThreadId.parse(value),
      () => validateId(value, 'key'),
    ];
    for (const parse of parsers) {
      expect(parse).toThrow(expect.objectContaining({ code: 'INVALID_ID' }));
    }
    try {
      TenantId.parse(value);
    } catch (error) {
      expect(InvalidIdError.isInstance(error)).toBe(true);
    }
  });
});

describe('ThreadKey', () => {
  it('is a frozen plain object of both ids', () => {
    const key = ThreadKey.of('tenant', 'thread');
    expect(key).toEqual({ tenantId: 'tenant', threadId: 'thread' });
    expect(Object.isFrozen(key)).toBe(true);
  });

  it('rejects an empty tenant or thread', () => {
    expect(() => ThreadKey.of('', 't')).toThrow(expect.objectContaining({ code: 'INVALID_ID' }));
    expect(() => ThreadKey.of('t', '')).toThrow(expect.objectContaining({ code: 'INVALID_ID' }));
  });

  it('re-validates keys cast past the types', () => {
    expect(() => ThreadKey.from({ tenantId: '', threadId: 'x' })).toThrow(
      expect.objectContaining({ code: 'INVALID_ID' }),
    );
    expect(() => ThreadKey.from(null)).toThrow(expect.objectContaining({ code: 'INVALID_ID' }));
    expect(ThreadKey.from({ tenantId: 'a', threadId: 'b', extra: 1 })).toEqual({
      tenantId: 'a',
      threadId: 'b',
    });
  });

  it('renders injectively', () => {
    const a = ThreadKey.render(ThreadKey.of('a:b', 'c'));
    const b = ThreadKey.render(ThreadKey.of('a', 'b:c'));
    expect(a).not.toBe(b);
    fc.assert(
      fc.property(legalId, legalId, legalId, legalId, (t1, h1, t2, h2) => {
        const same = t1 === t2 && h1 === h2;
        const rendered1 = ThreadKey.render(ThreadKey.of(t1, h1));
        const rendered2 = ThreadKey.render(ThreadKey.of(t2, h2));
        expect(rendered1 === rendered2).toBe(same);
      }),
    );
  });
});

describe('Namespace', () => {
  it('needs at least one scope part', () => {
    expect(() => Namespace.of('tenant')).toThrow(expect.objectContaining({ code: 'INVALID_ID' }));
  });

  it('validates the tenant and every part', () => {
    expect(() => Namespace.of('', 'a')).toThrow(expect.objectContaining({ code: 'INVALID_ID' }));
    expect(() => Namespace.of('t', 'a', '')).toThrow(
      expect.objectContaining({ code: 'INVALID_ID' }),
    );
    expect(() => Namespace.of('t', 'a\u0000')).toThrow(
      expect.objectContaining({ code: 'INVALID_ID' }),
    );
  });

  it('is frozen, scope included', () => {
    const ns = Namespace.of('t', 'a', 'b');
    expect(Object.isFrozen(ns)).toBe(true);
    expect(Object.isFrozen(ns.scope)).toBe(true);
    expect(ns.render()).toBe('t:a:b');
  });

  it('escapes backslash and colon', () => {
    expect(Namespace.of('t:1', 'a\\', 'b').render()).toBe('t\\:1:a\\\\:b');
  });

  it('parse(render(ns)) round-trips for every legal input', () => {
    fc.assert(
      fc.property(legalId, fc.array(legalId, { minLength: 1, maxLength: 5 }), (tenant, scope) => {
        const ns = Namespace.of(tenant, ...scope);
        const parsed = Namespace.parse(ns.render());
        expect(parsed.tenantId).toBe(tenant);
        expect(parsed.scope).toEqual(scope);
        expect(parsed.render()).toBe(ns.render());
      }),
      { numRuns: 500 },
    );
  });

  it('rejects malformed renderings', () => {
    for (const bad of ['t', 't:', ':a', 't:a\\', 't:a\\x', 't::a', 42]) {
      expect(() => Namespace.parse(bad as string)).toThrow(
        expect.objectContaining({ code: 'INVALID_ID' }),
      );
    }
  });
});

describe('CheckpointId', () => {
  it('creates UUIDv7 ids in strictly increasing order', () => {
    const ids = Array.from({ length: 10_000 }, () => CheckpointId.create());
    for (const id of ids) {
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    }
    const sorted = [...ids].sort();
    expect(sorted).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('embeds the creation time', () => {
    const before = Date.now();
    const id = CheckpointId.create();
    const ms = Number.parseInt(id.replaceAll('-', '').slice(0, 12), 16);
    expect(ms).toBeGreaterThanOrEqual(before);
    expect(ms).toBeLessThanOrEqual(Date.now() + 1);
  });

  it('parses any canonical UUID, lowercased', () => {
    expect(CheckpointId.parse('0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B')).toBe(
      '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b',
    );
  });

  it.each([
    '',
    'not-a-uuid',
    '0190a1b2c3d47e5f8a9b0c1d2e3f4a5b',
    '{0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b}',
    7,
  ])('rejects %j', (value) => {
    expect(() => CheckpointId.parse(value)).toThrow(
      expect.objectContaining({ code: 'INVALID_ID' }),
    );
  });
});

describe('assertRowTenant', () => {
  const key = ThreadKey.of('tenant-a', 'thread');
  it('accepts the asking tenant', () => {
    expect(() => assertRowTenant('tenant-a', key, 'test')).not.toThrow();
  });
  it.each(['', null, undefined, 'tenant-b'])('rejects %j with CORRUPT_RECORD', (row) => {
    expect(() => assertRowTenant(row, key, 'test')).toThrow(
      expect.objectContaining({ code: 'CORRUPT_RECORD' }),
    );
  });
});
