import { createServer } from 'node:net';
import { Namespace, ThreadKey } from '@entelix/core';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisPersistence } from '../src/index.js';
import { randomId } from './support.js';

/** A local port nothing listens on: bound once, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

describe('a Redis that is down', () => {
  let port: number;
  beforeAll(async () => {
    port = await closedPort();
  });

  it('fails a call of the url client with BACKEND, naming the address and the refusal', async () => {
    const persistence = createRedisPersistence({ url: `redis://127.0.0.1:${port}` });
    try {
      const failure = await persistence
        .sessionLog()
        .head(ThreadKey.of(randomId('tenant'), 't'))
        .then(
          () => undefined,
          (error: unknown) => error,
        );
      expect(failure).toMatchObject({ code: 'BACKEND' });
      const { message } = failure as Error;
      expect(message).toContain(`127.0.0.1:${port}`);
      expect(message).toContain('refused');
    } finally {
      await persistence.close();
    }
  });

  describe('with a client passed in', () => {
    let client: Redis;
    beforeAll(() => {
      client = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 0, retryStrategy: () => 50 });
      // The test's own listener: the bundle adds none to a client it was given.
      client.on('error', () => undefined);
    });
    afterAll(() => client.disconnect());

    it('fails with BACKEND, naming the address and that it is not connected', async () => {
      const persistence = createRedisPersistence({ client });
      const failure = await persistence
        .store()
        .get(Namespace.of(randomId('tenant'), 'a'), 'k')
        .then(
          () => undefined,
          (error: unknown) => error,
        );
      expect(failure).toMatchObject({ code: 'BACKEND' });
      expect((failure as Error).message).toContain(`127.0.0.1:${port} is not connected`);
      expect(client.listenerCount('error')).toBe(1);
    });
  });
});
