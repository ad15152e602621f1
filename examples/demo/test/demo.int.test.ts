import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, expect, it } from 'vitest';
import { describeWithService } from '../../../test-support/services.js';

const MAIN = join(import.meta.dirname, '..', 'dist', 'main.js');

describeWithService('DATABASE_URL', 'npm run demo -- --backend postgres', (url) => {
  const schema = `entelix_demo_it_${crypto.randomUUID().replaceAll('-', '').slice(0, 12)}`;
  afterAll(async () => {
    const admin = new pg.Pool({ connectionString: url, max: 1 });
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  });

  it('shows tenant isolation as an application role, even when given a superuser, and cleans up', async () => {
    const { status, stdout, stderr } = spawnSync(
      process.execPath,
      [MAIN, '--backend', 'postgres'],
      {
        encoding: 'utf8',
        env: { ...process.env, NO_COLOR: '1', DATABASE_URL: url, ENTELIX_DEMO_SCHEMA: schema },
        timeout: 60_000,
      },
    );
    expect(stderr).toBe('');
    expect(status).toBe(0);
    const role = /as (entelix_demo_app_[0-9a-f]{8}): a throwaway application role/.exec(
      stdout,
    )?.[1];
    expect(role).toBeDefined();
    expect(stdout).toContain('capabilities.rls = true');
    const rows =
      /SELECT count\(\*\) FROM checkpoints: (\d+) rows as the application role, (\d+) as the owner/.exec(
        stdout,
      );
    expect(rows?.[1]).toBe('0');
    expect(Number(rows?.[2])).toBeGreaterThan(0);
    expect(stdout).toMatch(/getById\(acme's latest …[0-9a-f]{8}\)\s+not found/);
    expect(stdout).toMatch(
      /acme\s+5 checkpoints, 0 pending writes, 3 memory items, 5 events erased/,
    );
    expect(stdout).toContain(`left behind: the schema ${schema}`);
    expect(stdout).toContain(`DROP SCHEMA ${schema} CASCADE`);
    const admin = new pg.Pool({ connectionString: url, max: 1 });
    try {
      const left = await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
      expect(left.rows).toEqual([]);
    } finally {
      await admin.end();
    }
  });
});
