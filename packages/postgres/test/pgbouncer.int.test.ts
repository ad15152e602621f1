import { runConformance } from '@entelix/conformance';
import { Checkpoint, Namespace, type Persistence, ThreadKey } from '@entelix/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWithService } from '../../../test-support/services.js';
import { checkPostgresDeployment, createPostgresPersistence } from '../src/index.js';
import {
  createTestSchema,
  installStallTriggers,
  realServerTarget,
  STALL,
  stalledBackends,
  type TestSchema,
  terminateBackends,
} from './pg-support.js';

// PgBouncer in transaction pooling mode (scripts/services/pgbouncer.sh) in front of
// the server: migrations run directly against DATABASE_URL as the owner; the
// application role goes through the bouncer, so consecutive statements of one client
// may run on different server connections and one server connection serves many
// clients one transaction at a time.

/** The same bouncer, database alias whose pool is a single server connection. */
function singleServerUrl(bouncerUrl: string): string {
  const url = new URL(bouncerUrl);
  url.pathname = '/test_single_server';
  return url.toString();
}

function directUrl(): string {
  const url = process.env.DATABASE_URL;
  if (url === undefined || url === '') {
    throw new Error('the PgBouncer suites migrate directly: set DATABASE_URL too');
  }
  return url;
}

describeWithService('PGBOUNCER_URL', 'postgres conformance through PgBouncer', (bouncerUrl) => {
  runConformance(
    realServerTarget('postgres (PgBouncer, transaction pooling)', directUrl(), () => bouncerUrl),
  );
});

describeWithService(
  'PGBOUNCER_URL',
  'tenant context through one pooled connection',
  (bouncerUrl) => {
    let setup: TestSchema;
    const pools: pg.Pool[] = [];
    let bundles: Persistence[];
    let raw: pg.Pool;
    const tenants = [`a-${crypto.randomUUID()}`, `b-${crypto.randomUUID()}`];

    beforeAll(async () => {
      setup = await createTestSchema(directUrl());
      const url = singleServerUrl(bouncerUrl);
      // Four client pools of two connections each: eight clients, one server connection.
      for (let i = 0; i < 4; i++) pools.push(new pg.Pool({ connectionString: url, max: 2 }));
      raw = new pg.Pool({ connectionString: url, max: 2 });
      // The server connection outlives test runs (the bouncer keeps it, and transaction
      // pooling never resets it): start from a clean session whatever ran on it before.
      await raw.query('RESET ALL');
      bundles = await Promise.all(
        pools.map((pool) =>
          createPostgresPersistence({ pool, schema: setup.schema, migrate: 'verify' }),
        ),
      );
      // Each tenant gets data of every kind, all holding its own name.
      for (const tenant of tenants) {
        const bundle = bundles[0] as Persistence;
        const key = ThreadKey.of(tenant, 'thread');
        await bundle.checkpointer().put(Checkpoint.create({ key, step: 0, state: tenant }));
        await bundle.store().put(Namespace.of(tenant, 'ns'), 'k', tenant);
        await bundle.sessionLog().append(key, [tenant]);
      }
    });
    afterAll(async () => {
      await Promise.all([...pools, raw].filter(Boolean).map((pool) => pool.end()));
      await setup?.drop();
    });

    it('every client reaches the same single server connection', async () => {
      const pids = await Promise.all(
        [...pools, raw].flatMap((pool) =>
          [0, 1].map(async () => (await pool.query('SELECT pg_backend_pid() AS pid')).rows[0].pid),
        ),
      );
      expect(new Set(pids).size).toBe(1);
    });

    it('alternating tenants never see each other, and nothing is left on the connection', async () => {
      const s = `"${setup.schema}"`;
      const calls: Promise<void>[] = [];
      for (let i = 0; i < 240; i++) {
        const tenant = tenants[i % 2] as string;
        const bundle = bundles[i % bundles.length] as Persistence;
        const key = ThreadKey.of(tenant, 'thread');
        const ns = Namespace.of(tenant, 'ns');
        calls.push(
          (async () => {
            switch (i % 6) {
              case 0:
              case 1:
                expect((await bundle.store().get(ns, 'k'))?.value).toBe(tenant);
                break;
              case 2:
              case 3:
                expect((await bundle.checkpointer().getLatest(key))?.state).toBe(tenant);
                break;
              case 4:
                expect(
                  (await bundle.store().listNamespaces(tenant)).map((found) => found.tenantId),
                ).toEqual([tenant]);
                break;
              default:
                expect((await bundle.sessionLog().loadSince(key, 0)).map((e) => e.event)).toEqual([
                  tenant,
                ]);
            }
          })(),
        );
        // Between our calls, on the same server connection: no tenant, so no rows.
        if (i % 4 === 0) {
          calls.push(
            (async () => {
              const { rows } = await raw.query(
                `SELECT current_setting('entelix.tenant_id', true) AS tenant,
                      (SELECT count(*)::int FROM ${s}.store_items) AS items,
                      (SELECT count(*)::int FROM ${s}.checkpoints) AS checkpoints`,
              );
              expect(rows[0].tenant ?? '').toBe('');
              expect(rows[0].items).toBe(0);
              expect(rows[0].checkpoints).toBe(0);
            })(),
          );
        }
      }
      await Promise.all(calls);
    });
  },
);

describeWithService('PGBOUNCER_URL', 'an abort through PgBouncer', (bouncerUrl) => {
  let setup: TestSchema;
  let pool: pg.Pool;
  let persistence: Persistence;
  // The bouncer sets each client's application_name on the server connection it lends.
  const applicationName = `entelix-bouncer-abort-${crypto.randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    setup = await createTestSchema(directUrl());
    await installStallTriggers(setup.ownerPool, setup.schema);
    pool = new pg.Pool({ connectionString: bouncerUrl, application_name: applicationName, max: 2 });
    pool.on('error', () => undefined);
    persistence = await createPostgresPersistence({
      pool,
      schema: setup.schema,
      migrate: 'verify',
    });
  });
  afterAll(async () => {
    await terminateBackends(setup.ownerPool, applicationName);
    await pool?.end();
    await setup?.drop();
  });

  it('the cancel request is forwarded: the running append rolls back and the call is ABORTED', async () => {
    const log = persistence.sessionLog();
    const key = ThreadKey.of(`t-${crypto.randomUUID()}`, 'abort');
    expect(await log.append(key, ['first'])).toBe(1);
    const controller = new AbortController();
    const append = log.append(key, ['second', STALL], { signal: controller.signal }).then(
      () => 'resolved',
      (error: unknown) => (error as { code?: string }).code,
    );
    await stalledBackends(setup.ownerPool, applicationName);
    controller.abort();
    expect(await append).toBe('ABORTED');
    expect(await log.head(key)).toBe(1);
    expect((await log.loadSince(key, 0)).map((event) => event.event)).toEqual(['first']);
    expect(await log.append(key, ['second'], { signal: new AbortController().signal })).toBe(2);
  });

  it('doctor passes through the bouncer: its probe transaction stays on one server connection', async () => {
    const report = await checkPostgresDeployment({ pool, schema: setup.schema });
    expect(report.findings).toEqual([]);
    expect(report.ok).toBe(true);
  });
});

describe.skipIf(!process.env.PGBOUNCER_URL)('PgBouncer service', () => {
  it('runs in transaction pooling mode', async () => {
    const admin = new URL(process.env.PGBOUNCER_URL as string);
    admin.username = 'pgbouncer';
    admin.pathname = '/pgbouncer';
    // The admin console speaks only the simple query protocol.
    const client = new pg.Client({ connectionString: admin.toString() });
    await client.connect();
    try {
      const { rows } = await client.query({ text: 'SHOW CONFIG', rowMode: 'array' });
      const config = new Map(rows.map((row: string[]) => [row[0], row[1]]));
      expect(config.get('pool_mode')).toBe('transaction');
    } finally {
      await client.end();
    }
  });
});
