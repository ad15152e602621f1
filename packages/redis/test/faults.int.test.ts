import { Checkpoint, EntelixError, Namespace, type Persistence, ThreadKey } from '@entelix/core';
import { createRedisPersistence } from '@entelix/redis';
import { Redis, type RedisOptions } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithService } from '../../../test-support/services.js';
import { freePort, RedisServerProcess } from './redis-server.js';
import { randomId, randomPrefix } from './support.js';

/** The options the README recommends for an injected client that should fail fast. */
const FAIL_FAST: RedisOptions = {
  maxRetriesPerRequest: 0,
  autoResendUnfulfilledCommands: false,
  retryStrategy: (attempt) => Math.min(attempt * 50, 500),
};

/** A call that neither resolves nor rejects within this is a hang. */
const CALL_BOUND_MS = 2_000;

type Outcome = { ok: true } | { ok: false; code: string };

/** Settle `call` within CALL_BOUND_MS, reporting success or the error code. */
async function settle(call: () => Promise<unknown>): Promise<Outcome> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<Outcome>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, code: 'HUNG' }), CALL_BOUND_MS);
  });
  const settled = call().then(
    (): Outcome => ({ ok: true }),
    (error): Outcome => ({
      ok: false,
      code: EntelixError.isInstance(error) ? error.code : `untyped: ${error}`,
    }),
  );
  try {
    return await Promise.race([settled, hung]);
  } finally {
    clearTimeout(timer);
  }
}

/** Retry `call` until it succeeds, for at most `timeoutMs`. */
async function eventually(call: () => Promise<unknown>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const outcome = await settle(call);
    if (outcome.ok) return;
    if (Date.now() > deadline) throw new Error(`still failing: ${outcome.code}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// A second redis-server on its own port, started, killed and restarted by the test.
// The whole test runs against that server only, so it needs REDIS_URL only as the
// sign that redis-server is available.
describeWithService('REDIS_URL', 'redis server killed and restarted during a run', () => {
  let server: RedisServerProcess;

  beforeAll(async () => {
    server = new RedisServerProcess(await freePort(6390));
    await server.start();
  });
  afterAll(async () => {
    await server?.stop();
  });

  const clients: [string, () => { persistence: Persistence; close(): Promise<void> }][] = [
    [
      'the client created from { url }',
      () => {
        const persistence = createRedisPersistence({ url: server.url, keyPrefix: randomPrefix() });
        return { persistence, close: () => persistence.close() };
      },
    ],
    [
      'an injected client with the recommended fail-fast options',
      () => {
        const client = new Redis(server.url, FAIL_FAST);
        // Failures reach the caller through rejected calls; the event is only noise here.
        client.on('error', () => undefined);
        const persistence = createRedisPersistence({ client, keyPrefix: randomPrefix() });
        return {
          persistence,
          async close() {
            await persistence.close();
            client.disconnect();
          },
        };
      },
    ],
  ];

  for (const [title, open] of clients) {
    it(`${title}: typed BACKEND errors while down, no hang, recovery once back`, async () => {
      // A failed earlier test may have left the server down.
      await server.start();
      const { persistence, close } = open();
      try {
        const key = ThreadKey.of(randomId('tenant'), randomId('thread'));
        const log = persistence.sessionLog<number>();
        const checkpointer = persistence.checkpointer<string>();
        expect(await log.append(key, [1, 2, 3])).toBe(3);

        // A writer appending in a loop, as a running agent would, while the server dies.
        const outcomes: Outcome[] = [];
        let running = true;
        const writer = (async () => {
          for (let n = 0; running; n++) {
            outcomes.push(await settle(() => log.append(key, [n])));
            await new Promise((resolve) => setTimeout(resolve, 5));
          }
        })();
        await eventually(async () => {
          if (outcomes.filter((o) => o.ok).length < 5) throw new Error('writer not started');
        });
        await server.kill();
        await eventually(async () => {
          if (outcomes.filter((o) => !o.ok).length < 3) throw new Error('no failures yet');
        });

        // Every kind of call fails with a typed error, promptly, while the server is down.
        const down = await Promise.all([
          settle(() => log.head(key)),
          settle(() => checkpointer.getLatest(key)),
          settle(() => checkpointer.put(Checkpoint.create({ key, step: 0, state: 'x' }))),
          settle(() => persistence.store().put(Namespace.of(key.tenantId, 'notes'), 'k', 'v')),
          settle(() => persistence.store().put(Namespace.of(key.tenantId, 'notes'), '', 'v')),
          settle(() => persistence.lock.tryAcquire(key, { ttlMs: 1_000 })),
        ]);
        // Bad input is still refused first, before any I/O.
        expect(down.map((o) => (o.ok ? 'ok' : o.code))).toEqual([
          'BACKEND',
          'BACKEND',
          'BACKEND',
          'BACKEND',
          'INVALID_ID',
          'BACKEND',
        ]);

        await server.start();
        await eventually(() => log.head(key));
        running = false;
        await writer;

        // The run: successes, then only BACKEND failures (never a hang or an untyped
        // error), then successes again once the server is back.
        const codes = outcomes.map((o) => (o.ok ? 'ok' : o.code));
        expect(new Set(codes)).toEqual(new Set(['ok', 'BACKEND']));
        const firstFailure = codes.indexOf('BACKEND');
        const lastFailure = codes.lastIndexOf('BACKEND');
        expect(codes.slice(0, firstFailure).every((c) => c === 'ok')).toBe(true);
        expect(codes.slice(firstFailure, lastFailure + 1).includes('ok')).toBe(false);

        // A fresh, empty server: the data is gone (no persistence), the library works.
        const head = await log.head(key);
        expect(await log.append(key, [99])).toBe(head + 1);
        const checkpoint = Checkpoint.create({ key, step: 0, state: 'after' });
        await checkpointer.put(checkpoint);
        expect((await checkpointer.getLatest(key))?.id).toBe(checkpoint.id);
        const lease = await persistence.lock.tryAcquire(key, { ttlMs: 1_000 });
        expect(lease).toBeDefined();
        await lease?.release();
      } finally {
        await close();
      }
    });
  }
});
