import { Namespace } from '@entelix/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_ROLE, ensureAppRole, urlForRole } from '../../../test-support/postgres-roles.js';
import { describeWithService } from '../../../test-support/services.js';
import { runCli } from '../src/cli.js';
import {
  checkPostgresDeployment,
  createPostgresPersistence,
  LATEST_SCHEMA_VERSION,
} from '../src/index.js';
import { randomSchemaName } from './pg-support.js';

/** Roles of the documented deployment, plus one that must never be used. */
const OWNER_ROLE = 'entelix_owner_test';
const BYPASS_ROLE = 'entelix_bypass_test';
const TABLES = [
  'checkpoint_writes',
  'checkpoints',
  'locks',
  'schema_migrations',
  'session_events',
  'session_heads',
  'store_items',
];

async function ensureRole(admin: pg.Pool, role: string, attributes: string): Promise<void> {
  try {
    await admin.query(`
      DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${role}') THEN
          CREATE ROLE ${role} ${attributes};
        END IF;
      END $$`);
  } catch (error) {
    // Another test file created it between the check and the create.
    const code = (error as { code?: string }).code;
    if (code !== '42710' && code !== '23505') throw error;
  }
  // Re-assert the attributes, in case an earlier run left the role different.
  await admin.query(`ALTER ROLE ${role} ${attributes}`);
}

async function doctor(url: string, schema: string) {
  const output = { stdout: '', stderr: '' };
  const code = await runCli(
    ['doctor', '--schema', schema, '--database-url', url],
    {
      out: (text) => {
        output.stdout += text;
      },
      err: (text) => {
        output.stderr += text;
      },
    },
    {},
  );
  const report = await checkPostgresDeployment({ connectionString: url, schema });
  return { code, output, report };
}

// The deployment the README and docs/deploying-postgres.md describe: an owner role
// (not superuser) migrates and owns the schema; the application role gets DML and
// EXECUTE only. `entelix-postgres doctor` must pass for the application role and fail,
// naming the reason, for every way row-level security could be bypassed.
describeWithService('DATABASE_URL', 'entelix-postgres doctor on real deployments', (url) => {
  const schema = randomSchemaName();
  let admin: pg.Pool;
  const ownerUrl = urlForRole(url, OWNER_ROLE);
  const appUrl = urlForRole(url, APP_ROLE);
  const bypassUrl = urlForRole(url, BYPASS_ROLE);

  beforeAll(async () => {
    admin = new pg.Pool({ connectionString: url, max: 2 });
    await ensureAppRole(admin);
    await ensureRole(admin, OWNER_ROLE, 'LOGIN NOSUPERUSER NOBYPASSRLS');
    await ensureRole(admin, BYPASS_ROLE, 'LOGIN NOSUPERUSER BYPASSRLS');
    const database = new URL(url).pathname.slice(1);
    await admin.query(`GRANT CREATE ON DATABASE "${database}" TO ${OWNER_ROLE}`);
    // Migrate as the owner with the CLI, then grant as the owner, as documented.
    const migrated = await runCli(
      ['migrate', '--schema', schema, '--database-url', ownerUrl],
      { out: () => undefined, err: () => undefined },
      {},
    );
    expect(migrated).toBe(0);
    const owner = new pg.Pool({ connectionString: ownerUrl, max: 1 });
    try {
      for (const role of [APP_ROLE, BYPASS_ROLE]) {
        await owner.query(`
          GRANT USAGE ON SCHEMA "${schema}" TO ${role};
          GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "${schema}" TO ${role};
          GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA "${schema}" TO ${role};`);
      }
    } finally {
      await owner.end();
    }
  });
  afterAll(async () => {
    await admin?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin?.end();
  });

  it('passes for the application role of the documented deployment', async () => {
    const { code, output, report } = await doctor(appUrl, schema);
    expect(report).toEqual({
      ok: true,
      problems: [],
      findings: [],
      role: APP_ROLE,
      schemaVersion: LATEST_SCHEMA_VERSION,
    });
    expect(code).toBe(0);
    expect(output.stdout).toContain('ok:');
  });

  it('fails on a superuser role', async () => {
    const { code, output, report } = await doctor(url, schema);
    expect(report.ok).toBe(false);
    expect(report.findings.map((finding) => finding.check)).toContain('superuser');
    expect(code).toBe(1);
    expect(output.stderr).toContain('is a superuser');
  });

  it('fails on a BYPASSRLS role, which really does see every tenant', async () => {
    const { code, report } = await doctor(bypassUrl, schema);
    expect(report.findings.map((finding) => finding.check)).toEqual(['bypass-rls']);
    expect(code).toBe(1);
    // Why it matters: with no tenant set, this role reads rows the app role cannot.
    const app = new pg.Pool({ connectionString: appUrl, max: 1 });
    const bypass = new pg.Pool({ connectionString: bypassUrl, max: 1 });
    try {
      const persistence = await createPostgresPersistence({ pool: app, schema, migrate: 'verify' });
      await persistence.store().put(Namespace.of(`t-${crypto.randomUUID()}`, 'ns'), 'k', 1);
      const count = `SELECT count(*)::int AS n FROM "${schema}".store_items`;
      expect((await app.query(count)).rows[0].n).toBe(0);
      expect((await bypass.query(count)).rows[0].n).toBeGreaterThan(0);
    } finally {
      await Promise.all([app.end(), bypass.end()]);
    }
  });

  it('fails on the role that owns the tables', async () => {
    const { code, report } = await doctor(ownerUrl, schema);
    expect(report.findings.map((finding) => finding.check)).toEqual(
      TABLES.map(() => 'table-owner'),
    );
    expect(report.problems.filter((problem) => problem.includes(OWNER_ROLE))).toHaveLength(
      TABLES.length,
    );
    expect(code).toBe(1);
  });

  describe('doctor checks', () => {
    // Throwaway login roles, one per case, dropped afterwards.
    const created: string[] = [];
    const newRole = async (attributes = 'LOGIN NOSUPERUSER NOBYPASSRLS') => {
      const role = `entelix_doc_${crypto.randomUUID().replaceAll('-', '').slice(0, 12)}`;
      await admin.query(`CREATE ROLE ${role} ${attributes}`);
      created.push(role);
      return role;
    };
    const asOwner = async (sql: string) => {
      const owner = new pg.Pool({ connectionString: ownerUrl, max: 1 });
      try {
        await owner.query(sql);
      } finally {
        await owner.end();
      }
    };
    /** The application role's grants of the deploying guide, for `role`. */
    const grantApplicationPrivileges = (role: string) =>
      asOwner(`
        GRANT USAGE ON SCHEMA "${schema}" TO ${role};
        GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "${schema}" TO ${role};
        GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA "${schema}" TO ${role};`);
    const checksOf = (report: { findings?: { check: string }[] }) =>
      report.findings?.map((finding) => finding.check);

    afterAll(async () => {
      for (const role of created.reverse()) {
        await admin.query(`DROP OWNED BY ${role}; DROP ROLE ${role}`);
      }
    });

    it('fails for a role without the table privileges the contracts need', async () => {
      const role = await newRole();
      await asOwner(`
        GRANT USAGE ON SCHEMA "${schema}" TO ${role};
        GRANT SELECT ON "${schema}".schema_migrations TO ${role};
        GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA "${schema}" TO ${role};`);
      const { code, report } = await doctor(urlForRole(url, role), schema);
      expect(report.ok).toBe(false);
      expect(new Set(checksOf(report))).toEqual(new Set(['contract-privileges']));
      expect(code).toBe(1);
    });

    it('fails for a role without EXECUTE on the functions', async () => {
      const role = await newRole();
      await asOwner(`
        GRANT USAGE ON SCHEMA "${schema}" TO ${role};
        GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "${schema}" TO ${role};`);
      const { report } = await doctor(urlForRole(url, role), schema);
      expect(report.ok).toBe(false);
      expect(new Set(checksOf(report))).toEqual(new Set(['contract-privileges']));
    });

    it('fails for a member of a BYPASSRLS role, which SET ROLE turns into a reader of every tenant', async () => {
      const role = await newRole();
      await grantApplicationPrivileges(role);
      await admin.query(`GRANT ${BYPASS_ROLE} TO ${role}`);
      const { code, report } = await doctor(urlForRole(url, role), schema);
      expect(report.ok).toBe(false);
      expect(checksOf(report)).toEqual(['privileged-membership']);
      expect(code).toBe(1);
    });

    it('fails for a member of a role that is a member of a superuser role', async () => {
      const superuser = await newRole('NOLOGIN SUPERUSER');
      const middle = await newRole('NOLOGIN');
      const role = await newRole();
      await grantApplicationPrivileges(role);
      await admin.query(`GRANT ${superuser} TO ${middle}; GRANT ${middle} TO ${role}`);
      const { report } = await doctor(urlForRole(url, role), schema);
      expect(report.ok).toBe(false);
      expect(checksOf(report)).toEqual(['privileged-membership']);
    });

    it('fails for a role that may TRUNCATE, which ignores row-level security', async () => {
      const role = await newRole();
      await grantApplicationPrivileges(role);
      await asOwner(`GRANT TRUNCATE ON "${schema}".session_events TO ${role}`);
      const { report } = await doctor(urlForRole(url, role), schema);
      expect(report.ok).toBe(false);
      expect(checksOf(report)).toEqual(['truncate']);
    });

    it('fails while a function of the schema is executable by PUBLIC', async () => {
      const fn = `"${schema}".log_head(text, text)`;
      await asOwner(`GRANT EXECUTE ON FUNCTION ${fn} TO PUBLIC`);
      try {
        const { report } = await doctor(appUrl, schema);
        expect(report.ok).toBe(false);
        expect(checksOf(report)).toEqual(['public-execute']);
      } finally {
        await asOwner(`REVOKE EXECUTE ON FUNCTION ${fn} FROM PUBLIC`);
      }
    });

    it('reports a superuser as a superuser only, not as the owner of every table', async () => {
      const { report } = await doctor(url, schema);
      expect(report.ok).toBe(false);
      expect(checksOf(report)).toEqual(['superuser']);
      expect(report.problems).toHaveLength(1);
    });

    it('says a missing schema does not exist, rather than that it is at version 0', async () => {
      const { code, report } = await doctor(appUrl, randomSchemaName());
      expect(report.ok).toBe(false);
      expect(checksOf(report)).toEqual(['schema-missing']);
      expect(report.schemaVersion).toBe(0);
      expect(code).toBe(1);
    });

    it('passes again for the application role', async () => {
      const { report } = await doctor(appUrl, schema);
      expect(report.findings).toEqual([]);
      expect(report.ok).toBe(true);
    });
  });

  describe('capabilities.rls', () => {
    const rlsOf = async (connectionString: string) => {
      const persistence = await createPostgresPersistence({
        connectionString,
        schema,
        migrate: 'verify',
      });
      try {
        return persistence.capabilities.rls;
      } finally {
        await persistence.close();
      }
    };

    it('is true for the application role, and for the owner while row-level security is forced', async () => {
      expect(await rlsOf(appUrl)).toBe(true);
      expect(await rlsOf(ownerUrl)).toBe(true);
    });

    it('is false for a superuser and for a BYPASSRLS role', async () => {
      expect(await rlsOf(url)).toBe(false);
      expect(await rlsOf(bypassUrl)).toBe(false);
    });

    it('is false for the owner once one table is not forced', async () => {
      const owner = new pg.Pool({ connectionString: ownerUrl, max: 1 });
      const table = `"${schema}".locks`;
      try {
        await owner.query(`ALTER TABLE ${table} NO FORCE ROW LEVEL SECURITY`);
        expect(await rlsOf(ownerUrl)).toBe(false);
        expect(await rlsOf(appUrl)).toBe(true);
      } finally {
        await owner.query(`ALTER TABLE ${table} FORCE ROW LEVEL SECURITY`);
        await owner.end();
      }
    });
  });

  describe('execute rights and the all-tenant sweep', () => {
    const usageOnly = `entelix_usage_${crypto.randomUUID().replaceAll('-', '').slice(0, 12)}`;

    beforeAll(async () => {
      await admin.query(`CREATE ROLE ${usageOnly} LOGIN NOSUPERUSER NOBYPASSRLS`);
      const owner = new pg.Pool({ connectionString: ownerUrl, max: 1 });
      try {
        await owner.query(`GRANT USAGE ON SCHEMA "${schema}" TO ${usageOnly}`);
      } finally {
        await owner.end();
      }
    });
    afterAll(async () => {
      await admin?.query(`DROP OWNED BY ${usageOnly}; DROP ROLE ${usageOnly}`);
    });

    it('a role with USAGE on the schema alone can run no function, not even the sweep', async () => {
      const pool = new pg.Pool({ connectionString: urlForRole(url, usageOnly), max: 1 });
      try {
        for (const call of [
          `SELECT "${schema}".store_evict_all_expired()`,
          `SELECT "${schema}".log_head('tenant', 'thread')`,
        ]) {
          await expect(pool.query(call), call).rejects.toMatchObject({ code: '42501' });
        }
      } finally {
        await pool.end();
      }
    });

    it('the owner role sees no expired item of any tenant outside the sweep, which still sweeps every tenant', async () => {
      const app = new pg.Pool({ connectionString: appUrl, max: 1 });
      const owner = new pg.Pool({ connectionString: ownerUrl, max: 1 });
      try {
        const persistence = await createPostgresPersistence({
          pool: app,
          schema,
          migrate: 'verify',
        });
        const tenants = [`a-${crypto.randomUUID()}`, `b-${crypto.randomUUID()}`];
        for (const tenant of tenants) {
          await persistence.store().put(Namespace.of(tenant, 'ns'), 'k', tenant, { ttlMs: 1 });
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
        const expired = await owner.query(
          `SELECT count(*)::int AS n FROM "${schema}".store_items WHERE tenant_id = ANY($1)`,
          [tenants],
        );
        expect(expired.rows[0].n).toBe(0);
        const deleted = await owner.query(
          `DELETE FROM "${schema}".store_items WHERE tenant_id = ANY($1)`,
          [tenants],
        );
        expect(deleted.rowCount).toBe(0);
        expect(await persistence.store().evictExpired()).toBeGreaterThanOrEqual(2);
        const left = await admin.query(
          `SELECT count(*)::int AS n FROM "${schema}".store_items WHERE tenant_id = ANY($1)`,
          [tenants],
        );
        expect(left.rows[0].n).toBe(0);
      } finally {
        await Promise.all([app.end(), owner.end()]);
      }
    });
  });

  describe('tables changed behind the migrations', () => {
    // Each case alters one table as the owner, checks, and restores it.
    async function withAlteredTable(alter: string, restore: string, check: () => Promise<void>) {
      const owner = new pg.Pool({ connectionString: ownerUrl, max: 1 });
      try {
        await owner.query(alter);
        await check();
      } finally {
        await owner.query(restore);
        await owner.end();
      }
    }

    it('fails on a table whose row-level security is not forced', async () => {
      const table = `"${schema}".session_events`;
      await withAlteredTable(
        `ALTER TABLE ${table} NO FORCE ROW LEVEL SECURITY`,
        `ALTER TABLE ${table} FORCE ROW LEVEL SECURITY`,
        async () => {
          const { code, report } = await doctor(appUrl, schema);
          expect(report.findings.map((finding) => finding.check)).toEqual(['rls-not-forced']);
          expect(report.problems[0]).toContain(`${schema}.session_events`);
          expect(code).toBe(1);
        },
      );
    });

    it('fails on a table whose row-level security is disabled', async () => {
      const table = `"${schema}".checkpoints`;
      await withAlteredTable(
        `ALTER TABLE ${table} DISABLE ROW LEVEL SECURITY`,
        `ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY`,
        async () => {
          const { code, report } = await doctor(appUrl, schema);
          expect(report.findings.map((finding) => finding.check)).toEqual(['rls-disabled']);
          expect(report.problems[0]).toContain(`${schema}.checkpoints`);
          expect(code).toBe(1);
        },
      );
    });

    it('passes again once every table is restored', async () => {
      expect((await doctor(appUrl, schema)).report.ok).toBe(true);
    });
  });
});
