import type { Persistence } from '@entelix/core';
import RedisMock from 'ioredis-mock';
import { createRedisPersistence, type RedisClient } from '../src/index.js';

/** A key prefix no other test uses. */
export function randomPrefix(): string {
  return `t${crypto.randomUUID().replaceAll('-', '').slice(0, 16)}`;
}

/** A random id that is safe in any position. */
export function randomId(label = 'id'): string {
  return `${label}-${crypto.randomUUID()}`;
}

/**
 * An ioredis-mock client. Mock instances with the same host and port share one data
 * set, like connections to one server.
 */
export function mockClient(): RedisClient {
  return new RedisMock() as unknown as RedisClient;
}

/**
 * A persistence bundle over ioredis-mock. The mock's TIME command is not wall-clock
 * time (it rounds seconds and takes microseconds from `process.hrtime`), so TTLs use
 * this process's clock here.
 */
export function mockPersistence(client = mockClient(), keyPrefix = randomPrefix()): Persistence {
  return createRedisPersistence({ client, keyPrefix, clock: 'client' });
}
