import { fork } from 'node:child_process';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import {
  Checkpoint,
  EntelixError,
  type ErrorCode,
  Namespace,
  type Persistence,
  ThreadKey,
} from '@entelix/core';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithService } from '../../../test-support/services.js';
import { createPostgresPersistence } from '../src/index.js';
import {
  createTestSchema,
  installStallTriggers,
  STALL,
  stalledBackends,
  type TestSchema,
  terminateBackends,
} from './pg-support.js';

async function settle(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => 'resolved',
    (error: unknown) => error,
  );
}

/** How a call ended: `resolved`, its error code, or `pending` if still running after `ms`. */
async function outcomeWithin(
  promise: Promise<unknown>,
  ms: number,
): Promise<ErrorCode | 'resolved' | 'pending' | 'untyped'> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const pending = new Promise<'pending'>((resolve) => {
    timer = setTimeout(() => resolve('pending'), ms);
  });
  const outcome = promise.then(
    () => 'resolved' as const,
    (error: unknown) => (EntelixError.isInstance(error) ? error.code : ('untyped' as const)),
  );
  try {
    return await Promise.race([outcome, pending]);
  } finally {
    clearTimeout(timer);
  }
}

/** A connection string with an application name, so a test finds its own backends. */
function withApplicationName(url: string, applicationName: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set('application_name', applicationName);
  return parsed.toString();
}

/** Wait until no backend of `applicationName` is stalled any more (its statement ended). */
async function noStalledBackends(ownerPool: pg.Pool, applicationName: string): Promise<number> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const { rows } = await ownerPool.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE application_name = $1 AND wait_event = 'PgSleep'`,
      [applicationName],
    );
    if (rows[0].n === 0 || Date.now() > deadline) return rows[0].n;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describeWithService('DATABASE_URL', 'postgres under backend termination', (url) => {
  let setup: TestSchema;
  let appPool: pg.Pool;
  let persistence: Persistence;
  const applicationName = `entelix-faults-${crypto.randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    setup = await createTestSchema(url);
    await installStallTriggers(setup.ownerPool, setup.schema);
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

  /** Wait until the application role's backend is stalled, terminate it, return the pid. */
  async function terminateStalledBackend(): Promise<number> {
    const [pid] = await stalledBackends(setup.ownerPool, applicationName);
    await setup.ownerPool.query('SELECT pg_terminate_backend($1)', [pid]);
    return pid as number;
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

  it('a call with a signal killed mid-statement rejects with BACKEND, and the process lives on', async () => {
    // A call with a signal runs on a connection of its own, checked out of the pool: the
    // connection's end is reported on it too, not only to the statement.
    const log = persistence.sessionLog();
    const key = ThreadKey.of(`t-${crypto.randomUUID()}`, 'faults');
    const append = settle(log.append(key, [STALL], { signal: new AbortController().signal }));
    await terminateStalledBackend();
    expectBackendError(await append);
    expect(await log.head(key)).toBe(0);
    expect(await log.append(key, ['next'], { signal: new AbortController().signal })).toBe(1);
  });
});

describeWithService('DATABASE_URL', 'postgres: a connection cut under a call', (url) => {
  // A TCP proxy in front of the server: cutting its sockets ends the client's connection
  // with no word from the server (no FATAL message first), as a network failure would.
  let setup: TestSchema;
  let proxy: Server;
  let pool: pg.Pool;
  let persistence: Persistence;
  const sockets = new Set<Socket>();
  const applicationName = `entelix-cut-${crypto.randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    setup = await createTestSchema(url);
    await installStallTriggers(setup.ownerPool, setup.schema);
    const server = new URL(url);
    proxy = createServer((client) => {
      const upstream = connect(Number(server.port || 5432), server.hostname);
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on('error', () => undefined);
        socket.on('close', () => sockets.delete(socket));
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const viaProxy = new URL(setup.appUrl);
    viaProxy.host = `127.0.0.1:${(proxy.address() as { port: number }).port}`;
    pool = new pg.Pool({
      connectionString: viaProxy.toString(),
      application_name: applicationName,
      max: 2,
    });
    pool.on('error', () => undefined);
    persistence = await createPostgresPersistence({
      pool,
      schema: setup.schema,
      migrate: 'verify',
    });
  });
  afterAll(async () => {
    // The server side never learnt of the cut: end its stalled statements here.
    await terminateBackends(setup.ownerPool, applicationName);
    await pool?.end();
    await new Promise((resolve) => proxy?.close(resolve));
    await setup?.drop();
  });

  it('a call with a signal rejects with BACKEND, and the process lives on', async () => {
    const log = persistence.sessionLog();
    const key = ThreadKey.of(`t-${crypto.randomUUID()}`, 'cut');
    const append = log.append(key, [STALL], { signal: new AbortController().signal });
    await stalledBackends(setup.ownerPool, applicationName);
    for (const socket of sockets) socket.destroy();
    expect(await outcomeWithin(append, 5_000)).toBe('BACKEND');
    expect(await log.head(ThreadKey.of(key.tenantId, 'other'))).toBe(0);
  });
});

describeWithService('DATABASE_URL', 'postgres: an abort after the statement was sent', (url) => {
  let setup: TestSchema;
  let appPool: pg.Pool;
  let persistence: Persistence;
  const applicationName = `entelix-abort-${crypto.randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    setup = await createTestSchema(url);
    await installStallTriggers(setup.ownerPool, setup.schema);
    appPool = new pg.Pool({
      connectionString: setup.appUrl,
      application_name: applicationName,
      max: 2,
    });
    appPool.on('error', () => undefined);
    persistence = await createPostgresPersistence({
      pool: appPool,
      schema: setup.schema,
      migrate: 'verify',
    });
  });
  afterAll(async () => {
    // Whatever a failed run left stalled must not outlive it.
    await terminateBackends(setup.ownerPool, applicationName);
    await appPool?.end();
    await setup?.drop();
  });

  const rowsOf = async (table: string, tenantId: string): Promise<number> => {
    const { rows } = await setup.ownerPool.query(
      `SELECT count(*)::int AS n FROM "${setup.schema}".${table} WHERE tenant_id = $1`,
      [tenantId],
    );
    return rows[0].n;
  };

  it('cancels a running append: ABORTED, nothing stored, the connection freed, the next append works', async () => {
    const log = persistence.sessionLog();
    const key = ThreadKey.of(`t-${crypto.randomUUID()}`, 'abort');
    expect(await log.append(key, ['first'])).toBe(1);
    const controller = new AbortController();
    const append = log.append(key, ['second', STALL], { signal: controller.signal });
    await stalledBackends(setup.ownerPool, applicationName);
    controller.abort();
    expect(await outcomeWithin(append, 5_000)).toBe('ABORTED');
    expect(await noStalledBackends(setup.ownerPool, applicationName)).toBe(0);
    expect(await log.head(key)).toBe(1);
    expect(await rowsOf('session_events', key.tenantId)).toBe(1);
    expect(await log.append(key, ['second'])).toBe(2);
  });

  it('cancels a running checkpoint put and store put: ABORTED, the old state kept', async () => {
    const key = ThreadKey.of(`t-${crypto.randomUUID()}`, 'abort');
    const checkpointer = persistence.checkpointer<string>();
    const first = Checkpoint.create({ key, step: 0, state: 'first' });
    await checkpointer.put(first);
    const store = persistence.store<string>();
    const ns = Namespace.of(key.tenantId, 'abort');
    await store.put(ns, 'k', 'old');

    const checkpointAbort = new AbortController();
    const stalled = Checkpoint.create({ key, step: 1, state: STALL, parentId: first.id });
    const put = checkpointer.put(stalled, { signal: checkpointAbort.signal });
    await stalledBackends(setup.ownerPool, applicationName);
    checkpointAbort.abort();
    expect(await outcomeWithin(put, 5_000)).toBe('ABORTED');
    expect(await checkpointer.getById(key, stalled.id)).toBeUndefined();
    expect((await checkpointer.getLatest(key))?.id).toBe(first.id);

    const storeAbort = new AbortController();
    const storePut = store.put(ns, 'k', STALL, { signal: storeAbort.signal });
    await stalledBackends(setup.ownerPool, applicationName);
    storeAbort.abort();
    expect(await outcomeWithin(storePut, 5_000)).toBe('ABORTED');
    expect((await store.get(ns, 'k'))?.value).toBe('old');
    expect(await noStalledBackends(setup.ownerPool, applicationName)).toBe(0);
  });

  it('an abort while waiting for a pooled connection rejects at once, and the statement never runs', async () => {
    const log = persistence.sessionLog();
    const tenantId = `t-${crypto.randomUUID()}`;
    // Both connections of the pool are busy with stalled appends.
    const holders = [new AbortController(), new AbortController()];
    const held = holders.map((controller, n) =>
      log.append(ThreadKey.of(tenantId, `held-${n}`), [STALL], { signal: controller.signal }),
    );
    await stalledBackends(setup.ownerPool, applicationName, 2);
    const waiting = new AbortController();
    const queued = log.append(ThreadKey.of(tenantId, 'queued'), ['never'], {
      signal: waiting.signal,
    });
    waiting.abort();
    expect(await outcomeWithin(queued, 1_000)).toBe('ABORTED');
    for (const controller of holders) controller.abort();
    expect(await Promise.all(held.map((call) => outcomeWithin(call, 5_000)))).toEqual([
      'ABORTED',
      'ABORTED',
    ]);
    expect(await rowsOf('session_events', tenantId)).toBe(0);
    expect(await log.head(ThreadKey.of(tenantId, 'queued'))).toBe(0);
  });

  it('a statement cancelled by someone else is BACKEND (57014), not ABORTED', async () => {
    const log = persistence.sessionLog();
    const key = ThreadKey.of(`t-${crypto.randomUUID()}`, 'abort');
    const append = settle(log.append(key, [STALL], { signal: new AbortController().signal }));
    const [pid] = await stalledBackends(setup.ownerPool, applicationName);
    await setup.ownerPool.query('SELECT pg_cancel_backend($1)', [pid]);
    const outcome = await append;
    expect(outcome).toMatchObject({ code: 'BACKEND' });
    expect((outcome as { cause?: { code?: string } }).cause?.code).toBe('57014');
    expect(await log.head(key)).toBe(0);
  });

  it('a signal that never aborts changes nothing', async () => {
    const log = persistence.sessionLog();
    const key = ThreadKey.of(`t-${crypto.randomUUID()}`, 'abort');
    const controller = new AbortController();
    expect(await log.append(key, ['a', 'b'], { signal: controller.signal })).toBe(2);
    // Aborting after the call settled cancels nothing that runs later.
    controller.abort();
    expect(await log.append(key, ['c'])).toBe(3);
    expect(await log.head(key, { signal: new AbortController().signal })).toBe(3);
  });
});

describeWithService('DATABASE_URL', 'postgres: close() with calls in flight', (url) => {
  let setup: TestSchema;
  const applicationName = `entelix-close-${crypto.randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    setup = await createTestSchema(url);
    await installStallTriggers(setup.ownerPool, setup.schema);
  });
  afterAll(async () => {
    await terminateBackends(setup.ownerPool, applicationName);
    await setup?.drop();
  });

  it('settles every call of a factory-owned pool, running or waiting, and refuses later calls', async () => {
    const persistence = await createPostgresPersistence({
      connectionString: withApplicationName(setup.appUrl, applicationName),
      schema: setup.schema,
      migrate: 'verify',
    });
    const log = persistence.sessionLog();
    const tenantId = `t-${crypto.randomUUID()}`;
    // pg's default pool has 10 connections: 10 appends stall on them, 2 wait for one.
    // Every other call carries a signal, which runs it on a connection checked out for it.
    const calls = Array.from({ length: 12 }, (_, n) =>
      log.append(
        ThreadKey.of(tenantId, `thread-${n}`),
        [STALL],
        n % 2 === 0 ? { signal: new AbortController().signal } : undefined,
      ),
    );
    const outcomes = Promise.all(calls.map((call) => outcomeWithin(call, 6_000)));
    await stalledBackends(setup.ownerPool, applicationName, 10);
    expect(await outcomeWithin(persistence.close(), 5_000)).toBe('resolved');
    expect((await outcomes).filter((outcome) => outcome !== 'BACKEND')).toEqual([]);
    // The stalled statements were cancelled, not left to commit.
    expect(await noStalledBackends(setup.ownerPool, applicationName)).toBe(0);
    const { rows } = await setup.ownerPool.query(
      `SELECT count(*)::int AS n FROM "${setup.schema}".session_events WHERE tenant_id = $1`,
      [tenantId],
    );
    expect(rows[0].n).toBe(0);
    expect(await outcomeWithin(log.head(ThreadKey.of(tenantId, 'thread-0')), 1_000)).toBe(
      'BACKEND',
    );
    expect(await outcomeWithin(persistence.close(), 1_000)).toBe('resolved');
  });

  it("refuses calls after close() on the caller's pool, which stays open", async () => {
    const pool = new pg.Pool({ connectionString: setup.appUrl, max: 1 });
    try {
      const persistence = await createPostgresPersistence({
        pool,
        schema: setup.schema,
        migrate: 'verify',
      });
      const key = ThreadKey.of(`t-${crypto.randomUUID()}`, 'closed');
      expect(await persistence.sessionLog().append(key, ['a'])).toBe(1);
      await persistence.close();
      expect(await outcomeWithin(persistence.sessionLog().head(key), 1_000)).toBe('BACKEND');
      expect(
        await outcomeWithin(
          persistence.sessionLog().head(key, { signal: new AbortController().signal }),
          1_000,
        ),
      ).toBe('BACKEND');
      expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await pool.end();
    }
  });
});

describeWithService('DATABASE_URL', 'postgres: idle connections killed by the server', (url) => {
  let setup: TestSchema;
  const applicationName = `entelix-idle-${crypto.randomUUID().slice(0, 8)}`;
  const worker = fileURLToPath(new URL('./workers/idle-termination.mjs', import.meta.url));

  beforeAll(async () => {
    setup = await createTestSchema(url);
  });
  afterAll(async () => {
    await terminateBackends(setup.ownerPool, applicationName);
    await setup?.drop();
  });

  it('a factory-owned pool survives: the process lives on and its next call succeeds', async () => {
    const child = fork(
      worker,
      [
        withApplicationName(setup.appUrl, applicationName),
        setup.schema,
        `t-${crypto.randomUUID()}`,
      ],
      { execArgv: [], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] },
    );
    let stderr = '';
    child.stderr?.on('data', (chunk) => {
      stderr += chunk;
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const messages: { type: string; outcomes?: string[] }[] = [];
    const next = (type: string) =>
      new Promise<{ type: string; outcomes?: string[] }>((resolve, reject) => {
        child.on('message', (message: { type: string }) => {
          messages.push(message);
          if (message.type === type) resolve(message);
        });
        exited.then((code) => reject(new Error(`worker exited (${code}): ${stderr}`)));
      });
    const idle = next('idle');
    await idle;
    // What a restart, a failover or an idle timeout does to the pool's connections.
    await terminateBackends(setup.ownerPool, applicationName);
    const deadline = Date.now() + 5_000;
    for (;;) {
      const { rows } = await setup.ownerPool.query(
        'SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1',
        [applicationName],
      );
      if (rows[0].n === 0 || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const outcomes = next('outcomes');
    child.send({ type: 'call' });
    const reported = await outcomes;
    expect(['resolved', 'BACKEND']).toContain(reported.outcomes?.[0]);
    expect(reported.outcomes?.[1]).toBe('resolved');
    expect(await exited).toBe(0);
    expect(stderr).toBe('');
  });
});
