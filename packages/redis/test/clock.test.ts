import { Namespace } from '@entelix/core';
import { Cluster, Redis } from 'ioredis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isIoredisMock } from '../src/context.js';
import { createRedisPersistence } from '../src/index.js';
import { mockClient, randomId, randomPrefix } from './support.js';

describe('ioredis-mock with default options', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('never returns a store item past its TTL, and reports expiresAt by the wall clock', async () => {
    // ioredis-mock expires keys by Date.now() but its TIME rounds the seconds to the
    // nearest one: at .600 past a second it reads at least 400 ms ahead.
    vi.useFakeTimers({ toFake: ['Date'] });
    const start = Math.floor(Date.now() / 1_000) * 1_000 + 600;
    vi.setSystemTime(start);
    const store = createRedisPersistence({
      client: mockClient(),
      keyPrefix: randomPrefix(),
    }).store<string>();
    const namespace = Namespace.of(randomId('tenant'), 'ttl');
    await store.put(namespace, 'k', 'v', { ttlMs: 100 });
    const item = await store.get(namespace, 'k');
    expect(item?.createdAt.getTime()).toBe(start);
    expect(item?.expiresAt?.getTime()).toBe(start + 100);

    vi.setSystemTime(start + 50);
    expect((await store.get(namespace, 'k'))?.value).toBe('v');
    expect(await store.list(namespace)).toEqual(['k']);

    vi.setSystemTime(start + 100);
    expect(await store.get(namespace, 'k')).toBeUndefined();
    expect(await store.listNamespaces(namespace.tenantId)).toEqual([]);
    expect(await store.list(namespace)).toEqual([]);
  });
});

describe('clock detection', () => {
  it('recognises ioredis-mock and no real ioredis client', () => {
    expect(isIoredisMock(mockClient())).toBe(true);
    const standalone = new Redis({ lazyConnect: true });
    const cluster = new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true });
    expect(isIoredisMock(standalone)).toBe(false);
    expect(isIoredisMock(cluster)).toBe(false);
    standalone.disconnect();
    cluster.disconnect();
  });
});
