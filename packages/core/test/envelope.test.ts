import type { Codec, JsonValue } from '@entelix/core';
import { createPayloadFormat } from '@entelix/core/adapter';
import { describe, expect, it } from 'vitest';

describe('payload envelope', () => {
  it('wraps state as { schema_version: 1, state }', () => {
    const format = createPayloadFormat<{ a: number }>(undefined, 'test');
    const text = format.encode({ a: 1 });
    expect(JSON.parse(text)).toEqual({ schema_version: 1, state: { a: 1 } });
    expect(format.decode(text)).toEqual({ a: 1 });
  });

  it('returns a fresh value on every decode', () => {
    const format = createPayloadFormat<{ a: number[] }>(undefined, 'test');
    const text = format.encode({ a: [1] });
    const first = format.decode(text);
    first.a.push(2);
    expect(format.decode(text)).toEqual({ a: [1] });
  });

  it('round-trips strings with escapes, NUL and astral characters', () => {
    const format = createPayloadFormat<string>(undefined, 'test');
    const value = 'a\u0000b\n"\\🦀\u2028';
    expect(format.decode(format.encode(value))).toBe(value);
  });

  it('rejects a newer schema version with SCHEMA_VERSION_MISMATCH', () => {
    const format = createPayloadFormat(undefined, 'test');
    expect(() => format.decode('{"schema_version":2,"state":1}')).toThrow(
      expect.objectContaining({ code: 'SCHEMA_VERSION_MISMATCH' }),
    );
  });

  it('lifts older versions through upcasters, in order', () => {
    const format = createPayloadFormat<{ v: number; name: string }>(
      {
        schemaVersion: 3,
        upcasters: {
          1: (state) => ({ name: state as string }),
          2: (state) => ({ ...(state as { name: string }), v: 3 }),
        },
      },
      'test',
    );
    expect(format.decode('{"schema_version":1,"state":"old"}')).toEqual({ name: 'old', v: 3 });
    expect(JSON.parse(format.encode({ v: 3, name: 'x' })).schema_version).toBe(3);
  });

  it('rejects an older version with no upcaster', () => {
    const format = createPayloadFormat({ schemaVersion: 2 }, 'test');
    expect(() => format.decode('{"schema_version":1,"state":1}')).toThrow(
      expect.objectContaining({ code: 'SCHEMA_VERSION_MISMATCH' }),
    );
  });

  it.each([
    'not json',
    '[]',
    '{"state":1}',
    '{"schema_version":0,"state":1}',
    '{"schema_version":1}',
    'null',
  ])('treats %j as CORRUPT_RECORD', (text) => {
    expect(() => createPayloadFormat(undefined, 'test').decode(text)).toThrow(
      expect.objectContaining({ code: 'CORRUPT_RECORD' }),
    );
  });

  it('runs a custom codec and checks its output is strict JSON', () => {
    const dateCodec: Codec<Date> = {
      encode: (d) => d.toISOString(),
      decode: (j: JsonValue) => new Date(j as string),
    };
    const format = createPayloadFormat({ codec: dateCodec }, 'test');
    const date = new Date('2026-01-02T03:04:05.678Z');
    expect(format.decode(format.encode(date))).toEqual(date);

    const leaky = createPayloadFormat<number>(
      { codec: { encode: (n) => n as never as JsonValue, decode: (j) => j as number } },
      'test',
    );
    expect(() => leaky.encode(Number.NaN)).toThrow(
      expect.objectContaining({
        code: 'SERIALIZATION',
        message:
          '[entelix] [test] codec.encode returned a value that is not strict JSON: at $, NaN is not finite',
      }),
    );
  });

  it('wraps codec failures as SERIALIZATION', () => {
    const format = createPayloadFormat<number>(
      {
        codec: {
          encode: () => {
            throw new TypeError('nope');
          },
          decode: () => {
            throw new TypeError('nope');
          },
        },
      },
      'test',
    );
    expect(() => format.encode(1)).toThrow(expect.objectContaining({ code: 'SERIALIZATION' }));
    expect(() => format.decode('{"schema_version":1,"state":1}')).toThrow(
      expect.objectContaining({ code: 'SERIALIZATION' }),
    );
  });

  it('rejects bad options with CONFIG', () => {
    expect(() => createPayloadFormat({ schemaVersion: 0 }, 'test')).toThrow(
      expect.objectContaining({ code: 'CONFIG' }),
    );
    expect(() => createPayloadFormat({ codec: {} as Codec<unknown> }, 'test')).toThrow(
      expect.objectContaining({ code: 'CONFIG' }),
    );
  });
});
