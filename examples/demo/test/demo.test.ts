import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const MAIN = join(import.meta.dirname, '..', 'dist', 'main.js');

function runDemo(...args: string[]) {
  return spawnSync(process.execPath, [MAIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', DATABASE_URL: '', REDIS_URL: '' },
    timeout: 60_000,
  });
}

describe('npm run demo', () => {
  it.each(['pglite', 'memory'])(
    'tells the whole story on %s',
    (backend) => {
      const { status, stdout, stderr } = runDemo('--backend', backend);
      expect(stderr).toBe('');
      expect(status).toBe(0);
      expect(stdout).toMatch(/acme\s+1\s+refused \(held\)/);
      expect(stdout).toContain('now the latest');
      expect(stdout).toMatch(/archiveBefore\(5\) removed 4 events; first kept #5, head #8/);
      expect(stdout).toContain('a new event gets #9');
      expect(stdout).toContain("stale worker's append: rejected with FENCED");
      expect(stdout).toMatch(/getById\(acme's latest …[0-9a-f]{8}\)\s+not found/);
      expect(stdout).toContain('an empty tenant id never reaches storage: INVALID_ID');
      // The page that shows #8 after #7 says why.
      expect(stdout).toMatch(/#7 node_finished\(answer\), #8 node_finished\(search\)/);
      expect(stdout).toContain('#8 is the resumed run of section 2');
      expect(stdout).toMatch(
        /acme\s+5 checkpoints, 0 pending writes, 3 memory items, 5 events erased/,
      );
      expect(stdout).toMatch(
        /globex\s+3 checkpoints, 0 pending writes, 3 memory items, 7 events erased/,
      );
      expect(stdout).toMatch(/left behind: nothing/);
      expect(stdout).toContain('the source is examples/demo/src/main.ts');
    },
    60_000,
  );

  it('says what it does with --help, and runs nothing', () => {
    const { status, stdout, stderr } = runDemo('--help');
    expect(stderr).toBe('');
    expect(status).toBe(0);
    expect(stdout).toMatch(/^usage: npm run demo -- \[--backend pglite\|memory\|postgres\|redis\]/);
    expect(stdout).toContain('Source: examples/demo/src/main.ts');
    expect(stdout).not.toContain('==');
  });

  it('explains a missing server URL in one line', () => {
    const { status, stdout, stderr } = runDemo('--backend', 'postgres');
    expect(status).toBe(1);
    expect(stdout).toBe('');
    expect(stderr.trim().split('\n')).toEqual([
      'demo: set DATABASE_URL to run on this backend, e.g. DATABASE_URL=postgres://root@127.0.0.1:5432/test',
    ]);
  });

  it('explains an unreachable server in one line', () => {
    const { status, stderr } = spawnSync(process.execPath, [MAIN, '--backend', 'postgres'], {
      encoding: 'utf8',
      env: { ...process.env, DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' },
      timeout: 60_000,
    });
    expect(status).toBe(1);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/^demo: cannot reach the backend: .*ECONNREFUSED/);
  });

  it('refuses an unknown backend', () => {
    const { status, stderr } = runDemo('--backend', 'oracle');
    expect(status).toBe(1);
    expect(stderr).toContain('--backend must be one of pglite, memory, postgres, redis');
  });
});
