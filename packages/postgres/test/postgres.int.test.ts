import { Checkpoint, Namespace, type Persistence, type SessionLog, ThreadKey } from '@entelix/core';
import { lockKeyOf } from '@entelix/core/adapter';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { interceptPool } from '../../../test-support/intercept.js';
import { APP_ROLE } from '../../../test-support/postgres-roles.js';
import { describeWithService } from '../../../test-support/services.js';
import { runCli } from '../src/cli.js';
import {
  checkPostgresDeployment,
  createPostgresPersistence,
  LATEST_SCHEMA_VERSION,
} from '../src/index.js';
import { readBackLeadingByteOrderMarks } from './byte-order-mark.js';
import { gatheredReadTests } from './gathered-reads.js';
import { indexReadTests } from './index-reads.js';
import {
  closeWriteGate,
  createTestSchema,
  GATED,
  installWriteGates,
  randomSchemaName,
  type TestSchema,
  waitingForLock,
} from './pg-support.js';

const TABLES = [
  'checkpoints',
  'checkpoint_writes',
  'store_items',
  'session_heads',
  'session_events',
  'locks',
];

function silentCli() {
  const output = { stdout: '', stderr: '' };
  const io = {
    out: (text: string) => {
      output.stdout += text;
    },
    err: (text: string) => {
      output.stderr += text;
    },
  };
  return { output, io };
}

describeWithService('DATABASE_URL', 'postgres (real server, application role)', (url) => {
  let setup: TestSchema;
  let appPool: pg.Pool;

  beforeAll(async () => {
    setup = await createTestSchema(url);
    appPool = new pg.Pool({ connectionString: setup.appUrl, max: 4 });
  });
  afterAll(async () => {
    await appPool?.end();
    await setup?.drop();
  });

  describe('preparedStatements', () => {
    const preparedNames = async (pool: pg.Pool) => {
      const { rows } = await pool.query<{ name: string }>(
        `SELECT name FROM pg_prepared_statements WHERE name LIKE 'entelix\\_%' ORDER BY name`,
      );
      return rows.map((row) => row.name);
    };

    it('prepares each statement once per connection when on, never when off', async () => {
      for (const preparedStatements of [true, false]) {
        // One connection, so the catalog query below sees the statements it prepared.
        const pool = new pg.Pool({ connectionString: setup.appUrl, max: 1 });
        const persistence = await createPostgresPersistence({
          pool,
          schema: setup.schema,
          migrate: 'verify',
          preparedStatements,
        });
        const ns = Namespace.of('tenant-prepared', 'notes');
        const store = persistence.store();
        for (let i = 0; i < 3; i++) await store.put(ns, 'k', { i });
        expect((await store.get(ns, 'k'))?.value).toEqual({ i: 2 });
        const names = await preparedNames(pool);
        // Running the same operations again prepares nothing new.
        await store.put(ns, 'k', { i: 3 });
        await store.get(ns, 'k');
        expect(await preparedNames(pool)).toEqual(names);
        if (preparedStatements) {
          // At least put and get, with names derived from their texts.
          expect(names.length).toBeGreaterThanOrEqual(2);
          for (const name of names) expect(name).toMatch(/^entelix_[0-9a-f]{32}$/);
        } else {
          expect(names).toEqual([]);
        }
        await persistence.close();
        await pool.end();
      }
    });
  });

  describe('row-level security canary', () => {
    const tenantA = `a-${crypto.randomUUID()}`;
    const tenantB = `b-${crypto.randomUUID()}`;

    beforeAll(async () => {
      const persistence = await createPostgresPersistence({
        pool: appPool,
        schema: setup.schema,
        migrate: 'verify',
      });
      const key = ThreadKey.of(tenantB, 'thread');
      await persistence.checkpointer().put(Checkpoint.create({ key, step: 0, state: 'b' }));
      await persistence.store().put(Namespace.of(tenantB, 'ns'), 'k', 'b');
      await persistence.sessionLog().append(key, ['b']);
      expect(await persistence.lock.tryAcquire(key, { ttlMs: 60_000 })).toBeDefined();
    });

    it('the application role is neither superuser nor BYPASSRLS', async () => {
      const { rows } = await appPool.query(
        'SELECT current_user AS role, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user',
      );
      expect(rows).toEqual([{ role: APP_ROLE, rolsuper: false, rolbypassrls: false }]);
    });

    it('with no tenant set, every table reads 0 rows and an insert is refused', async () => {
      for (const table of TABLES) {
        const { rows } = await appPool.query(
          `SELECT count(*)::int AS n FROM "${setup.schema}".${table}`,
        );
        expect(rows[0].n, table).toBe(0);
      }
      // The owner sees tenant B's rows: they exist, RLS hides them.
      const owned = await setup.ownerPool.query(
        `SELECT count(*)::int AS n FROM "${setup.schema}".session_events WHERE tenant_id = $1`,
        [tenantB],
      );
      expect(owned.rows[0].n).toBe(1);
      await expect(
        appPool.query(`INSERT INTO "${setup.schema}".session_heads VALUES ($1, 't', 1)`, [tenantB]),
      ).rejects.toMatchObject({ code: '42501' });
    });

    it('with tenant A set, tenant B rows are invisible and cannot be written', async () => {
      const client = await appPool.connect();
      try {
        await client.query('BEGIN');
        await client.query(`SELECT set_config('entelix.tenant_id', $1, true)`, [tenantA]);
        for (const table of TABLES) {
          const { rows } = await client.query(
            `SELECT count(*)::int AS n FROM "${setup.schema}".${table} WHERE tenant_id = $1`,
            [tenantB],
          );
          expect(rows[0].n, table).toBe(0);
        }
        const updated = await client.query(
          `UPDATE "${setup.schema}".store_items SET value = 'stolen' WHERE tenant_id = $1`,
          [tenantB],
        );
        expect(updated.rowCount).toBe(0);
        await expect(
          client.query(`INSERT INTO "${setup.schema}".session_heads VALUES ($1, 't', 1)`, [
            tenantB,
          ]),
        ).rejects.toMatchObject({ code: '42501' });
        await client.query('ROLLBACK');
        // Transaction-local: the connection carries no tenant afterwards.
        const after = await client.query(
          `SELECT coalesce(current_setting('entelix.tenant_id', true), '') AS tenant`,
        );
        expect(after.rows[0].tenant).toBe('');
      } finally {
        client.release();
      }
    });

    it('evictExpired() sweeps every tenant as the application role', async () => {
      const persistence = await createPostgresPersistence({
        pool: appPool,
        schema: setup.schema,
        migrate: 'verify',
      });
      const store = persistence.store();
      await store.put(Namespace.of(tenantA, 'ttl'), 'k', 1, { ttlMs: 1 });
      await store.put(Namespace.of(tenantB, 'ttl'), 'k', 1, { ttlMs: 1 });
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(await store.evictExpired()).toBeGreaterThanOrEqual(2);
      const left = await setup.ownerPool.query(
        `SELECT count(*)::int AS n FROM "${setup.schema}".store_items WHERE tenant_id = ANY($1)`,
        [[tenantA, tenantB]],
      );
      expect(left.rows[0].n).toBe(1); // tenant B's permanent item from the setup
    });
  });

  describe('many connections', () => {
    async function bundles(count: number): Promise<{ all: Persistence[]; close(): Promise<void> }> {
      const pools = Array.from(
        { length: count },
        () => new pg.Pool({ connectionString: setup.appUrl, max: 1 }),
      );
      const all = await Promise.all(
        pools.map((pool) =>
          createPostgresPersistence({ pool, schema: setup.schema, migrate: 'verify' }),
        ),
      );
      return {
        all,
        async close() {
          await Promise.all(pools.map((pool) => pool.end()));
        },
      };
    }

    it('8 connections x 50 appends on one thread give ordinals 1..400 exactly', async () => {
      const { all, close } = await bundles(8);
      const key = ThreadKey.of(`t-${crypto.randomUUID()}`, 'shared');
      const heads = await Promise.all(
        all.map(async (persistence, writer) => {
          const log = persistence.sessionLog<{ writer: number; n: number }>();
          const returned: number[] = [];
          for (let n = 0; n < 50; n++) returned.push(await log.append(key, [{ writer, n }]));
          return returned;
        }),
      );
      await close();
      expect(
        heads
          .flat()
          .sort((a, b) => a - b)
          .every((head, i) => head === i + 1),
      ).toBe(true);
      const persistence = await createPostgresPersistence({
        pool: appPool,
        schema: setup.schema,
        migrate: 'verify',
      });
      const events = await persistence
        .sessionLog<{ writer: number; n: number }>()
        .loadSince(key, 0);
      expect(events.map((event) => event.seq)).toEqual(
        Array.from({ length: 400 }, (_, i) => i + 1),
      );
      // Each writer's events keep their order.
      for (let writer = 0; writer < 8; writer++) {
        const mine = events.filter((event) => event.event.writer === writer).map((e) => e.event.n);
        expect(mine).toEqual(Array.from({ length: 50 }, (_, i) => i));
      }
    });

    it('20 connections racing tryAcquire on one key get exactly one lease', async () => {
      const { all, close } = await bundles(20);
      const key = ThreadKey.of(`t-${crypto.randomUUID()}`, 'contended');
      const leases = await Promise.all(
        all.map((persistence) => persistence.lock.tryAcquire(key, { ttlMs: 30_000 })),
      );
      const granted = leases.filter((lease) => lease !== undefined);
      expect(granted).toHaveLength(1);
      expect(granted[0]?.fence).toBe(1n);
      await granted[0]?.release();
      await close();
    });
  });

  describe('migrations', () => {
    it('10 concurrent migrate runs on a fresh schema apply it exactly once', async () => {
      const schema = randomSchemaName();
      try {
        const runs = await Promise.all(
          Array.from({ length: 10 }, async () => {
            const { output, io } = silentCli();
            const code = await runCli(
              ['migrate', '--schema', schema, '--database-url', url],
              io,
              {},
            );
            return { code, output };
          }),
        );
        expect(runs.map((run) => run.code)).toEqual(Array(10).fill(0));
        // Each migration is applied by exactly one run (not always the same run for all).
        const applied = runs.flatMap((run) =>
          (/^applied migration\(s\) ([\d, ]+);/.exec(run.output.stdout)?.[1] ?? '')
            .split(', ')
            .filter((version) => version !== '')
            .map(Number),
        );
        const every = Array.from({ length: LATEST_SCHEMA_VERSION }, (_, i) => i + 1);
        expect(applied.sort((a, b) => a - b)).toEqual(every);
        const versions = await setup.ownerPool.query(
          `SELECT version FROM "${schema}".schema_migrations ORDER BY version`,
        );
        expect(versions.rows.map((row) => row.version)).toEqual(every);
        // And ten bundles starting at once against the migrated schema all come up.
        const bundles = await Promise.all(
          Array.from({ length: 10 }, () =>
            createPostgresPersistence({ connectionString: url, schema }),
          ),
        );
        await Promise.all(bundles.map((bundle) => bundle.close()));
      } finally {
        await setup.ownerPool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      }
    });
  });

  describe('writes racing on one checkpoint or one head', () => {
    const suffix = crypto.randomUUID().slice(0, 8);
    const writerName = `entelix-writer-${suffix}`;
    const deleterName = `entelix-deleter-${suffix}`;
    const pools: pg.Pool[] = [];
    let writer: Persistence;
    let deleter: Persistence;

    beforeAll(async () => {
      await installWriteGates(setup.ownerPool, setup.schema);
      [writer, deleter] = (await Promise.all(
        [writerName, deleterName].map((applicationName) => {
          const pool = new pg.Pool({
            connectionString: setup.appUrl,
            application_name: applicationName,
            max: 1,
          });
          pools.push(pool);
          return createPostgresPersistence({ pool, schema: setup.schema, migrate: 'verify' });
        }),
      )) as [Persistence, Persistence];
    });
    afterAll(async () => {
      await Promise.all(pools.map((pool) => pool.end()));
    });

    const codeOf = (promise: Promise<unknown>) =>
      promise.then(
        () => 'resolved',
        (error: unknown) => (error as { code?: string }).code,
      );

    // The first write is held after it moved the head; the second, from the same head,
    // must wait for it and then find the head moved. Checked in a statement of its own
    // first (a read, then the bump), it would pass the check and bump the head again.
    const conditionalWrites: [
      string,
      number,
      (log: SessionLog<unknown>, key: ThreadKey) => Promise<unknown>,
    ][] = [
      [
        'a second append from the same head',
        1,
        (log, key) => log.append(key, ['late'], { expectedHead: 1 }),
      ],
      [
        'the first append to a new thread, twice',
        0,
        (log, key) => log.append(key, ['late'], { expectedHead: 0 }),
      ],
      [
        'a truncation guarded by the same head',
        1,
        (log, key) => log.truncateAfter(key, 0, { expectedHead: 1 }),
      ],
    ];
    for (const [race, head, second] of conditionalWrites) {
      it(`${race} waits for the first and is CONFLICT, changing nothing`, async () => {
        const key = ThreadKey.of(`t-${crypto.randomUUID()}`, 'conditional');
        if (head > 0) await writer.sessionLog().append(key, ['first']);
        const gate = await closeWriteGate(setup.ownerPool, setup.schema);
        let first: Promise<unknown> = Promise.resolve();
        let late: Promise<unknown> = Promise.resolve();
        try {
          first = writer.sessionLog().append(key, [GATED], { expectedHead: head });
          await waitingForLock(setup.ownerPool, writerName, 'advisory');
          late = codeOf(second(deleter.sessionLog(), key));
          await waitingForLock(setup.ownerPool, deleterName);
        } finally {
          await gate.open();
        }
        expect(await first).toBe(head + 1);
        expect(await late).toBe('CONFLICT');
        const log = writer.sessionLog<string>();
        expect(await log.head(key)).toBe(head + 1);
        expect((await log.loadSince(key, 0)).map((event) => event.event)).toEqual(
          head > 0 ? ['first', GATED] : [GATED],
        );
      });
    }

    const removals: [
      string,
      (persistence: Persistence, key: ThreadKey) => Promise<unknown>,
      unknown,
    ][] = [
      ['deleteThread', (persistence, key) => persistence.checkpointer().deleteThread(key), 1],
      ['prune', (persistence, key) => persistence.checkpointer().prune(key, { keepLatest: 0 }), 1],
      [
        'purgeTenant',
        (persistence, key) => persistence.purgeTenant(key.tenantId),
        { checkpoints: 1, writes: 1, storeItems: 0, events: 0 },
      ],
    ];
    it('purgeTenant waits for a fenced append that holds its lock row, in the order the append takes rows, and never deadlocks', async () => {
      const key = ThreadKey.of(`t-${crypto.randomUUID()}`, 'fenced');
      await writer.sessionLog().append(key, ['first']);
      const lease = await writer.lock.tryAcquire(key, { ttlMs: 30_000 });
      if (lease === undefined) throw new Error('no lease');
      const fence = [lockKeyOf(key), lease.fence.toString()];
      const s = `"${setup.schema}"`;
      const appender = await appPool.connect();
      let purge: Promise<unknown> = Promise.resolve();
      try {
        // A fenced write locks its lock row first (check_fence), then the head: the
        // append is held between the two, where a purge taking the head first would
        // wait for the lock row while the append waits for the head.
        await appender.query('BEGIN');
        await appender.query(`SELECT set_config('entelix.tenant_id', $1, true)`, [key.tenantId]);
        await appender.query(`SELECT ${s}.check_fence($1, $2, $3)`, [key.tenantId, ...fence]);
        purge = deleter.purgeTenant(key.tenantId);
        await waitingForLock(setup.ownerPool, deleterName);
        await appender.query(
          `SELECT ${s}.log_append($1, $2, ARRAY['"second"'], NULL, NULL, $3, $4)`,
          [key.tenantId, key.threadId, ...fence],
        );
        await appender.query('COMMIT');
      } finally {
        await appender.query('ROLLBACK').catch(() => {});
        appender.release();
      }
      expect(await purge).toMatchObject({ events: 2 });
      expect(await writer.sessionLog().head(key)).toBe(3);
      await expect(
        writer.sessionLog().append(key, ['late'], { fence: lease }),
      ).rejects.toMatchObject({ code: 'FENCED' });
    });

    for (const [operation, remove, removed] of removals) {
      it(`${operation} waits for a putWrites holding the checkpoint, then deletes its writes too`, async () => {
        const key = ThreadKey.of(`t-${crypto.randomUUID()}`, 'raced');
        const checkpoint = Checkpoint.create({ key, step: 0, state: 1 });
        await writer.checkpointer().put(checkpoint);
        const gate = await closeWriteGate(setup.ownerPool, setup.schema);
        let put: Promise<unknown> = Promise.resolve();
        let removal: Promise<unknown> = Promise.resolve();
        try {
          // The putWrites holds the checkpoint FOR KEY SHARE and waits at the gate with
          // its write inserted; the removal then waits for that lock.
          put = writer
            .checkpointer()
            .putWrites(key, { checkpointId: checkpoint.id, taskId: 't' }, [
              { idx: 0, channel: 'c', value: GATED },
            ]);
          await waitingForLock(setup.ownerPool, writerName, 'advisory');
          removal = remove(deleter, key);
          await waitingForLock(setup.ownerPool, deleterName);
        } finally {
          await gate.open();
        }
        expect(await put).toBeUndefined();
        expect(await removal).toEqual(removed);
        const { rows } = await setup.ownerPool.query(
          `SELECT count(*)::int AS n FROM "${setup.schema}".checkpoint_writes WHERE tenant_id = $1`,
          [key.tenantId],
        );
        expect(rows[0].n).toBe(0);
      });
    }
  });

  describe('lookups under row-level security (application role)', () => {
    indexReadTests(async () => ({
      schema: setup.schema,
      async asApplication(work) {
        const client = await appPool.connect();
        try {
          await client.query('BEGIN');
          const result = await work((text, params) => client.query(text, params));
          await client.query('COMMIT');
          return result;
        } catch (error) {
          await client.query('ROLLBACK');
          throw error;
        } finally {
          client.release();
        }
      },
      async asOwner(sql) {
        await setup.ownerPool.query(sql);
      },
      async close() {
        // The schema is dropped with the suite's.
      },
    }));
  });

  describe('checkpoint reads issued together (application role)', () => {
    gatheredReadTests(async (intercept) => {
      // The pool is the suite's, ended with it.
      const pool = { ...interceptPool(appPool, intercept), end: async () => {} };
      return {
        persistence: await createPostgresPersistence({
          pool,
          schema: setup.schema,
          migrate: 'verify',
        }),
        schema: `"${setup.schema}"`,
        close: async () => {},
      };
    });
  });

  it('returns ids beginning with U+FEFF exactly, which PGlite cannot', async () => {
    const persistence = await createPostgresPersistence({
      pool: appPool,
      schema: setup.schema,
      migrate: 'verify',
    });
    expect(await readBackLeadingByteOrderMarks(persistence)).toEqual({
      storeKeys: ['\ufeffkey'],
      checkpointThreads: ['\ufeffthread'],
      logThreads: ['\ufeffthread'],
      markedTenantRead: ['event'],
    });
    await persistence.close();
  });

  describe('doctor', () => {
    it('reports a superuser owner connection as a problem', async () => {
      const report = await checkPostgresDeployment({ connectionString: url, schema: setup.schema });
      expect(report.ok).toBe(false);
      expect(report.schemaVersion).toBe(LATEST_SCHEMA_VERSION);
      // A superuser is a member of every role: only the superuser problem is reported.
      expect(report.findings.map((finding) => finding.check)).toEqual(['superuser']);
      const { output, io } = silentCli();
      expect(
        await runCli(['doctor', '--schema', setup.schema, '--database-url', url], io, {}),
      ).toBe(1);
      expect(output.stderr).toContain('superuser');
    });

    it('passes as the application role', async () => {
      const report = await checkPostgresDeployment({
        connectionString: setup.appUrl,
        schema: setup.schema,
      });
      expect(report).toEqual({
        ok: true,
        problems: [],
        findings: [],
        role: APP_ROLE,
        schemaVersion: LATEST_SCHEMA_VERSION,
      });
      const { output, io } = silentCli();
      expect(
        await runCli(['doctor', '--schema', setup.schema, '--database-url', setup.appUrl], io, {}),
      ).toBe(0);
      expect(output.stdout).toContain('ok:');
    });

    it('flags a table whose row-level security is not forced, and an unmigrated schema', async () => {
      await setup.ownerPool.query(
        `ALTER TABLE "${setup.schema}".locks NO FORCE ROW LEVEL SECURITY`,
      );
      try {
        const report = await checkPostgresDeployment({
          connectionString: setup.appUrl,
          schema: setup.schema,
        });
        expect(report.findings.map((finding) => finding.check)).toEqual(['rls-not-forced']);
        expect(report.problems[0]).toContain(`${setup.schema}.locks`);
      } finally {
        await setup.ownerPool.query(`ALTER TABLE "${setup.schema}".locks FORCE ROW LEVEL SECURITY`);
      }
      const missing = await checkPostgresDeployment({
        connectionString: setup.appUrl,
        schema: randomSchemaName(),
      });
      expect(missing.findings.map((finding) => finding.check)).toEqual(['schema-missing']);
      expect(missing.schemaVersion).toBe(0);
    });
  });
});
