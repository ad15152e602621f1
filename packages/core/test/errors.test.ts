import { BackendError, ConflictError, EntelixError, ErrorCode } from '@entelix/core';
import { errorClasses, toBackendError } from '@entelix/core/adapter';
import { describe, expect, it } from 'vitest';

describe('EntelixError', () => {
  it.each(Object.values(ErrorCode))('%s has one subclass recognised by isInstance', (code) => {
    const cls = errorClasses[code];
    const error = new cls('something happened', { backend: 'memory', cause: 'why' });
    expect(error.code).toBe(code);
    expect(cls.code).toBe(code);
    expect(error.cause).toBe('why');
    expect(error.message).toBe('[entelix] [memory] something happened');
    expect(EntelixError.isInstance(error)).toBe(true);
    expect(cls.isInstance(error)).toBe(true);
    for (const other of Object.values(errorClasses)) {
      if (other !== cls) expect(other.isInstance(error)).toBe(false);
    }
  });

  it('names the core backend by default', () => {
    expect(new ConflictError('x').message).toBe('[entelix] [core] x');
    expect(new ConflictError('x').name).toBe('ConflictError');
  });

  it('recognises an error built by another copy of core through the Symbol.for brand', () => {
    const foreign = Object.assign(new Error('[entelix] [other] x'), { code: 'CONFLICT' });
    Object.defineProperty(foreign, Symbol.for('@entelix/core/EntelixError'), { value: true });
    expect(EntelixError.isInstance(foreign)).toBe(true);
    expect(ConflictError.isInstance(foreign)).toBe(true);
  });

  it('does not recognise look-alikes', () => {
    expect(EntelixError.isInstance(Object.assign(new Error('x'), { code: 'CONFLICT' }))).toBe(
      false,
    );
    expect(EntelixError.isInstance(null)).toBe(false);
    expect(EntelixError.isInstance('CONFLICT')).toBe(false);
  });
});

describe('toBackendError', () => {
  it('wraps a driver error once, keeping it as cause', () => {
    const driverError = new Error('connection refused');
    const wrapped = toBackendError(driverError, 'postgres', 'getLatest');
    expect(BackendError.isInstance(wrapped)).toBe(true);
    expect(wrapped.cause).toBe(driverError);
    expect(wrapped.message).toBe('[entelix] [postgres] getLatest failed: connection refused');
    expect(toBackendError(wrapped, 'postgres', 'again')).toBe(wrapped);
  });
});
