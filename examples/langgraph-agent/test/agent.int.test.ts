import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithService } from '../../../test-support/services.js';
import { expectTheWholeStory, runAgent } from './transcript.js';

describeWithService('DATABASE_URL', 'the LangGraph agent on a Postgres server', (url) => {
  const admin = new pg.Pool({ connectionString: url, max: 1 });
  // A role that forced row-level security binds, allowed to create the run's schema.
  const boundRole = `entelix_agent_it_${crypto.randomUUID().replaceAll('-', '').slice(0, 8)}`;
  beforeAll(async () => {
    const database = (await admin.query('SELECT current_database() AS name')).rows[0].name;
    await admin.query(`CREATE ROLE ${boundRole} LOGIN NOSUPERUSER NOBYPASSRLS;
      GRANT CREATE ON DATABASE "${database}" TO ${boundRole}`);
  });
  afterAll(async () => {
    await admin.query(`DROP OWNED BY ${boundRole}; DROP ROLE ${boundRole}`);
    await admin.end();
  });

  const exists = async (catalog: 'pg_namespace' | 'pg_roles', name: string) => {
    const column = catalog === 'pg_roles' ? 'rolname' : 'nspname';
    const found = await admin.query(`SELECT 1 FROM ${catalog} WHERE ${column} = $1`, [name]);
    return found.rows.length > 0;
  };

  it('runs every step as a throwaway application role when given a superuser, then drops its schema and role', async () => {
    const { status, stdout, stderr } = runAgent(['--backend', 'postgres'], { DATABASE_URL: url });
    expect(stderr).toBe('');
    expect(status).toBe(0);
    const [, schema, role] =
      /schema (entelix_agent_[0-9a-f]{8}), as (entelix_agent_app_[0-9a-f]{8}): a throwaway application role/.exec(
        stdout,
      ) ?? [];
    expect(schema).toBeDefined();
    expect(stdout).toContain('capabilities.rls = true');
    expectTheWholeStory(stdout);
    expect(await exists('pg_namespace', schema as string)).toBe(false);
    expect(await exists('pg_roles', role as string)).toBe(false);
  });

  it('runs as the given role when row-level security binds it, and drops its schema', async () => {
    const bound = new URL(url);
    bound.username = boundRole;
    bound.password = '';
    const { status, stdout, stderr } = runAgent(
      ['--backend', 'postgres', '--database-url', bound.toString()],
      { DATABASE_URL: '' },
    );
    expect(stderr).toBe('');
    expect(status).toBe(0);
    const schema = new RegExp(
      `schema (entelix_agent_[0-9a-f]{8}), as ${boundRole}, which forced row-level security binds; capabilities.rls = true`,
    ).exec(stdout)?.[1];
    expect(schema).toBeDefined();
    expectTheWholeStory(stdout);
    expect(await exists('pg_namespace', schema as string)).toBe(false);
  });
});

describeWithService('REDIS_URL', 'the LangGraph agent on a Redis server', (url) => {
  const redis = new Redis(url);
  afterAll(async () => {
    await redis.quit();
  });

  const keysUnder = async (prefix: string) => {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, page] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1_000);
      keys.push(...page);
      cursor = next;
    } while (cursor !== '0');
    return keys;
  };

  it.each([
    ['--redis-url', ['--backend', 'redis', '--redis-url', url], { REDIS_URL: '' }],
    ['REDIS_URL', ['--backend', 'redis'], { REDIS_URL: url }],
  ])('runs every step with the server from %s, then removes its keys', async (_, args, env) => {
    const { status, stdout, stderr } = runAgent(args, env);
    expect(stderr).toBe('');
    expect(status).toBe(0);
    const prefix = /key prefix (entelix-agent-[0-9a-f]{8})/.exec(stdout)?.[1];
    expect(prefix).toBeDefined();
    expectTheWholeStory(stdout);
    expect(await keysUnder(prefix as string)).toEqual([]);
  });
});
