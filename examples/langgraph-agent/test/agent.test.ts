import { describe, expect, it } from 'vitest';
import { expectTheWholeStory, runAgent } from './transcript.js';

// No server: a URL in this environment must not change what the agent does.
const NO_SERVERS = { DATABASE_URL: '', REDIS_URL: '' };

describe('the LangGraph agent example', () => {
  it.each([
    ['pglite, the default', [], 'backend: PGlite: Postgres compiled to WebAssembly'],
    ['memory', ['--backend', 'memory'], 'backend: memory (this process only)'],
  ])(
    'tells the whole story on %s, with no server',
    (_, args, backend) => {
      const { status, stdout, stderr } = runAgent(args, NO_SERVERS);
      expect(stderr).toBe('');
      expect(status).toBe(0);
      expect(stdout).toContain(backend);
      expectTheWholeStory(stdout);
    },
    60_000,
  );

  it('says how it runs with --help, and runs nothing', () => {
    const { status, stdout, stderr } = runAgent(['--help']);
    expect(stderr).toBe('');
    expect(status).toBe(0);
    expect(stdout).toMatch(/^usage: npm start -w @entelix\/example-langgraph-agent -- \[options\]/);
    expect(stdout).not.toContain('LangGraph support agent');
  });

  it.each([
    [
      ['--backend', 'cassandra'],
      'unknown backend "cassandra"; available: pglite, memory, postgres, redis',
    ],
    [
      ['--backend', 'postgres'],
      '--backend postgres needs a server: pass --database-url <url> or set DATABASE_URL, e.g. --database-url postgres://postgres@127.0.0.1:5432/postgres',
    ],
    [
      ['--backend', 'redis'],
      '--backend redis needs a server: pass --redis-url <url> or set REDIS_URL, e.g. --redis-url redis://127.0.0.1:6379',
    ],
    [
      ['--backend', 'postgres', '--database-url', 'mysql://app:secret@db/app'],
      '--database-url must be a postgres:// or postgresql:// URL such as postgres://postgres@127.0.0.1:5432/postgres, got "mysql://app:***@db/app"',
    ],
    [
      ['--backend', 'redis', '--redis-url', '127.0.0.1:6379'],
      '--redis-url must be a redis:// or rediss:// URL such as redis://127.0.0.1:6379, got "127.0.0.1:6379"',
    ],
    [
      ['--database-url', 'postgres://127.0.0.1/app'],
      '--database-url is for --backend postgres, not pglite',
    ],
    [
      ['--backend', 'memory', '--redis-url', 'redis://127.0.0.1'],
      '--redis-url is for --backend redis, not memory',
    ],
    [['--verbose'], "Unknown option '--verbose' (see --help)"],
  ])('refuses %j in one line', (args, message) => {
    const { status, stdout, stderr } = runAgent(args, NO_SERVERS);
    expect(status).toBe(1);
    expect(stdout).toBe('');
    expect(stderr.trim().split('\n')).toEqual([`langgraph-agent: ${message}`]);
  });

  it('reads a server URL from the environment, and checks it too', () => {
    const { status, stderr } = runAgent(['--backend', 'postgres'], { DATABASE_URL: 'db.internal' });
    expect(status).toBe(1);
    expect(stderr.trim()).toBe(
      'langgraph-agent: DATABASE_URL must be a postgres:// or postgresql:// URL such as postgres://postgres@127.0.0.1:5432/postgres, got "db.internal"',
    );
  });

  it.each([
    [
      'postgres',
      '--database-url',
      'postgres://nobody:secret@127.0.0.1:1/none',
      'postgres://nobody:***@127.0.0.1:1/none',
    ],
    ['redis', '--redis-url', 'redis://127.0.0.1:1', 'redis://127.0.0.1:1'],
  ])(
    'names a %s server it cannot reach in one line, without its password',
    (backend, option, url, shown) => {
      const { status, stdout, stderr } = runAgent(['--backend', backend, option, url], NO_SERVERS);
      expect(status).toBe(1);
      expect(stdout).toBe('');
      expect(stderr.trim().split('\n')).toHaveLength(1);
      expect(stderr).toContain(`langgraph-agent: cannot open ${shown}: `);
      expect(stderr).toContain('ECONNREFUSED');
      expect(stderr).not.toContain('secret');
    },
    30_000,
  );
});
