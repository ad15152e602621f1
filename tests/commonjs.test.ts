import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');

// Node 20.19+ loads ES modules with require() when they have no top-level await: a
// CommonJS application gets the same packages, through the `default` export condition.
describe('a CommonJS consumer', () => {
  it.each([
    ['@entelix/core', ['ThreadKey', 'withSessionLock', 'EntelixError']],
    ['@entelix/core/adapter', ['createPersistence', 'toBackendError']],
    ['@entelix/memory', ['createMemoryPersistence']],
    ['@entelix/postgres', ['createPostgresPersistence']],
    ['@entelix/redis', ['createRedisPersistence']],
  ])('can require(%s)', (name, exported) => {
    const script = `const m = require(${JSON.stringify(name)}); process.stdout.write(JSON.stringify(Object.keys(m)));`;
    const child = spawnSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8' });
    expect(child.stderr).toBe('');
    expect(child.status).toBe(0);
    expect(JSON.parse(child.stdout)).toEqual(expect.arrayContaining(exported));
  });
});
