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

// Ports of the mock servers of isolatedMockClient, one per client.
let nextMockPort = 20_000;

/**
 * An ioredis-mock client on a mock server of its own. Every client of a server listens
 * to its data set, and Node warns past ten listeners: a file that makes many clients,
 * none sharing data with another, makes them this way.
 */
export function isolatedMockClient(): RedisClient {
  return new RedisMock({ port: nextMockPort++ }) as unknown as RedisClient;
}

/**
 * A persistence bundle over ioredis-mock with default options, as an application
 * would create it (the mock gets this process's clock by default).
 */
export function mockPersistence(client = mockClient(), keyPrefix = randomPrefix()): Persistence {
  return createRedisPersistence({ client, keyPrefix });
}
