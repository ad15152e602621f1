import { Checkpoint, EntelixError, Namespace, type Persistence, ThreadKey } from '@entelix/core';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithService } from '../../../test-support/services.js';
import { createPostgresPersistence } from '../src/index.js';
import { createTestSchema, type TestSchema } from './pg-support.js';

// A value that makes a test-only trigger stall the statement writing it, so the
// backend can be terminated while the write is in flight.
const STALL = 'stall-here';

async function settle(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => 'resolved',
    (error: unknown) => error,
  );
}

describeWithService('DATABASE_URL', 'postgres under backend termination', (url) => {
  let setup: TestSchema;
  let appPool: pg.Pool;
  let persistence: Persistence;
  const applicationName = `entelix-faults-${crypto.randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    setup = await createTestSchema(url);
    const s = `"${setup.schema}"`;
    // Test-only triggers in the test schema; the library's SQL is untouched. They run
    // in the caller's statement, so the stall is inside the write's own transaction.
    await setup.ownerPool.query(`
      CREATE FUNCTION ${s}.stall_marked_rows() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        IF strpos(row_to_json(NEW)::text, '${STALL}') > 0 THEN
          PERFORM pg_sleep(30);
        END IF;
        RETURN NEW;
      END $fn$;
      CREATE TRIGGER stall BEFORE INSERT ON ${s}.session_events
        FOR EACH ROW EXECUTE FUNCTION ${s}.stall_marked_rows();
      CREATE TRIGGER stall BEFORE INSERT ON ${s}.checkpoints
        FOR EACH ROW EXECUTE FUNCTION ${s}.stall_marked_rows();
      CREATE TRIGGER stall BEFORE INSERT OR UPDATE ON ${s}.store_items
        FOR EACH ROW EXECUTE FUNCTION ${s}.stall_marked_rows();`);
    appPool = new pg.Pool({
      connectionString: setup.appUrl,
      application_name: applicationName,
      max: 2,
    });
    // A terminated idle client is reported here; the pool drops it either way.
    appPool.on('error', () => undefined);
    persistence = await createPostgresPersistence({
      pool: appPool,
      schema: setup.schema,
      migrate: 'verify',
    });
  });
  afterAll(async () => {
    await appPool?.end();
    await setup?.drop();
  });

  /**
   * Wait until the application role's backend is stalled in the trigger, terminate it
   * from the owner's connection, and return the pid.
   */
  async function terminateStalledBackend(): Promise<number> {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const { rows } = await setup.ownerPool.query(
        `SELECT pid FROM pg_stat_activity
          WHERE application_name = $1 AND wait_event = 'PgSleep'`,
        [applicationName],
      );
      if (rows.length === 1) {
        const pid = rows[0].pid as number;
        await setup.ownerPool.query('SELECT pg_terminate_backend($1)', [pid]);
        return pid;
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error('the write never reached the stalling trigger');
  }

  function expectBackendError(outcome: unknown): void {
    expect(EntelixError.isInstance(outcome)).toBe(true);
    expect(outcome).toMatchObject({ code: 'BACKEND' });
    // admin_shutdown: the server killed the connection mid-statement.
    expect((outcome as { cause?: { code?: string } }).cause?.code).toBe('57P01');
  }

  it('append killed mid-batch rejects with BACKEND, stores nothing, and the next append succeeds', async () => {
    const log = persistence.sessionLog();
    const key = ThreadKey.of(`t-${crypto.randomUUID()}`, 'faults');
    expect(await log.append(key, ['first'])).toBe(1);
    // The stalled event is second in the batch: the first is already inserted (and the
    // head already bumped) when the backend dies.
    const append = settle(log.append(key, ['second', STALL, 'fourth']));
    await terminateStalledBackend();
    expectBackendError(await append);
    expect(await log.head(key)).toBe(1);
    expect((await log.loadSince(key, 0)).map((event) => event.event)).toEqual(['first']);
    const rows = await setup.ownerPool.query(
      `SELECT count(*)::int AS n FROM "${setup.schema}".session_events WHERE tenant_id = $1`,
      [key.tenantId],
    );
    expect(rows.rows[0].n).toBe(1);
    expect(await log.append(key, ['second', 'third'])).toBe(3);
    expect((await log.loadSince(key, 0)).map((event) => event.seq)).toEqual([1, 2, 3]);
  });

  it('checkpoint put killed mid-statement rejects with BACKEND, stores nothing, and the next put succeeds', async () => {
    const checkpointer = persistence.checkpointer<string>();
    const key = ThreadKey.of(`t-${crypto.randomUUID()}`, 'faults');
    const first = Checkpoint.create({ key, step: 0, state: 'first' });
    await checkpointer.put(first);
    const stalled = Checkpoint.create({ key, step: 1, state: STALL, parentId: first.id });
    const put = settle(checkpointer.put(stalled));
    await terminateStalledBackend();
    expectBackendError(await put);
    expect((await checkpointer.getLatest(key))?.id).toBe(first.id);
    expect(await checkpointer.getById(key, stalled.id)).toBeUndefined();
    expect(await checkpointer.listHistory(key, { limit: 10 })).toHaveLength(1);
    const next = Checkpoint.create({ key, step: 1, state: 'second', parentId: first.id });
    await checkpointer.put(next);
    expect((await checkpointer.getLatest(key))?.id).toBe(next.id);
  });

  it('store put killed mid-upsert keeps the old value, and the next put succeeds', async () => {
    const store = persistence.store<string>();
    const ns = Namespace.of(`t-${crypto.randomUUID()}`, 'faults');
    await store.put(ns, 'k', 'old');
    const put = settle(store.put(ns, 'k', STALL));
    await terminateStalledBackend();
    expectBackendError(await put);
    expect((await store.get(ns, 'k'))?.value).toBe('old');
    await store.put(ns, 'k', 'new');
    expect((await store.get(ns, 'k'))?.value).toBe('new');
  });
});
