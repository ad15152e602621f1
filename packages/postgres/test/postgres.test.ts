import { createHash } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import { Checkpoint, EntelixError, type ErrorCode, Namespace, ThreadKey } from '@entelix/core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli } from '../src/cli.js';
import {
  checkPostgresDeployment,
  createPostgresPersistence,
  LATEST_SCHEMA_VERSION,
  renderMigrationSql,
} from '../src/index.js';
import { MIGRATIONS } from '../src/migrations/index.js';
import { statementName } from '../src/queryable.js';
import { keyRange, prefixEnd } from '../src/store.js';
import { APP_ROLE, createPGliteAsAppRole } from './pglite-support.js';
import { dumpSchema } from './snapshot.js';

const TABLES = [
  'checkpoints',
  'checkpoint_writes',
  'store_items',
  'session_heads',
  'session_events',
  'locks',
];

// Most tests start a PGlite of their own: 1-3 s each on a two-core machine running the
// other test files at the same time, too close to the default 5 s.
vi.setConfig({ testTimeout: 20_000 });

async function codeOf(promise: Promise<unknown>): Promise<ErrorCode | 'resolved'> {
  try {
    await promise;
    return 'resolved';
  } catch (error) {
    if (!EntelixError.isInstance(error)) throw error;
    return error.code;
  }
}

function randomId(label: string): string {
  return `${label}-${crypto.randomUUID()}`;
}

describe('row-level security canary (PGlite, non-superuser role)', () => {
  let pglite: PGlite;
  const tenantA = randomId('a');
  const tenantB = randomId('b');

  beforeAll(async () => {
    pglite = await createPGliteAsAppRole();
    const persistence = await createPostgresPersistence({ pglite, migrate: 'verify' });
    // Give tenant B a row in every table, through the public API.
    const key = ThreadKey.of(tenantB, 'thread');
    await persistence.checkpointer().put(Checkpoint.create({ key, step: 0, state: 'b' }));
    await persistence.store().put(Namespace.of(tenantB, 'ns'), 'k', 'b');
    await persistence.sessionLog().append(key, ['b']);
    const lease = await persistence.lock.tryAcquire(key, { ttlMs: 60_000 });
    expect(lease).toBeDefined();
  });
  afterAll(async () => {
    await pglite.close();
  });

  it('runs as a role that row-level security binds', async () => {
    const { rows } = await pglite.query<{ rolsuper: boolean; rolbypassrls: boolean }>(
      'SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user',
    );
    expect(rows).toEqual([{ rolsuper: false, rolbypassrls: false }]);
    expect((await pglite.query<{ u: string }>('SELECT current_user AS u')).rows[0]?.u).toBe(
      APP_ROLE,
    );
  });

  it('with no tenant set, every table reads 0 rows and an insert is refused', async () => {
    for (const table of TABLES) {
      const { rows } = await pglite.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM entelix.${table}`,
      );
      expect(rows[0]?.n, table).toBe(0);
    }
    await expect(
      pglite.query(`INSERT INTO entelix.session_heads VALUES ($1, 't', 1)`, [tenantB]),
    ).rejects.toThrow(/row-level security/);
  });

  it('with tenant A set, tenant B rows are invisible and cannot be written', async () => {
    await pglite.transaction(async (tx) => {
      await tx.query(`SELECT set_config('entelix.tenant_id', $1, true)`, [tenantA]);
      for (const table of TABLES) {
        const { rows } = await tx.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM entelix.${table} WHERE tenant_id = $1`,
          [tenantB],
        );
        expect(rows[0]?.n, table).toBe(0);
      }
      const updated = await tx.query(
        `UPDATE entelix.store_items SET value = 'stolen' WHERE tenant_id = $1`,
        [tenantB],
      );
      expect(updated.affectedRows).toBe(0);
      const deleted = await tx.query(`DELETE FROM entelix.session_events WHERE tenant_id = $1`, [
        tenantB,
      ]);
      expect(deleted.affectedRows).toBe(0);
    });
    await expect(
      pglite.transaction(async (tx) => {
        await tx.query(`SELECT set_config('entelix.tenant_id', $1, true)`, [tenantA]);
        await tx.query(`INSERT INTO entelix.session_heads VALUES ($1, 't', 1)`, [tenantB]);
      }),
    ).rejects.toThrow(/row-level security/);
  });

  it('leaves no tenant on the connection after an operation', async () => {
    const persistence = await createPostgresPersistence({ pglite, migrate: 'off' });
    expect(await persistence.sessionLog().head(ThreadKey.of(tenantA, 'thread'))).toBe(0);
    const { rows } = await pglite.query<{ tenant: string | null }>(
      `SELECT current_setting('entelix.tenant_id', true) AS tenant`,
    );
    expect(rows[0]?.tenant ?? '').toBe('');
  });

  it('tenant A reads nothing of tenant B through the API, and B still has its data', async () => {
    const persistence = await createPostgresPersistence({ pglite, migrate: 'off' });
    const keyA = ThreadKey.of(tenantA, 'thread');
    const keyB = ThreadKey.of(tenantB, 'thread');
    expect(await persistence.checkpointer().getLatest(keyA)).toBeUndefined();
    expect(await persistence.store().listNamespaces(tenantA)).toEqual([]);
    expect(await persistence.sessionLog().head(keyB)).toBe(1);
  });
});

describe('conformance snapshot', () => {
  it('dumps every table and every tenant, and changes with any write', async () => {
    const pglite = await createPGliteAsAppRole();
    const persistence = await createPostgresPersistence({ pglite, migrate: 'verify' });
    const snapshot = () =>
      pglite.transaction(async (tx) => {
        await tx.query('SET LOCAL ROLE postgres');
        return dumpSchema((text, params) => tx.query(text, params), 'entelix');
      });
    const empty = await snapshot();
    expect(empty.split('\n').filter((line) => line.startsWith('-- '))).toEqual(
      [
        'checkpoint_writes',
        'checkpoints',
        'locks',
        'schema_migrations',
        'session_events',
        'session_heads',
        'store_items',
      ].map((table) => `-- ${table}`),
    );
    for (const tenant of ['tenant-a', 'tenant-b']) {
      await persistence.sessionLog().append(ThreadKey.of(tenant, 'thread'), ['\u0000\ud800']);
    }
    const written = await snapshot();
    expect(written).toContain('"tenant_id":"tenant-a"');
    expect(written).toContain('"tenant_id":"tenant-b"');
    expect(await snapshot()).toBe(written);
    await persistence.lock.tryAcquire(ThreadKey.of('tenant-a', 'thread'), { ttlMs: 60_000 });
    expect(await snapshot()).not.toBe(written);
    expect((await pglite.query<{ u: string }>('SELECT current_user AS u')).rows[0]?.u).toBe(
      APP_ROLE,
    );
    await pglite.close();
  });
});

describe('rows written behind our back', () => {
  // The database hands back a row of another (or no) tenant: simulated by a PGlite
  // whose results are rewritten, since the SQL itself always filters by tenant.
  async function persistenceReturning(tenantId: string) {
    const pglite = await PGlite.create();
    await (await createPostgresPersistence({ pglite })).close();
    let rewrite = false;
    const tampered = new Proxy(pglite, {
      get(target, property, receiver) {
        if (property !== 'query') return Reflect.get(target, property, receiver);
        return async (text: string, params?: unknown[]) => {
          const result = await target.query<Record<string, unknown>>(text, params);
          if (!rewrite) return result;
          const rows = result.rows.map((row) => {
            const copy = { ...row };
            for (const column of [
              'tenant_id',
              'cp_tenant_id',
              'item_tenant_id',
              'ns_tenant_id',
              'ev_tenant_id',
            ]) {
              if (column in copy) copy[column] = tenantId;
            }
            return copy;
          });
          return { ...result, rows };
        };
      },
    });
    const persistence = await createPostgresPersistence({ pglite: tampered, migrate: 'verify' });
    return {
      persistence,
      tamper: () => {
        rewrite = true;
      },
      close: () => pglite.close(),
    };
  }

  for (const [label, foreignTenant] of [
    ['a foreign tenant_id', 'someone-else'],
    ['an empty tenant_id', ''],
  ] as const) {
    it(`rejects ${label} with CORRUPT_RECORD on every read`, async () => {
      const { persistence, tamper, close } = await persistenceReturning(foreignTenant);
      const key = ThreadKey.of('tenant', 'thread');
      const ns = Namespace.of('tenant', 'ns');
      const checkpoint = Checkpoint.create({ key, step: 0, state: 1 });
      await persistence.checkpointer().put(checkpoint);
      await persistence.store().put(ns, 'k', 1);
      await persistence.sessionLog().append(key, [1]);
      tamper();
      const checkpointer = persistence.checkpointer();
      const store = persistence.store();
      expect(await codeOf(checkpointer.getLatest(key))).toBe('CORRUPT_RECORD');
      expect(await codeOf(checkpointer.getById(key, checkpoint.id))).toBe('CORRUPT_RECORD');
      expect(await codeOf(checkpointer.listHistory(key, { limit: 5 }))).toBe('CORRUPT_RECORD');
      expect(await codeOf(store.get(ns, 'k'))).toBe('CORRUPT_RECORD');
      expect(await codeOf(store.list(ns))).toBe('CORRUPT_RECORD');
      expect(await codeOf(store.listNamespaces('tenant'))).toBe('CORRUPT_RECORD');
      expect(await codeOf(persistence.sessionLog().loadSince(key, 0))).toBe('CORRUPT_RECORD');
      await close();
    });
  }
});

describe('store index-entry limit', () => {
  it('a namespace and key too long for one btree entry fail with BACKEND and write nothing', async () => {
    const persistence = await createPostgresPersistence();
    const store = persistence.store();
    // Hex of hash digests does not compress: 256 bytes a part, as long as a part may be.
    const part = (seed: number) =>
      [1, 2].map((half) => createHash('sha512').update(`${seed}.${half}`).digest('hex')).join('');
    const fits = Namespace.of('tenant', ...Array.from({ length: 10 }, (_, i) => part(i)));
    await store.put(fits, 'k', 1);
    expect((await store.get(fits, 'k'))?.value).toBe(1);
    const tooLong = Namespace.of('tenant', ...Array.from({ length: 11 }, (_, i) => part(i)));
    expect(await codeOf(store.put(tooLong, 'k', 1))).toBe('BACKEND');
    expect(await store.listNamespaces('tenant')).toHaveLength(1);
    await persistence.close();
  });
});

describe('migrations', () => {
  it('never changes a released migration: a change is the next migration', () => {
    // Deployed databases ran these exact texts; a new one is appended to the list.
    const released = MIGRATIONS.map((migration) => [
      migration.version,
      migration.name,
      createHash('sha256').update(migration.sql('"entelix"')).digest('hex'),
    ]);
    expect(released).toEqual([
      [1, 'initial', '64d790a6a98528556c7cbc23667145305026d648d581dc19d23457a104288315'],
      [2, 'execute rights', '0418a466ac6c91894bd31f973df8251820a024025397e44c67dec917121ec660'],
      [3, 'runtime primitives', '11154f6c49e15e64e8d2945d1ef08cce33012a9feea594f9997a230f3b1291d4'],
    ]);
  });

  it('fails with SCHEMA_VERSION_MISMATCH when the database is ahead of the code', async () => {
    const pglite = await PGlite.create();
    await (await createPostgresPersistence({ pglite })).close();
    await pglite.query(
      `INSERT INTO entelix.schema_migrations (version, name) VALUES ($1, 'future')`,
      [LATEST_SCHEMA_VERSION + 1],
    );
    for (const migrate of ['auto', 'verify'] as const) {
      expect(await codeOf(createPostgresPersistence({ pglite, migrate }))).toBe(
        'SCHEMA_VERSION_MISMATCH',
      );
    }
    // 'off' checks nothing: the caller takes responsibility.
    expect(await codeOf(createPostgresPersistence({ pglite, migrate: 'off' }))).toBe('resolved');
    await pglite.close();
  });

  it("'verify' refuses an unmigrated database and 'off' leaves it untouched", async () => {
    const pglite = await PGlite.create();
    expect(await codeOf(createPostgresPersistence({ pglite, migrate: 'verify' }))).toBe(
      'SCHEMA_VERSION_MISMATCH',
    );
    const unmigrated = await createPostgresPersistence({ pglite, migrate: 'off' });
    const schemas = await pglite.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'entelix'`);
    expect(schemas.rows).toHaveLength(0);
    // Using it fails loudly, as a BackendError wrapping the driver's error.
    expect(await codeOf(unmigrated.sessionLog().head(ThreadKey.of('t', 'x')))).toBe('BACKEND');
    await pglite.close();
  });

  it("'auto' applies once and is a no-op afterwards", async () => {
    const pglite = await PGlite.create();
    await (await createPostgresPersistence({ pglite })).close();
    await (await createPostgresPersistence({ pglite })).close();
    const { rows } = await pglite.query<{ version: number }>(
      'SELECT version FROM entelix.schema_migrations ORDER BY version',
    );
    expect(rows.map((row) => row.version)).toEqual(
      Array.from({ length: LATEST_SCHEMA_VERSION }, (_, i) => i + 1),
    );
    await pglite.close();
  });

  it('rejects bad options with CONFIG before touching the database', async () => {
    const pglite = await PGlite.create();
    const bad: unknown[] = [
      { pglite, migrate: 'sometimes' },
      { pglite, schema: 'bad-name' },
      { pglite, schema: 'x"; DROP TABLE y; --' },
      { pglite, schema: '' },
      { pglite, connectionString: 'postgres://localhost/x' },
      { pglite: {} },
      { pool: { query: 'no' } },
      { connectionString: 42 },
      { pglite, preparedStatements: 'yes' },
      { pglite, preparedStatements: 1 },
      'postgres://localhost/x',
    ];
    for (const [index, options] of bad.entries()) {
      expect(await codeOf(createPostgresPersistence(options as never)), `case ${index}`).toBe(
        'CONFIG',
      );
    }
    const schemas = await pglite.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'entelix'`);
    expect(schemas.rows).toHaveLength(0);
    await pglite.close();
  });
});

describe('execute rights', () => {
  // Functions of the schema whose ACL (or, when it has none, the default ACL) lets
  // PUBLIC execute them.
  const publicFunctions = async (pglite: PGlite, schema = 'entelix') =>
    (
      await pglite.query<{ name: string }>(
        `SELECT p.proname AS name FROM pg_proc p
           JOIN pg_namespace n ON n.oid = p.pronamespace
          WHERE n.nspname = $1
            AND EXISTS (SELECT 1 FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                         WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE')
          ORDER BY 1`,
        [schema],
      )
    ).rows.map((row) => row.name);

  it('no function of the schema is executable by PUBLIC: USAGE alone runs nothing, not even the sweep', async () => {
    const pglite = await PGlite.create();
    await (await createPostgresPersistence({ pglite })).close();
    expect(await publicFunctions(pglite)).toEqual([]);
    const role = `usage_only_${crypto.randomUUID().slice(0, 8)}`;
    await pglite.exec(`CREATE ROLE ${role} NOLOGIN; GRANT USAGE ON SCHEMA entelix TO ${role};`);
    await pglite.exec(`SET ROLE ${role}`);
    await expect(pglite.query('SELECT entelix.store_evict_all_expired()')).rejects.toMatchObject({
      code: '42501',
    });
    await pglite.exec('RESET ROLE');
    await pglite.close();
  });

  it('a database at version 1 is migrated to the latest: PUBLIC loses EXECUTE, the application role keeps it', async () => {
    const pglite = await PGlite.create();
    // What a deployment of version 1 holds.
    await pglite.exec(`CREATE SCHEMA entelix;
      CREATE TABLE entelix.schema_migrations (
        version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());
      ${MIGRATIONS[0]?.sql('"entelix"')}
      INSERT INTO entelix.schema_migrations (version, name) VALUES (1, 'initial');`);
    expect((await publicFunctions(pglite)).length).toBeGreaterThan(0);
    await pglite.exec(`CREATE ROLE ${APP_ROLE} NOLOGIN;
      GRANT USAGE ON SCHEMA entelix TO ${APP_ROLE};
      GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA entelix TO ${APP_ROLE};
      GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA entelix TO ${APP_ROLE};`);
    await (await createPostgresPersistence({ pglite })).close();
    const { rows } = await pglite.query<{ version: number }>(
      'SELECT max(version) AS version FROM entelix.schema_migrations',
    );
    expect(rows[0]?.version).toBe(LATEST_SCHEMA_VERSION);
    expect(await publicFunctions(pglite)).toEqual([]);
    await pglite.exec(`SET ROLE ${APP_ROLE}`);
    const app = await createPostgresPersistence({ pglite, migrate: 'verify' });
    await app.store().put(Namespace.of('tenant', 'ns'), 'k', 1, { ttlMs: 1 });
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await app.store().evictExpired()).toBe(1);
    await pglite.close();
  });

  it('the owning role reads no expired item of any tenant outside the all-tenant sweep', async () => {
    const pglite = await PGlite.create();
    const owner = `owner_${crypto.randomUUID().slice(0, 8)}`;
    const app = `app_${crypto.randomUUID().slice(0, 8)}`;
    await pglite.exec(`CREATE ROLE ${owner} NOLOGIN NOSUPERUSER NOBYPASSRLS;
      CREATE ROLE ${app} NOLOGIN NOSUPERUSER NOBYPASSRLS;
      GRANT CREATE ON DATABASE ${(await pglite.query<{ db: string }>('SELECT current_database() AS db')).rows[0]?.db} TO ${owner};
      SET ROLE ${owner};`);
    await (await createPostgresPersistence({ pglite })).close();
    await pglite.exec(`GRANT USAGE ON SCHEMA entelix TO ${app};
      GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA entelix TO ${app};
      GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA entelix TO ${app};
      SET ROLE ${app};`);
    const persistence = await createPostgresPersistence({ pglite, migrate: 'verify' });
    for (const tenant of ['tenant-a', 'tenant-b']) {
      await persistence.store().put(Namespace.of(tenant, 'ns'), 'k', tenant, { ttlMs: 1 });
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
    await pglite.exec(`SET ROLE ${owner}`);
    const seen = await pglite.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM entelix.store_items',
    );
    expect(seen.rows[0]?.n).toBe(0);
    const deleted = await pglite.query('DELETE FROM entelix.store_items');
    expect(deleted.affectedRows).toBe(0);
    await pglite.exec(`SET ROLE ${app}`);
    expect(await persistence.store().evictExpired()).toBe(2);
    await pglite.close();
  });
});

describe('schema option', () => {
  it('keeps two schemas apart in one database', async () => {
    const pglite = await PGlite.create();
    const first = await createPostgresPersistence({ pglite, schema: 'tenant_data_one' });
    const second = await createPostgresPersistence({ pglite, schema: 'tenant_data_two' });
    const key = ThreadKey.of('tenant', 'thread');
    expect(await first.sessionLog().append(key, ['a', 'b'])).toBe(2);
    expect(await second.sessionLog().head(key)).toBe(0);
    const { rows } = await pglite.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM tenant_data_one.session_events',
    );
    expect(rows[0]?.n).toBe(2);
    await pglite.close();
  });
});

describe('preparedStatements', () => {
  it('names a statement after its text: stable, distinct per text, within 63 bytes', () => {
    const get = 'SELECT * FROM "a".store_get($1, $2::text[], $3)';
    const cache = new Map<string, string>();
    const name = statementName(get, cache);
    expect(name).toMatch(/^entelix_[0-9a-f]{32}$/);
    expect(name.length).toBeLessThanOrEqual(63);
    expect(statementName(`${get}`, new Map())).toBe(name);
    expect(statementName(get.replace('"a"', '"b"'), cache)).not.toBe(name);
  });

  it('has no effect on PGlite, which is one in-process connection', async () => {
    const persistence = await createPostgresPersistence({ preparedStatements: true });
    const key = ThreadKey.of('tenant', 'thread');
    expect(await persistence.sessionLog().append(key, ['a'])).toBe(1);
    await persistence.close();
  });
});

describe('close()', () => {
  it('never closes an injected PGlite', async () => {
    const pglite = await PGlite.create();
    const persistence = await createPostgresPersistence({ pglite });
    await persistence.close();
    await persistence.close();
    expect(pglite.closed).toBe(false);
    expect((await pglite.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await pglite.close();
  });

  it('closes the PGlite it created itself', async () => {
    const persistence = await createPostgresPersistence();
    const key = ThreadKey.of('tenant', 'thread');
    expect(await persistence.sessionLog().append(key, [1])).toBe(1);
    await persistence.close();
    expect(await codeOf(persistence.sessionLog().head(key))).toBe('BACKEND');
  });

  it('refuses every call after close(), on an injected PGlite too', async () => {
    const pglite = await PGlite.create();
    const persistence = await createPostgresPersistence({ pglite });
    const key = ThreadKey.of('tenant', 'thread');
    expect(await persistence.sessionLog().append(key, [1])).toBe(1);
    await persistence.close();
    expect(await codeOf(persistence.sessionLog().head(key))).toBe('BACKEND');
    expect(await codeOf(persistence.store().get(Namespace.of('tenant', 'ns'), 'k'))).toBe(
      'BACKEND',
    );
    expect(await codeOf(persistence.lock.tryAcquire(key, { ttlMs: 1_000 }))).toBe('BACKEND');
    // The instance itself is the caller's, and still works.
    expect((await pglite.query<{ n: number }>('SELECT 1 AS n')).rows).toEqual([{ n: 1 }]);
    await pglite.close();
  });

  it('settles every call still in flight when it closes the PGlite it created', async () => {
    const persistence = await createPostgresPersistence();
    const log = persistence.sessionLog();
    const calls = Array.from({ length: 5 }, (_, n) =>
      codeOf(log.append(ThreadKey.of('tenant', `thread-${n}`), [n])),
    );
    await persistence.close();
    // PGlite runs each statement to its end: handed over before close(), they complete.
    expect(await Promise.all(calls)).toEqual(Array(5).fill('resolved'));
  });

  it('reports PGlite as in-process, and row-level security off for its default role, a superuser', async () => {
    const persistence = await createPostgresPersistence();
    expect(persistence.capabilities).toEqual({
      multiProcess: false,
      rls: false,
      ttl: true,
      fencing: true,
    });
    await persistence.close();
  });

  it('reports row-level security in force on PGlite as a role it binds', async () => {
    const pglite = await createPGliteAsAppRole();
    const persistence = await createPostgresPersistence({ pglite, migrate: 'verify' });
    expect(persistence.capabilities.rls).toBe(true);
    await pglite.close();
  });
});

describe('doctor on PGlite', () => {
  it('passes for a role row-level security binds, with every contract probed, and leaves nothing behind', async () => {
    const pglite = await createPGliteAsAppRole();
    const report = await checkPostgresDeployment({ pglite });
    expect(report.findings).toEqual([]);
    expect(report).toMatchObject({
      ok: true,
      role: APP_ROLE,
      schemaVersion: LATEST_SCHEMA_VERSION,
    });
    await pglite.exec('RESET ROLE');
    for (const table of TABLES) {
      const { rows } = await pglite.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM entelix.${table}`,
      );
      expect(rows[0]?.n, table).toBe(0);
    }
    await pglite.close();
  });

  it("fails for PGlite's default role, a superuser", async () => {
    const pglite = await PGlite.create();
    await (await createPostgresPersistence({ pglite })).close();
    const report = await checkPostgresDeployment({ pglite });
    expect(report.findings.map((finding) => finding.check)).toEqual(['superuser']);
    await pglite.close();
  });
});

describe('an abort on PGlite', () => {
  it('is honoured until the statement is handed over; after that the call reports what it did', async () => {
    const persistence = await createPostgresPersistence();
    const log = persistence.sessionLog();
    const key = ThreadKey.of('tenant', `thread-${crypto.randomUUID()}`);
    const controller = new AbortController();
    controller.abort();
    expect(await codeOf(log.append(key, ['never'], { signal: controller.signal }))).toBe('ABORTED');
    // PGlite is one in-process connection with no cancel: once handed over, the
    // statement runs to completion, so the call resolves and its write is whole.
    const inFlight = new AbortController();
    const append = log.append(key, ['a', 'b'], { signal: inFlight.signal });
    inFlight.abort();
    expect(await append).toBe(2);
    expect((await log.loadSince(key, 0)).map((event) => event.event)).toEqual(['a', 'b']);
    await persistence.close();
  });
});

describe('store prefix ranges', () => {
  it('computes the first string after every extension of a prefix, by code point', () => {
    expect(prefixEnd('ab')).toBe('ac');
    expect(prefixEnd('a%')).toBe('a&');
    expect(prefixEnd('a\u{10ffff}')).toBe('b');
    expect(prefixEnd('\u{10ffff}\u{10ffff}')).toBeUndefined();
    expect(prefixEnd('x\ud7ff')).toBe('x\ue000');
    expect(prefixEnd('x\u{1f600}')).toBe('x\u{1f601}');
  });

  it('turns a prefix and a cursor into one key range', () => {
    const top = '\u{10ffff}'.repeat(65);
    expect(keyRange(undefined, undefined)).toEqual({ from: '', until: top });
    expect(keyRange('ab', undefined)).toEqual({ from: 'ab', until: 'ac' });
    expect(keyRange(undefined, 'k8')).toEqual({ from: 'k8\u0001', until: top });
    expect(keyRange('ab', 'a')).toEqual({ from: 'ab', until: 'ac' });
    expect(keyRange('ab', 'abc')).toEqual({ from: 'abc\u0001', until: 'ac' });
    expect(keyRange('\u{10ffff}', undefined)).toEqual({ from: '\u{10ffff}', until: top });
    // Code-point order, not UTF-16: U+FFFF sorts before U+10000.
    expect(keyRange('\uffff', '\u{10000}').from).toBe('\u{10000}\u0001');
  });

  it('lists keys around the U+FFFF / astral boundary in code-point order', async () => {
    const persistence = await createPostgresPersistence();
    const store = persistence.store();
    const ns = Namespace.of('tenant', 'boundary');
    const keys = ['p\uffff', 'p\u{10000}', 'p\u{10ffff}', 'p\u{10ffff}z', 'q', 'p'];
    for (const key of keys) await store.put(ns, key, key);
    expect(await store.list(ns, { prefix: 'p\u{10ffff}' })).toEqual([
      'p\u{10ffff}',
      'p\u{10ffff}z',
    ]);
    expect(await store.list(ns, { prefix: 'p' })).toEqual([
      'p',
      'p\uffff',
      'p\u{10000}',
      'p\u{10ffff}',
      'p\u{10ffff}z',
    ]);
    await persistence.close();
  });
});

describe('lookups under row-level security', () => {
  // Index entries plus heap rows a statement reads from a table and its indexes: a
  // lookup that searches an index reads a handful, one that scans reads all of the
  // tenant's rows. The counters run on until stats are flushed, so reads are a
  // difference taken inside one transaction.
  const readsFrom = (table: string) => `
    SELECT sum(pg_stat_get_xact_tuples_returned(c.oid))::int AS n FROM pg_class c
     WHERE c.oid = 'entelix.${table}'::regclass
        OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = 'entelix.${table}'::regclass)`;
  const tenant = 'lookup-tenant';
  const scope = ['crowd', 'n7'];
  const thread = 'thread-7';
  let pglite: PGlite;
  let tenthCheckpoint: string;

  beforeAll(async () => {
    pglite = await createPGliteAsAppRole();
    tenthCheckpoint = await pglite.transaction(async (tx) => {
      await tx.query(`SELECT set_config('entelix.tenant_id', $1, true)`, [tenant]);
      // 200 namespaces of 20 items; 200 threads of 20 checkpoints and 20 events; 4,000
      // log heads, enough pages that reading them all costs more than an index search.
      await tx.query(
        `INSERT INTO entelix.store_items (tenant_id, scope, key, value, created_at, updated_at)
         SELECT $1, ARRAY['crowd', 'n' || (n % 200)], 'k' || (n / 200),
                '{"schema_version":1,"state":1}', now(), now()
           FROM generate_series(0, 3999) AS n`,
        [tenant],
      );
      await tx.query(
        `INSERT INTO entelix.checkpoints (tenant_id, thread_id, id, step, state, created_at)
         SELECT $1, 'thread-' || (n % 200), gen_random_uuid(), n / 200,
                '{"schema_version":1,"state":1}', now()
           FROM generate_series(0, 3999) AS n`,
        [tenant],
      );
      await tx.query(
        `INSERT INTO entelix.session_events (tenant_id, thread_id, seq, event)
         SELECT $1, 'thread-' || (n % 200), n / 200 + 1, '{"schema_version":1,"state":1}'
           FROM generate_series(0, 3999) AS n`,
        [tenant],
      );
      await tx.query(
        `INSERT INTO entelix.session_heads (tenant_id, thread_id, head)
         SELECT $1, 'thread-' || n, 20 FROM generate_series(0, 3999) AS n`,
        [tenant],
      );
      const { rows } = await tx.query<{ id: string }>(
        'SELECT id FROM entelix.checkpoints WHERE thread_id = $1 ORDER BY seq OFFSET 9 LIMIT 1',
        [thread],
      );
      return rows[0]!.id;
    });
    // Statistics, as autovacuum would gather them, so the planner chooses as in production.
    await pglite.exec(`RESET ROLE; ANALYZE; SET ROLE ${APP_ROLE};`);
  });

  afterAll(async () => {
    await pglite.close();
  });

  async function readsOf(table: string, sql: string, params: unknown[]): Promise<number> {
    return pglite.transaction(async (tx) => {
      const before = (await tx.query<{ n: number }>(readsFrom(table))).rows[0]!.n;
      await tx.query(sql, params);
      return (await tx.query<{ n: number }>(readsFrom(table))).rows[0]!.n - before;
    });
  }

  it('a text[] condition would read an entry of every namespace of the tenant', async () => {
    const reads = await readsOf(
      'store_items',
      `SELECT set_config('entelix.tenant_id', $1, true),
              (SELECT count(*) FROM entelix.store_items
                WHERE tenant_id = $1 AND scope = $2 AND key = 'k3')`,
      [tenant, scope],
    );
    expect(reads).toBeGreaterThanOrEqual(200);
  });

  it('store get and delete read one entry; list and listNamespaces only what matches', async () => {
    const calls: [string, unknown[], number][] = [
      ['SELECT * FROM entelix.store_get($1, $2, $3)', [tenant, scope, 'k3'], 2],
      ['SELECT * FROM entelix.store_list($1, $2, $3, $4, NULL)', [tenant, scope, '', 'zz'], 25],
      ['SELECT * FROM entelix.store_namespaces($1, $2, NULL, NULL, NULL)', [tenant, scope], 2],
      // A skip scan: about one entry per namespace listed, however many items each has.
      ['SELECT * FROM entelix.store_namespaces($1, $2, NULL, NULL, 3)', [tenant, ['crowd']], 6],
      ['SELECT * FROM entelix.store_namespaces($1, $2, 1, NULL, NULL)', [tenant, ['crowd']], 3],
      ['SELECT * FROM entelix.store_namespaces($1, $2, NULL, NULL, NULL)', [tenant, []], 400],
      ['SELECT entelix.store_delete($1, $2, $3, NULL, NULL)', [tenant, scope, 'k3'], 2],
    ];
    for (const [sql, params, most] of calls) {
      expect(await readsOf('store_items', sql, params), sql).toBeLessThanOrEqual(most);
    }
  });

  it('store list searches by prefix and cursor also once its plan is cached', async () => {
    // PL/pgSQL plans a statement for its first calls, then may keep one generic plan.
    const list = 'SELECT * FROM entelix.store_list($1, $2, $3, $4, NULL)';
    for (let call = 0; call < 8; call++) {
      const prefixed = keyRange('k19', undefined);
      const paged = keyRange(undefined, 'k8');
      const range = (r: { from: string; until: string }) => [tenant, scope, r.from, r.until];
      expect(await readsOf('store_items', list, range(prefixed))).toBeLessThanOrEqual(2);
      expect(await readsOf('store_items', list, range(paged))).toBeLessThanOrEqual(2);
    }
  });

  it('checkpoint and session-log reads touch only their thread, also with cached plans', async () => {
    const calls: [string, string, unknown[], number][] = [
      ['checkpoints', 'SELECT * FROM entelix.latest_checkpoint($1, $2)', [tenant, thread], 2],
      [
        'checkpoints',
        'SELECT * FROM entelix.checkpoint_by_id($1, $2, $3)',
        [tenant, thread, tenthCheckpoint],
        2,
      ],
      [
        'checkpoints',
        'SELECT * FROM entelix.checkpoint_history($1, $2, 5, NULL)',
        [tenant, thread],
        10,
      ],
      [
        'checkpoints',
        'SELECT * FROM entelix.checkpoint_history($1, $2, 5, $3)',
        [tenant, thread, tenthCheckpoint],
        12,
      ],
      ['session_events', 'SELECT * FROM entelix.events_since($1, $2, 10, 5)', [tenant, thread], 10],
      ['session_heads', 'SELECT entelix.log_head($1, $2)', [tenant, thread], 2],
    ];
    for (let call = 0; call < 8; call++) {
      for (const [table, sql, params, most] of calls) {
        expect(await readsOf(table, sql, params), sql).toBeLessThanOrEqual(most);
      }
    }
  });
});

describe('entelix-postgres CLI', () => {
  function capture() {
    const output = { stdout: '', stderr: '' };
    return {
      output,
      io: {
        out: (text: string) => {
          output.stdout += text;
        },
        err: (text: string) => {
          output.stderr += text;
        },
      },
    };
  }

  it('sql prints DDL that another tool can apply and verify accepts', async () => {
    const { output, io } = capture();
    expect(await runCli(['sql', '--schema', 'from_cli'], io, {})).toBe(0);
    expect(output.stdout).toContain('CREATE TABLE "from_cli".checkpoints');
    expect(output.stdout.match(/ALTER TABLE \S+ FORCE ROW LEVEL SECURITY;/g)?.length).toBe(
      TABLES.length + 1,
    );
    const pglite = await PGlite.create();
    await pglite.exec(output.stdout);
    const persistence = await createPostgresPersistence({
      pglite,
      schema: 'from_cli',
      migrate: 'verify',
    });
    expect(await persistence.sessionLog().append(ThreadKey.of('t', 'x'), [1])).toBe(1);
    await pglite.close();
  });

  it('sql without --schema is the default schema and matches renderMigrationSql', async () => {
    const { output, io } = capture();
    expect(await runCli(['sql'], io, {})).toBe(0);
    expect(output.stdout).toBe(renderMigrationSql());
    expect(output.stdout).toContain('"entelix".schema_migrations');
  });

  it('exits 2 with usage on a bad command line', async () => {
    for (const argv of [[], ['frobnicate'], ['sql', 'extra'], ['sql', '--nope']]) {
      const { output, io } = capture();
      expect(await runCli(argv, io, {}), argv.join(' ')).toBe(2);
      expect(output.stderr).toContain('usage: entelix-postgres');
    }
  });

  it('exits 2 when migrate or doctor has no database URL', async () => {
    for (const command of ['migrate', 'doctor']) {
      const { output, io } = capture();
      expect(await runCli([command], io, {})).toBe(2);
      expect(output.stderr).toContain('DATABASE_URL');
    }
  });

  it('exits 2 with a usage line on a URL that is not a postgres:// URL, before connecting', async () => {
    for (const [args, env, named] of [
      [['migrate', '--database-url', 'not a url'], {}, '--database-url'],
      [['doctor', '--database-url', 'mysql://root@db/app'], {}, '--database-url'],
      [['doctor'], { DATABASE_URL: 'base' }, 'DATABASE_URL'],
    ] as const) {
      const { output, io } = capture();
      expect(await runCli([...args], io, env)).toBe(2);
      expect(output.stderr).toContain(`${named} must be a postgres:// or postgresql:// URL`);
      expect(output.stderr).not.toContain('ENOTFOUND');
    }
  });

  it('exits 1 on a bad schema name', async () => {
    const { output, io } = capture();
    expect(await runCli(['sql', '--schema', 'no-dashes'], io, {})).toBe(1);
    expect(output.stderr).toContain('(CONFIG)');
  });
});
