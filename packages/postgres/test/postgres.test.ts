import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import {
  Checkpoint,
  EntelixError,
  type ErrorCode,
  type JsonValue,
  Namespace,
  type Persistence,
  type StoreFilter,
  ThreadKey,
} from '@entelix/core';
import { lockKeyOf, matchesStoreFilter, readStoreFilter } from '@entelix/core/adapter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { interceptPglite } from '../../../test-support/intercept.js';
import { freshPGlite } from '../../../test-support/pglite.js';
import { applicationGrants } from '../../../test-support/postgres-roles.js';
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
import { readBackLeadingByteOrderMarks } from './byte-order-mark.js';
import { gatheredReadTests } from './gathered-reads.js';
import { indexReadTests, READS_SQL } from './index-reads.js';
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
    const pglite = await freshPGlite();
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
      const log = persistence.sessionLog();
      expect(await codeOf(checkpointer.getLatest(key))).toBe('CORRUPT_RECORD');
      expect(await codeOf(checkpointer.getById(key, checkpoint.id))).toBe('CORRUPT_RECORD');
      expect(await codeOf(checkpointer.listHistory(key, { limit: 5 }))).toBe('CORRUPT_RECORD');
      expect(await codeOf(store.get(ns, 'k'))).toBe('CORRUPT_RECORD');
      expect(await codeOf(store.getMany([{ namespace: ns, key: 'k' }]))).toBe('CORRUPT_RECORD');
      expect(await codeOf(store.list(ns))).toBe('CORRUPT_RECORD');
      expect(await codeOf(store.listNamespaces('tenant'))).toBe('CORRUPT_RECORD');
      expect(await codeOf(store.search('tenant', { limit: 5 }))).toBe('CORRUPT_RECORD');
      expect(await codeOf(log.loadSince(key, 0))).toBe('CORRUPT_RECORD');
      expect(await codeOf(log.loadLatest(key, { limit: 5 }))).toBe('CORRUPT_RECORD');
      await close();
    });
  }
});

describe("PGlite's protocol reader", () => {
  it('drops a leading U+FEFF from every text value it returns, as the README says (pg keeps it)', async () => {
    const persistence = await createPostgresPersistence({ pglite: await freshPGlite() });
    // Stored exactly, read back without it: a test that fails once PGlite keeps it.
    expect(await readBackLeadingByteOrderMarks(persistence)).toEqual({
      storeKeys: ['key'],
      checkpointThreads: ['thread'],
      logThreads: ['thread'],
      markedTenantRead: 'CORRUPT_RECORD',
    });
    await persistence.close();
  });
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
      [3, 'runtime primitives', '7422ed00dde2344949bc2eeb30e9075ddb715230428a0789cba45b02a7f7f044'],
      [4, 'put with writes', '3fddcd4419b4ce9cae072f30ad3543717ab55cf6c02015f0bdc9e75db696b0b6'],
      [5, 'search plan', '3a1d842a779bcd74a723f5ed266c97c3887a4fddebcf18849bd6869e99572b56'],
      [6, 'value escapes', '376aef61429ab056e0c79b6ef5b73619b52781ce4d37c36a36d2dd28fc70c68e'],
      [7, 'null operands', '7662f849bd8dda579e47bbf4a59f5f9a2d0597bd3fb0029c10f17a2d682aafb1'],
      [
        8,
        'erasure moves heads',
        'c282cd51d4aab28f86b4511bb8c81c50100265fd630eef1dcdfa3d86b9b19368',
      ],
      [
        9,
        'thread listing plan',
        'bd50bff76fee2529ecf01f2df18744a03a5e8ff03e137535d97d909f4c1e2742',
      ],
      [10, 'search tokens', 'c906e402845fe1e1326a87542412a5f12ab6f3c93953e886f40482558dcd615d'],
    ]);
  });

  // What an operator upgrading from each released version runs: the migrations after it,
  // each once, in order, and none it already has.
  it.each(MIGRATIONS.map((migration) => migration.version))(
    'renderMigrationSql from %i holds every later migration in order, and no other',
    (from) => {
      const script = renderMigrationSql('entelix', { from });
      const headers = [...script.matchAll(/^-- migration (\d+): (.+)$/gm)].map(
        ([, version, name]) => [Number(version), name],
      );
      expect(headers).toEqual(
        MIGRATIONS.filter((migration) => migration.version > from).map((migration) => [
          migration.version,
          migration.name,
        ]),
      );
    },
  );

  it('fails with SCHEMA_VERSION_MISMATCH when the database is ahead of the code', async () => {
    const pglite = await freshPGlite();
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
    const pglite = await freshPGlite();
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
    const pglite = await freshPGlite();
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
    const pglite = await freshPGlite();
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

/** A PGlite holding schema version `version`, as a deployment of that release had it. */
async function pgliteAtVersion(version: number): Promise<PGlite> {
  const pglite = await freshPGlite();
  await pglite.exec(`CREATE SCHEMA entelix;
    CREATE TABLE entelix.schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());`);
  for (const migration of MIGRATIONS.slice(0, version)) {
    await pglite.exec(`${migration.sql('"entelix"')}
      INSERT INTO entelix.schema_migrations (version, name)
      VALUES (${migration.version}, '${migration.name}');`);
  }
  return pglite;
}

/** The deploying guide's grants for the application role, re-run after a migration. */
const APPLICATION_GRANTS = applicationGrants('entelix', APP_ROLE);

/** {@link pgliteAtVersion} with the application role, granted what the deploying guide grants. */
async function pgliteAtVersionWithApplicationRole(version: number): Promise<PGlite> {
  const pglite = await pgliteAtVersion(version);
  await pglite.exec(
    `CREATE ROLE ${APP_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS; ${APPLICATION_GRANTS}`,
  );
  return pglite;
}

/** Back to the owning role, migrated by a bundle to the latest version, checked. */
async function upgradeAsOwner(pglite: PGlite): Promise<void> {
  await pglite.exec('RESET ROLE');
  await (await createPostgresPersistence({ pglite })).close();
  expect(await versionOf(pglite)).toBe(LATEST_SCHEMA_VERSION);
}

/** The settings function `name` runs with, and the session's own plan_cache_mode. */
async function functionSettings(pglite: PGlite, name: string) {
  const { rows } = await pglite.query<{ config: string[] | null; session: string }>(
    `SELECT p.proconfig AS config, current_setting('plan_cache_mode') AS session
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname = 'entelix' AND p.proname = $1`,
    [name],
  );
  return rows[0];
}

describe('migration 4 on a database at version 3', () => {
  it("keeps the checkpoints, and the new function runs once the guide's grants are re-run", async () => {
    const pglite = await pgliteAtVersionWithApplicationRole(3);
    const key = ThreadKey.of(randomId('tenant'), 'thread');
    await pglite.exec(`SET ROLE ${APP_ROLE}`);
    const before = await createPostgresPersistence({ pglite, migrate: 'off' });
    const parent = before.checkpointer<number>().create({ key, step: 0, state: 1 });
    await before.checkpointer<number>().put(parent);
    await before.close();

    await upgradeAsOwner(pglite);
    await pglite.exec(`SET ROLE ${APP_ROLE}`);
    const after = await createPostgresPersistence({ pglite, migrate: 'verify' });
    const checkpointer = after.checkpointer<number, string>();
    const child = checkpointer.create({ key, step: 1, state: 2, parentId: parent.id });
    const parentWrites = [{ taskId: 't', writes: [{ idx: 0, channel: 'c', value: 'w' }] }];
    // New functions are not granted until the guide's GRANT EXECUTE is re-run.
    expect(await codeOf(checkpointer.put(child, { parentWrites }))).toBe('BACKEND');
    await pglite.exec(`RESET ROLE; ${APPLICATION_GRANTS} SET ROLE ${APP_ROLE}`);
    await checkpointer.put(child, { parentWrites });
    expect((await checkpointer.getById(key, parent.id))?.pendingWrites).toMatchObject([
      { taskId: 't', value: 'w' },
    ]);
    expect((await checkpointer.getLatest(key))?.state).toBe(2);
    await after.close();
    await pglite.close();
  });
});

describe('migration 5 on a database at version 4', () => {
  it('store search keeps one plan, and the session keeps its own setting', async () => {
    const pglite = await pgliteAtVersionWithApplicationRole(4);
    expect((await functionSettings(pglite, 'store_search'))?.config).toBeNull();
    const tenant = randomId('tenant');
    await pglite.exec(`SET ROLE ${APP_ROLE}`);
    const before = await createPostgresPersistence({ pglite, migrate: 'off' });
    for (const key of ['b', 'a', 'c']) {
      await before.store().put(Namespace.of(tenant, 'docs', key), key, { key });
    }
    await before.close();

    await upgradeAsOwner(pglite);
    expect(await functionSettings(pglite, 'store_search')).toEqual({
      config: ['plan_cache_mode=force_generic_plan'],
      session: 'auto',
    });
    // Nothing to re-grant: the function is the same one, with the same results.
    await pglite.exec(`SET ROLE ${APP_ROLE}`);
    const after = await createPostgresPersistence({ pglite, migrate: 'verify' });
    // Past the five calls PL/pgSQL plans with their values before it may keep a plan.
    for (let call = 0; call < 7; call++) {
      const page = await after.store().search(tenant, { namespacePrefix: ['docs'], limit: 2 });
      expect(page.map((item) => item.key)).toEqual(['a', 'b']);
    }
    expect((await functionSettings(pglite, 'store_search'))?.session).toBe('auto');
    await after.close();
    await pglite.close();
  });
});

describe('migration 6 on a database at version 5', () => {
  /** Each item's key and mark, as the owner reads them. */
  const marks = async (pglite: PGlite) =>
    (
      await pglite.query<{ key: string; value_has_escape: boolean | null }>(
        'SELECT key, value_has_escape FROM entelix.store_items ORDER BY key',
      )
    ).rows.map((row) => [row.key, row.value_has_escape]);
  // JSON.stringify writes NUL as \u0000, which jsonb refuses: such a value is read
  // through filterable_json, marked or not.
  const items: [string, { kind: string; text: string }][] = [
    ['a', { kind: 'note', text: 'plain' }],
    ['b', { kind: 'task', text: 'plain' }],
    ['c', { kind: 'note', text: 'nul \u0000 here' }],
    ['d', { kind: 'note', text: 'a backslash and u: \\u' }],
  ];
  const filteredKeys = async (persistence: Persistence, tenant: string) => {
    const store = persistence.store<{ kind: string; text: string }>();
    const keysOf = async (filter: StoreFilter) =>
      (await store.search(tenant, { namespacePrefix: ['docs'], filter, limit: 10 })).map(
        (item) => item.key,
      );
    return [
      await keysOf({ kind: 'note' }),
      await keysOf({ kind: { $ne: 'task' }, text: { $gte: 'a' } }),
    ];
  };

  it('filters items written before it as before, and marks what each put writes', async () => {
    const pglite = await pgliteAtVersionWithApplicationRole(5);
    const tenant = randomId('tenant');
    await pglite.exec(`SET ROLE ${APP_ROLE}`);
    const before = await createPostgresPersistence({ pglite, migrate: 'off' });
    for (const [key, value] of items)
      await before.store().put(Namespace.of(tenant, 'docs'), key, value);
    const expected = [
      ['a', 'c', 'd'],
      ['a', 'c', 'd'],
    ];
    expect(await filteredKeys(before, tenant)).toEqual(expected);
    await before.close();

    await upgradeAsOwner(pglite);
    expect(await marks(pglite)).toEqual(items.map(([key]) => [key, null]));
    // Nothing to re-grant: the same functions, with the same arguments and results.
    await pglite.exec(`SET ROLE ${APP_ROLE}`);
    const after = await createPostgresPersistence({ pglite, migrate: 'verify' });
    expect(await filteredKeys(after, tenant)).toEqual(expected);
    // Written again (c, d) or anew (e, f): each put marks its value.
    const store = after.store<{ kind: string; text: string }>();
    for (const [key, value] of items.slice(2))
      await store.put(Namespace.of(tenant, 'docs'), key, value);
    await store.put(Namespace.of(tenant, 'docs'), 'e', { kind: 'note', text: 'plain' });
    await store.put(Namespace.of(tenant, 'docs'), 'f', { kind: 'note', text: '\u0000' });
    await pglite.exec('RESET ROLE');
    expect(await marks(pglite)).toEqual([
      ['a', null],
      ['b', null],
      ['c', true],
      ['d', true],
      ['e', false],
      ['f', true],
    ]);
    await pglite.exec(`SET ROLE ${APP_ROLE}`);
    expect(await filteredKeys(after, tenant)).toEqual([
      ['a', 'c', 'd', 'e', 'f'],
      ['a', 'c', 'd', 'e', 'f'],
    ]);
    await after.close();
    await pglite.close();
  });

  it("the deploying guide's backfill marks the items written before it", async () => {
    const guide = readFileSync(
      join(import.meta.dirname, '../../../docs/deploying-postgres.md'),
      'utf8',
    );
    const backfill = guide.match(/To mark\s+them all at once[\s\S]*?```sql\n([\s\S]*?)```/)?.[1];
    expect(backfill).toContain('UPDATE entelix.store_items');
    const pglite = await pgliteAtVersion(5);
    const tenant = randomId('tenant');
    const before = await createPostgresPersistence({ pglite, migrate: 'off' });
    for (const [key, value] of items)
      await before.store().put(Namespace.of(tenant, 'docs'), key, value);
    await before.close();
    const after = await createPostgresPersistence({ pglite });
    // PGlite's user is a superuser, as the guide asks; run it until it updates no row.
    while (((await pglite.query(backfill!)).affectedRows ?? 0) > 0);
    expect(await marks(pglite)).toEqual([
      ['a', false],
      ['b', false],
      ['c', true],
      ['d', true],
    ]);
    expect(await filteredKeys(after, tenant)).toEqual([
      ['a', 'c', 'd'],
      ['a', 'c', 'd'],
    ]);
    await after.close();
    await pglite.close();
  });
});

describe('migration 7 on a database at version 6', () => {
  it('$ne null skips a null field once migrated, with the items and plan setting kept and nothing re-granted', async () => {
    const pglite = await pgliteAtVersionWithApplicationRole(6);
    const tenant = randomId('tenant');
    const notNull = async (persistence: Persistence) =>
      (
        await persistence.store().search(tenant, {
          filter: { field: { $ne: null }, other: { $ne: 1 } },
          limit: 10,
        })
      ).map((item) => item.key);
    await pglite.exec(`SET ROLE ${APP_ROLE}`);
    const before = await createPostgresPersistence({ pglite, migrate: 'off' });
    const values: [string, unknown][] = [
      ['absent', {}],
      ['null', { field: null }],
      ['number', { field: 1 }],
    ];
    for (const [key, value] of values) {
      await before.store().put(Namespace.of(tenant, 'nulls'), key, value);
    }
    // What version 6 answered: the item whose field is null too.
    expect(await notNull(before)).toEqual(['absent', 'null', 'number']);
    await before.close();

    await upgradeAsOwner(pglite);
    expect((await functionSettings(pglite, 'store_search'))?.config).toEqual([
      'plan_cache_mode=force_generic_plan',
    ]);
    await pglite.exec(`SET ROLE ${APP_ROLE}`);
    const after = await createPostgresPersistence({ pglite, migrate: 'verify' });
    expect(await notNull(after)).toEqual(['absent', 'number']);
    await after.close();
    await pglite.close();
  });
});

describe('migration 8 on a database at version 7', () => {
  it('deleting a thread and purging a tenant move session heads once migrated, as the application role with nothing re-granted', async () => {
    const pglite = await pgliteAtVersionWithApplicationRole(7);
    const tenant = randomId('tenant');
    const deleted = ThreadKey.of(tenant, 'deleted');
    const purged = ThreadKey.of(tenant, 'purged');
    await pglite.exec(`SET ROLE ${APP_ROLE}`);
    const before = await createPostgresPersistence({ pglite, migrate: 'off' });
    for (const key of [deleted, purged]) await before.sessionLog().append(key, [1, 2, 3]);
    await before.sessionLog().deleteThread(deleted);
    // What version 7 did: the head stayed, and an append prepared before still matched it.
    expect(await before.sessionLog().head(deleted)).toBe(3);
    await before.close();

    await upgradeAsOwner(pglite);
    await pglite.exec(`SET ROLE ${APP_ROLE}`);
    const after = await createPostgresPersistence({ pglite, migrate: 'verify' });
    const log = after.sessionLog<number>();
    expect(await log.deleteThread(deleted)).toBe(0);
    expect(await log.head(deleted)).toBe(4);
    expect(await after.purgeTenant(tenant)).toMatchObject({ events: 3 });
    expect(await log.head(purged)).toBe(4);
    expect(await codeOf(log.append(purged, [4], { expectedHead: 3 }))).toBe('CONFLICT');
    expect(await log.append(purged, [4], { expectedHead: 4 })).toBe(5);
    await after.close();
    await pglite.close();
  });
});

describe('migration 9 on a database at version 8', () => {
  it('checkpoint thread listing keeps one plan, and the session keeps its own setting', async () => {
    const pglite = await pgliteAtVersionWithApplicationRole(8);
    expect((await functionSettings(pglite, 'checkpoint_threads'))?.config).toBeNull();
    const tenant = randomId('tenant');
    const other = randomId('tenant');
    await pglite.exec(`SET ROLE ${APP_ROLE}`);
    const before = await createPostgresPersistence({ pglite, migrate: 'off' });
    for (const [owner, thread] of [
      [tenant, 'c'],
      [tenant, 'a'],
      [other, 'b'],
      [tenant, 'b'],
    ] as const) {
      await before
        .checkpointer()
        .put(Checkpoint.create({ key: ThreadKey.of(owner, thread), step: 0, state: 0 }));
    }
    await before.close();

    await upgradeAsOwner(pglite);
    expect(await functionSettings(pglite, 'checkpoint_threads')).toEqual({
      config: ['plan_cache_mode=force_generic_plan'],
      session: 'auto',
    });
    // Nothing to re-grant: the function is the same one, with the same results.
    await pglite.exec(`SET ROLE ${APP_ROLE}`);
    const after = await createPostgresPersistence({ pglite, migrate: 'verify' });
    // Past the five calls PL/pgSQL plans with their values before it may keep a plan, and
    // with other tenants and bounds on the same plan.
    for (let call = 0; call < 7; call++) {
      const checkpointer = after.checkpointer();
      expect(await checkpointer.listThreads(tenant, { limit: 2 })).toEqual(['a', 'b']);
      expect(await checkpointer.listThreads(tenant, { after: 'a', limit: 5 })).toEqual(['b', 'c']);
      expect(await checkpointer.listThreads(other, { limit: 5 })).toEqual(['b']);
    }
    expect((await functionSettings(pglite, 'checkpoint_threads'))?.session).toBe('auto');
    await after.close();
    await pglite.close();
  });
});

describe('migration 10 on a database at version 9', () => {
  // Values as the bundle writes them: strings JSON writes with short escapes (quote,
  // backslash, line feed), and ones it writes as they are.
  const written: [string, JsonValue][] = [
    ['note', { kind: 'note', n: 1 }],
    ['notes', { kind: 'notes', n: 2 }],
    ['task', { kind: 'task', n: 3, text: 'mentions "note" and note' }],
    ['quote', { kind: 'say "hi"', n: 4 }],
    ['backslash', { kind: 'back\\slash', n: 5 }],
    ['newline', { kind: 'line\nbreak', n: 6 }],
    ['accent', { kind: 'caf\u00e9', n: 7 }],
    ['emoji', { kind: '\u{1F600}', n: 8 }],
    ['nul', { kind: 'x\u0000', n: 9 }],
    ['nested', { kind: { is: 'note' }, n: 10 }],
  ];
  // Values written behind the bundle's back, in JSON it never writes: an escaped slash
  // (marked as holding no \u escape, which is true) and \u escapes of plain letters
  // (marked as holding one, and unmarked, as an item of a build before version 6).
  const foreign: [string, string, boolean | null, JsonValue][] = [
    ['slash', '{"kind":"a\\/b","n":11}', false, { kind: 'a/b', n: 11 }],
    ['spelled', '{"kind":"n\\u006fte","n":12}', true, { kind: 'note', n: 12 }],
    ['unmarked', '{"kind":"n\\u006fte","n":13}', null, { kind: 'note', n: 13 }],
  ];
  const filters: StoreFilter[] = [
    { kind: 'note' },
    { kind: 'note', n: { $gt: 1 } },
    { kind: 'a/b' },
    { kind: 'say "hi"' },
    { kind: 'back\\slash' },
    { kind: 'line\nbreak' },
    { kind: 'caf\u00e9' },
    { kind: '\u{1F600}' },
    { kind: 'x\u0000' },
    { kind: { $in: ['note', 'task'] } },
    { kind: 'nothing' },
  ];
  const expected = filters.map((filter) =>
    [...written, ...foreign.map(([key, , , value]) => [key, value] as const)]
      .filter(([, value]) => matchesStoreFilter(value, readStoreFilter(filter)))
      .map(([key]) => key)
      .sort(),
  );
  const searched = async (persistence: Persistence, tenant: string, prefix: string[]) =>
    Promise.all(
      filters.map(async (filter) =>
        (await persistence.store().search(tenant, { namespacePrefix: prefix, filter, limit: 50 }))
          .map((item) => item.key)
          .sort(),
      ),
    );
  /** Rows put straight into the table, as the owner (row-level security does not bind it). */
  const writeBehindTheBundle = async (
    pglite: PGlite,
    tenant: string,
    scope: string,
    rows: readonly (readonly [string, string, boolean | null])[],
  ) => {
    await pglite.exec('RESET ROLE');
    for (const [key, state, mark] of rows) {
      await pglite.query(
        `INSERT INTO entelix.store_items
           (tenant_id, scope, key, value, value_has_escape, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, now(), now())`,
        [tenant, [scope], key, `{"schema_version":1,"state":${state}}`, mark],
      );
    }
    await pglite.exec(`SET ROLE ${APP_ROLE}`);
  };

  it('filters as before, also values in JSON the bundle never writes', async () => {
    const pglite = await pgliteAtVersionWithApplicationRole(9);
    const tenant = randomId('tenant');
    await pglite.exec(`SET ROLE ${APP_ROLE}`);
    const before = await createPostgresPersistence({ pglite, migrate: 'off' });
    for (const [key, value] of written)
      await before.store().put(Namespace.of(tenant, 'docs'), key, value);
    await writeBehindTheBundle(
      pglite,
      tenant,
      'docs',
      foreign.map(([key, state, mark]) => [key, state, mark]),
    );
    expect(await searched(before, tenant, ['docs'])).toEqual(expected);
    await before.close();

    await upgradeAsOwner(pglite);
    // The plan setting of migration 5, which CREATE OR REPLACE drops unless given again.
    expect((await functionSettings(pglite, 'store_search'))?.config).toEqual([
      'plan_cache_mode=force_generic_plan',
    ]);
    // Nothing to re-grant: the same function, with the same arguments and results.
    await pglite.exec(`SET ROLE ${APP_ROLE}`);
    const after = await createPostgresPersistence({ pglite, migrate: 'verify' });
    expect(await searched(after, tenant, ['docs'])).toEqual(expected);
    await after.close();
    await pglite.close();
  });

  it('no longer parses a value known to lack the string an $eq filter requires', async () => {
    const pglite = await pgliteAtVersionWithApplicationRole(9);
    const tenant = randomId('tenant');
    // A value that is not JSON: parsing it fails the whole search.
    await writeBehindTheBundle(pglite, tenant, 'broken', [
      ['fine', '{"kind":"note"}', false],
      ['garbled', '{"kind":"task"', false],
    ]);
    const keysOf = async (persistence: Persistence, filter: StoreFilter) =>
      (
        await persistence.store().search(tenant, { namespacePrefix: ['broken'], filter, limit: 10 })
      ).map((item) => item.key);
    const before = await createPostgresPersistence({ pglite, migrate: 'off' });
    expect(await codeOf(keysOf(before, { kind: 'note' }))).toBe('BACKEND');
    await before.close();

    await upgradeAsOwner(pglite);
    await pglite.exec(`SET ROLE ${APP_ROLE}`);
    const after = await createPostgresPersistence({ pglite, migrate: 'verify' });
    expect(await keysOf(after, { kind: 'note' })).toEqual(['fine']);
    // A value holding the string is parsed as before.
    expect(await codeOf(keysOf(after, { kind: 'task' }))).toBe('BACKEND');
    // So is every value for a filter whose strings JSON may write with an escape.
    expect(await codeOf(keysOf(after, { kind: 'a/b' }))).toBe('BACKEND');
    await after.close();
    await pglite.close();
  });
});

describe('migration 3 on a database at version 2', () => {
  it('keeps every row: checkpoints in the root namespace with empty metadata, heads, items and fences', async () => {
    const pglite = await pgliteAtVersionWithApplicationRole(2);
    const tenant = randomId('tenant');
    const key = ThreadKey.of(tenant, 'thread');
    const parent = crypto.randomUUID();
    const child = crypto.randomUUID();
    // Written by the version-2 functions, as the application role.
    await pglite.exec(`SET ROLE ${APP_ROLE}`);
    const createdAt = new Date('2025-01-02T03:04:05.678Z');
    for (const [id, parentId, step] of [
      [parent, null, 0],
      [child, parent, 1],
    ] as const) {
      await pglite.query(
        `SELECT entelix.put_checkpoint($1, $2, $3, $4, $5, $6, 'next', $7, NULL, NULL)`,
        [
          tenant,
          key.threadId,
          id,
          parentId,
          step,
          `{"schema_version":1,"state":${step}}`,
          createdAt,
        ],
      );
    }
    await pglite.query(`SELECT entelix.append_events($1, $2, $3, NULL, NULL)`, [
      tenant,
      key.threadId,
      ['{"schema_version":1,"state":"a"}', '{"schema_version":1,"state":"b"}'],
    ]);
    await pglite.query(
      `SELECT entelix.store_put($1, $2, 'k', '{"schema_version":1,"state":1}', NULL, NULL, NULL)`,
      [tenant, ['ns']],
    );
    const fence = (
      await pglite.query<{ fence: number }>(
        `SELECT entelix.try_acquire_lock($1, $2, 60000) AS fence`,
        [tenant, lockKeyOf(key)],
      )
    ).rows[0]?.fence;
    expect(fence).toBe(1);

    await upgradeAsOwner(pglite);
    await pglite.exec(`${APPLICATION_GRANTS} SET ROLE ${APP_ROLE}`);
    const persistence = await createPostgresPersistence({ pglite, migrate: 'verify' });
    const checkpointer = persistence.checkpointer<number>();
    const latest = await checkpointer.getLatest(key);
    expect(latest).toMatchObject({
      id: child,
      ns: '',
      parentId: parent,
      step: 1,
      state: 1,
      nextNode: 'next',
      metadata: {},
      pendingWrites: [],
    });
    expect(latest?.createdAt.getTime()).toBe(createdAt.getTime());
    expect((await checkpointer.listHistory(key, { limit: 10 })).map((cp) => cp.id)).toEqual([
      child,
      parent,
    ]);
    expect(await checkpointer.listThreads(tenant, { limit: 10 })).toEqual(['thread']);
    // The new primitives work on the old rows.
    await checkpointer.putWrites(key, { checkpointId: parent, taskId: 't' }, [
      { idx: 0, channel: 'c', value: 'w' },
    ]);
    expect((await checkpointer.getById(key, parent))?.pendingWrites).toHaveLength(1);
    const log = persistence.sessionLog<string>();
    expect(await log.head(key)).toBe(2);
    expect(await log.append(key, ['c'], { expectedHead: 2 })).toBe(3);
    expect((await log.loadLatest(key, { limit: 2 })).map((event) => event.event)).toEqual([
      'b',
      'c',
    ]);
    expect((await persistence.store().get(Namespace.of(tenant, 'ns'), 'k'))?.value).toBe(1);
    // The lease row kept its fence: the next grant is fence 2, and a purge moves past it.
    expect(await persistence.lock.tryAcquire(key, { ttlMs: 1_000 })).toBeUndefined();
    expect(await persistence.purgeTenant(tenant)).toEqual({
      checkpoints: 2,
      writes: 1,
      storeItems: 1,
      events: 3,
    });
    expect((await persistence.lock.tryAcquire(key, { ttlMs: 1_000 }))?.fence).toBe(3n);
    await pglite.close();
  });

  it('renames the lock and log functions with their grants, and drops the replaced ones', async () => {
    const pglite = await pgliteAtVersionWithApplicationRole(2);
    await (await createPostgresPersistence({ pglite })).close();
    const { rows } = await pglite.query<{ name: string; app: boolean }>(
      `SELECT p.proname AS name, has_function_privilege($1, p.oid, 'EXECUTE') AS app
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'entelix' ORDER BY p.proname COLLATE "C"`,
      [APP_ROLE],
    );
    const names = rows.map((row) => row.name);
    for (const gone of [
      'append_events',
      'put_checkpoint',
      'latest_checkpoint',
      'try_acquire_lock',
    ]) {
      expect(names).not.toContain(gone);
    }
    const granted = new Set(rows.filter((row) => row.app).map((row) => row.name));
    // Renamed: the grant went with them. New: not granted until the guide's GRANT is re-run.
    for (const renamed of ['lock_try_acquire', 'lock_extend', 'lock_release', 'log_load_since']) {
      expect(granted.has(renamed), renamed).toBe(true);
    }
    for (const created of ['checkpoint_put', 'log_append', 'store_search', 'tenant_purge']) {
      expect(granted.has(created), created).toBe(false);
    }
    await pglite.close();
  });

  it('renderMigrationSql from 2 upgrades a version-2 database, and refuses any other version', async () => {
    const script = renderMigrationSql('entelix', { from: 2 });
    expect(script).not.toContain('CREATE TABLE "entelix".checkpoints');
    expect(script).toContain('-- migration 3: runtime primitives');
    const pglite = await pgliteAtVersion(2);
    await pglite.exec(script);
    expect(await versionOf(pglite)).toBe(LATEST_SCHEMA_VERSION);
    const persistence = await createPostgresPersistence({ pglite, migrate: 'verify' });
    expect(
      await persistence.sessionLog().append(ThreadKey.of('t', 'x'), [1], { expectedHead: 0 }),
    ).toBe(1);
    // Run again, on what is now the latest version: refused in its first statement,
    // nothing changes.
    await expect(pglite.exec(script)).rejects.toThrow(/not at version 2/);
    // The script's own transaction is left failed, as a migration tool would find it.
    await pglite.exec('ROLLBACK');
    expect(await versionOf(pglite)).toBe(LATEST_SCHEMA_VERSION);
    await pglite.close();
    const fresh = await freshPGlite();
    await expect(fresh.exec(script)).rejects.toThrow(/not at version 2/);
    await fresh.close();
  });

  it('renderMigrationSql refuses a version it does not know with CONFIG', () => {
    for (const from of [-1, 1.5, LATEST_SCHEMA_VERSION + 1, '2']) {
      expect(() => renderMigrationSql('entelix', { from: from as number })).toThrow(
        expect.objectContaining({ code: 'CONFIG' }),
      );
    }
    // From the latest: nothing to apply, only the version check.
    expect(renderMigrationSql('entelix', { from: LATEST_SCHEMA_VERSION })).not.toContain(
      '-- migration',
    );
  });
});

async function versionOf(pglite: PGlite): Promise<number | undefined> {
  const { rows } = await pglite.query<{ version: number }>(
    'SELECT max(version) AS version FROM entelix.schema_migrations',
  );
  return rows[0]?.version;
}

describe('filters compare jsonb made safe from the stored text', () => {
  // What JSON.stringify writes for NUL and lone surrogates: escapes that jsonb refuses.
  const nul = '\u0000';
  const high = '\ud800';
  const low = '\udfff';

  it('filterable_json turns refused escapes into U+FFFD and leaves escaped backslashes alone', async () => {
    const pglite = await freshPGlite();
    await (await createPostgresPersistence({ pglite })).close();
    const cases: [unknown, unknown][] = [
      [
        { a: 'plain', n: 1.5 },
        { a: 'plain', n: 1.5 },
      ],
      [{ a: `x${nul}y` }, { a: 'x\ufffdy' }],
      [{ a: `${low}${high}${nul}` }, { a: '\ufffd\ufffd\ufffd' }],
      [{ [`k${nul}`]: high }, { 'k\ufffd': '\ufffd' }],
      // A backslash followed by the text "u0000" is no escape: it stays as it is.
      [{ a: '\\u0000' }, { a: '\\u0000' }],
      [{ a: `\\${nul}` }, { a: '\\\ufffd' }],
      [{ a: '\u001f\ud83d\ude00' }, { a: '\u001f\ud83d\ude00' }],
    ];
    for (const [value, filterable] of cases) {
      const { rows } = await pglite.query<{ json: unknown }>(
        'SELECT entelix.filterable_json($1) AS json',
        [JSON.stringify(value)],
      );
      expect(rows[0]?.json, JSON.stringify(value)).toEqual(filterable);
    }
    await pglite.close();
  });

  it('takes filter fields and values, scopes and metadata as data, never as SQL', async () => {
    const persistence = await createPostgresPersistence();
    const tenant = randomId("tenant'; --");
    const hostile = [
      "'; DROP TABLE entelix.store_items; --",
      '__proto__',
      'constructor',
      'a"b\\c',
      '$eq',
      '',
      '{}',
      '\\u0000',
      '%_*?[',
    ];
    const value = Object.fromEntries(hostile.map((field, i) => [field, `${field}=${i}`]));
    const ns = Namespace.of(tenant, "scope'); --", '\\');
    const store = persistence.store<Record<string, string>>();
    await store.put(ns, 'doc', value);
    await store.put(Namespace.of(tenant, 'other'), 'doc', { unrelated: 'x' });
    for (const [i, field] of hostile.entries()) {
      const found = await store.search(tenant, { filter: { [field]: `${field}=${i}` }, limit: 5 });
      expect(
        found.map((item) => item.value),
        field,
      ).toEqual([value]);
      const missed = await store.search(tenant, {
        filter: { [field]: { $ne: `${field}=${i}` } },
        limit: 5,
      });
      expect(
        missed.map((item) => item.namespace.scope),
        field,
      ).toEqual([['other']]);
    }
    expect(
      (await store.search(tenant, { namespacePrefix: ["scope'); --"], limit: 5 })).map(
        (i) => i.key,
      ),
    ).toEqual(['doc']);
    const key = ThreadKey.of(tenant, "thread'; --");
    const checkpointer = persistence.checkpointer();
    const checkpoint = Checkpoint.create({
      key,
      step: 0,
      state: 1,
      ns: "ns'; --",
      metadata: value,
    });
    await checkpointer.put(checkpoint);
    for (const field of hostile) {
      const history = await checkpointer.listHistory(key, {
        limit: 5,
        filter: { [field]: value[field] as string },
      });
      expect(
        history.map((cp) => cp.id),
        field,
      ).toEqual([checkpoint.id]);
    }
    expect(await checkpointer.listThreads(tenant, { limit: 5 })).toEqual(["thread'; --"]);
    expect(await persistence.purgeTenant(tenant)).toEqual({
      checkpoints: 1,
      writes: 0,
      storeItems: 2,
      events: 0,
    });
    await persistence.close();
  });

  it('stores and returns NUL and lone surrogates exactly, and filters on them as documented', async () => {
    const persistence = await createPostgresPersistence();
    const tenant = randomId('tenant');
    const ns = Namespace.of(tenant, 'docs');
    const store = persistence.store<{ s: string }>();
    const values: Record<string, string> = {
      nul: nul,
      high: high,
      replacement: '\ufffd',
      plain: 'x',
      literal: '\\u0000',
    };
    for (const [key, s] of Object.entries(values)) await store.put(ns, key, { s });
    for (const [key, s] of Object.entries(values)) {
      expect((await store.get(ns, key))?.value.s, key).toBe(s);
    }
    const found = async (s: string) =>
      (await store.search(tenant, { filter: { s }, limit: 10 })).map((item) => item.key);
    // One refused character equals another, and U+FFFD, once both sides are replaced.
    for (const wanted of [nul, low, '\ufffd']) {
      expect(await found(wanted)).toEqual(['high', 'nul', 'replacement']);
    }
    expect(await found('\\u0000')).toEqual(['literal']);
    expect(await found('x')).toEqual(['plain']);
    const searched = await store.search(tenant, { filter: { s: { $ne: 'x' } }, limit: 10 });
    expect(searched.map((item) => item.value.s)).toEqual([high, '\\u0000', nul, '\ufffd']);

    const key = ThreadKey.of(tenant, 'thread');
    const checkpointer = persistence.checkpointer();
    const marked = Checkpoint.create({ key, step: 0, state: nul, metadata: { mark: `${high}!` } });
    await checkpointer.put(marked);
    await checkpointer.put(Checkpoint.create({ key, step: 1, state: 1, metadata: { mark: 'x!' } }));
    const read = await checkpointer.getById(key, marked.id);
    expect(read?.metadata).toEqual({ mark: `${high}!` });
    expect(read?.state).toBe(nul);
    const history = await checkpointer.listHistory(key, { limit: 10, filter: { mark: `${nul}!` } });
    expect(history.map((cp) => cp.id)).toEqual([marked.id]);
    await persistence.close();
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
    const pglite = await freshPGlite();
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

  it('names each operation <contract>_<operation>, and a role with USAGE alone can run none of them', async () => {
    const pglite = await freshPGlite();
    await (await createPostgresPersistence({ pglite })).close();
    const { rows } = await pglite.query<{ name: string; argumentTypes: string }>(
      `SELECT p.proname AS name, oidvectortypes(p.proargtypes) AS "argumentTypes"
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'entelix' ORDER BY p.proname COLLATE "C"`,
    );
    expect(rows.map((row) => row.name)).toEqual([
      'check_fence',
      'checkpoint_delete_thread',
      'checkpoint_get',
      'checkpoint_history',
      'checkpoint_latest',
      'checkpoint_prune',
      'checkpoint_put',
      'checkpoint_put_with_writes',
      'checkpoint_put_writes',
      'checkpoint_threads',
      'checkpoint_update_state',
      'filterable_json',
      'lock_extend',
      'lock_release',
      'lock_try_acquire',
      'log_append',
      'log_archive_before',
      'log_delete_thread',
      'log_head',
      'log_load_latest',
      'log_load_since',
      'log_threads',
      'log_truncate_after',
      'scope_key',
      'store_delete',
      'store_evict_all_expired',
      'store_evict_expired',
      'store_filter_holds',
      'store_filter_in',
      'store_get',
      'store_get_many',
      'store_list',
      'store_namespaces',
      'store_put',
      'store_search',
      'tenant_purge',
    ]);
    expect(await publicFunctions(pglite)).toEqual([]);
    const role = `usage_only_${crypto.randomUUID().slice(0, 8)}`;
    await pglite.exec(`CREATE ROLE ${role} NOLOGIN; GRANT USAGE ON SCHEMA entelix TO ${role};`);
    await pglite.exec(`SET ROLE ${role}`);
    for (const { name, argumentTypes } of rows) {
      // Sub-selects, not constants: a strict function of constant NULLs is folded away
      // when the call is planned, before any privilege is checked.
      const nulls =
        argumentTypes === '' ? [] : argumentTypes.split(', ').map((t) => `(SELECT NULL::${t})`);
      await expect(
        pglite.query(`SELECT entelix.${name}(${nulls.join(', ')})`),
        name,
      ).rejects.toMatchObject({ code: '42501' });
    }
    await pglite.exec('RESET ROLE');
    await pglite.close();
  });

  it('a database at version 1 is migrated to the latest: PUBLIC loses EXECUTE, the application role keeps it', async () => {
    const pglite = await freshPGlite();
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
    const pglite = await freshPGlite();
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
    const pglite = await freshPGlite();
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
    const name = statementName(get);
    expect(name).toMatch(/^entelix_[0-9a-f]{32}$/);
    expect(name.length).toBeLessThanOrEqual(63);
    expect(statementName(`${get}`)).toBe(name);
    expect(statementName(get.replace('"a"', '"b"'))).not.toBe(name);
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
    const pglite = await freshPGlite();
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
    const pglite = await freshPGlite();
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
    const pglite = await freshPGlite();
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

describe("autovacuum's work on PGlite, which runs none", () => {
  /** Index entries and heap rows of the checkpoints table one statement reads. */
  const checkpointReadsOf = (pglite: PGlite, sql: string, params: unknown[]) =>
    pglite.transaction(async (tx) => {
      const tables = [['entelix.checkpoints']];
      const before = (await tx.query<{ n: number }>(READS_SQL, tables)).rows[0]!.n;
      await tx.query(sql, params);
      return (await tx.query<{ n: number }>(READS_SQL, tables)).rows[0]!.n - before;
    });

  /** A test on a fresh in-memory PGlite and a bundle over it, both closed afterwards. */
  const onPGlite = async (work: (pglite: PGlite, persistence: Persistence) => Promise<void>) => {
    const pglite = await freshPGlite();
    const persistence = await createPostgresPersistence({ pglite });
    try {
      await work(pglite, persistence);
    } finally {
      await persistence.close();
      await pglite.close();
    }
  };

  it('a checkpoint found by id reads its own entry, not its whole thread', () =>
    onPGlite(async (pglite, persistence) => {
      const checkpointer = persistence.checkpointer<number>();
      const key = ThreadKey.of('tenant', 'long');
      const ids: string[] = [];
      for (let step = 0; step < 1_000; step++) {
        const checkpoint = checkpointer.create({ key, step, state: step, parentId: ids.at(-1) });
        await checkpointer.put(checkpoint);
        ids.push(checkpoint.id);
      }
      const early = ids[9]!;
      expect(
        await checkpointReadsOf(pglite, 'SELECT * FROM entelix.checkpoint_get($1, $2, $3, $4)', [
          'tenant',
          'long',
          '',
          early,
        ]),
      ).toBeLessThanOrEqual(5);
      expect(
        await checkpointReadsOf(
          pglite,
          `SELECT entelix.checkpoint_put_writes($1, $2, $3, $4, $5, $6, '{0}', '{c}', '{"{}"}', NULL, NULL)`,
          ['tenant', 'long', '', early, 'task', ''],
        ),
      ).toBeLessThanOrEqual(5);
    }));

  it('checkpoints already stored are analyzed when the bundle opens', async () => {
    const pglite = await freshPGlite();
    await (await createPostgresPersistence({ pglite })).close();
    await pglite.exec(`
      INSERT INTO entelix.checkpoints (tenant_id, thread_id, ns, id, step, state, created_at)
      SELECT 'tenant', 'imported', '', gen_random_uuid(), n, '{"schema_version":1,"state":1}', now()
        FROM generate_series(1, 500) AS n`);
    const analyzedRows = async () =>
      (
        await pglite.query<{ rows: number }>(
          `SELECT reltuples::int AS rows FROM pg_class WHERE oid = 'entelix.checkpoints'::regclass`,
        )
      ).rows[0]?.rows;
    expect(await analyzedRows()).not.toBe(500);
    await (await createPostgresPersistence({ pglite, migrate: 'verify' })).close();
    expect(await analyzedRows()).toBe(500);
    await pglite.close();
  });

  const eventsTableBytes = async (pglite: PGlite) =>
    (
      await pglite.query<{ bytes: number }>(
        `SELECT pg_total_relation_size('entelix.session_events')::float8 AS bytes`,
      )
    ).rows[0]!.bytes;
  const events = Array.from({ length: 2_500 }, (_, n) => ({ n, text: 'x'.repeat(200) }));

  it('gives the space of removed rows back: threads written and deleted again and again do not grow the table', () =>
    onPGlite(async (pglite, persistence) => {
      const log = persistence.sessionLog<{ n: number; text: string }>();
      const sizes: number[] = [];
      for (let round = 0; round < 5; round++) {
        const key = ThreadKey.of('tenant', `round-${round}`);
        await log.append(key, events);
        sizes.push(await eventsTableBytes(pglite));
        expect(await log.deleteThread(key)).toBe(events.length);
      }
      // Unvacuumed, each round adds its 2,500 rows' pages to the last (5x the first).
      expect(sizes.at(-1)).toBeLessThan(sizes[0]! * 1.5);
    }));

  it('needs no vacuum for rows replaced in place: items put over and heads bumped again and again do not grow their tables', () =>
    onPGlite(async (pglite, persistence) => {
      const store = persistence.store<{ n: number; text: string }>();
      const log = persistence.sessionLog<{ n: number }>();
      const replacedTablesBytes = async () =>
        (
          await pglite.query<{ bytes: number }>(
            `SELECT (pg_total_relation_size('entelix.store_items')
                     + pg_total_relation_size('entelix.session_heads'))::float8 AS bytes`,
          )
        ).rows[0]!.bytes;
      const replace = async (from: number, to: number) => {
        for (let n = from; n < to; n++) {
          await store.put(Namespace.of('tenant', 'replaced'), `item-${n % 10}`, {
            n,
            text: 'x'.repeat(200),
          });
          await log.append(ThreadKey.of('tenant', `thread-${n % 10}`), [{ n }]);
        }
      };
      await replace(0, 500);
      const early = await replacedTablesBytes();
      await replace(500, 3_000);
      // Each put and append leaves the old row version behind; the updates touch no indexed
      // column, so Postgres prunes those versions from the page as it reads it (a heap-only
      // update). An index on a column they change would grow with every call.
      expect(await replacedTablesBytes()).toBeLessThan(early * 1.5);
    }));

  it("leaves the vacuum to a later call when a call runs in the application's own transaction block", () =>
    onPGlite(async (pglite, persistence) => {
      const log = persistence.sessionLog<{ n: number; text: string }>();
      const key = ThreadKey.of('tenant', 'in-a-block');
      await log.append(key, events);
      await pglite.exec('BEGIN');
      expect(await log.deleteThread(key)).toBe(events.length);
      // A VACUUM attempted here would fail and abort the block: the delete would be lost.
      await pglite.exec('COMMIT');
      expect(await log.loadSince(key, 0)).toEqual([]);
    }));

  it('leaves it to a later call too when the block has written nothing yet', () =>
    onPGlite(async (pglite, persistence) => {
      const log = persistence.sessionLog<{ n: number; text: string }>();
      const removedInABlock = ThreadKey.of('tenant', 'removed-in-a-block');
      await log.append(removedInABlock, events);
      await pglite.exec('BEGIN');
      await log.deleteThread(removedInABlock);
      await pglite.exec('COMMIT');
      // The removed rows are enough for a vacuum, still owed: the next call that removes
      // anything qualifies, here one that removes nothing in a block that has only read.
      const written = ThreadKey.of('tenant', 'written-in-a-block');
      await pglite.exec('BEGIN');
      await pglite.query('SELECT 1');
      expect(await log.deleteThread(ThreadKey.of('tenant', 'never-written'))).toBe(0);
      await log.append(written, events.slice(0, 1));
      await pglite.exec('COMMIT');
      expect(await log.loadSince(written, 0)).toHaveLength(1);
    }));
});

describe('lookups under row-level security (PGlite, application role)', () => {
  indexReadTests(async () => {
    const pglite = await createPGliteAsAppRole();
    return {
      schema: 'entelix',
      asApplication: (work) =>
        pglite.transaction((tx) => work((text, params) => tx.query(text, params))),
      // PGlite's session user is a superuser: become it for one transaction.
      asOwner: (sql) =>
        pglite.transaction(async (tx) => {
          await tx.query('SET LOCAL ROLE postgres');
          await tx.exec(sql);
        }),
      close: () => pglite.close(),
    };
  });
});

describe('checkpoint reads issued together (PGlite, application role)', () => {
  gatheredReadTests(async (intercept) => {
    const pglite = await createPGliteAsAppRole();
    return {
      persistence: await createPostgresPersistence({
        pglite: interceptPglite(pglite, intercept),
        migrate: 'verify',
      }),
      schema: '"entelix"',
      close: () => pglite.close(),
    };
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
    const pglite = await freshPGlite();
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

  it('sql --from prints only what upgrades a database at that version', async () => {
    const { output, io } = capture();
    expect(await runCli(['sql', '--from', '2', '--schema', 'upgraded'], io, {})).toBe(0);
    expect(output.stdout).toBe(renderMigrationSql('upgraded', { from: 2 }));
    for (const argv of [
      ['sql', '--from', 'two'],
      ['sql', '--from', '-1'],
      ['sql', '--from', ''],
      ['migrate', '--from', '2'],
    ]) {
      const bad = capture();
      expect(await runCli(argv, bad.io, {}), argv.join(' ')).toBe(2);
    }
    const ahead = capture();
    expect(await runCli(['sql', '--from', String(LATEST_SCHEMA_VERSION + 1)], ahead.io, {})).toBe(
      1,
    );
    expect(ahead.output.stderr).toContain('(CONFIG)');
  });

  it('runs as the bin npm links: a committed shim over the build', () => {
    const packageDir = join(import.meta.dirname, '..');
    const manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as {
      bin: Record<string, string>;
      files: string[];
    };
    const bin = manifest.bin['entelix-postgres'] as string;
    expect(manifest.files).toContain(bin.split('/')[1]);
    const run = spawnSync(process.execPath, [join(packageDir, bin), 'sql', '--from', '2'], {
      encoding: 'utf8',
    });
    expect(run.status).toBe(0);
    expect(run.stdout).toBe(renderMigrationSql('entelix', { from: 2 }));
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
