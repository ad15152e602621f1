import { Namespace, type Persistence } from '@entelix/core';
import { expect, it } from 'vitest';
import type { RedisClient } from '../src/index.js';
import { KeyLayout } from '../src/keys.js';
import { randomId } from './support.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * How items with a TTL live in Redis: each record is a key of its own that Redis
 * expires by itself, and the indexes stay right around it.
 */
export function storeExpiryTests(
  open: () => { persistence: Persistence; client: RedisClient; keyPrefix: string },
): void {
  it('gives an item with a TTL a Redis expiry, and takes it away on an overwrite without one', async () => {
    const { persistence, client, keyPrefix } = open();
    const namespace = Namespace.of(randomId('tenant'), 'ttl');
    const store = persistence.store<string>();
    const recordKey = new KeyLayout(keyPrefix).storeItem(
      namespace,
      Buffer.from('k').toString('hex'),
    );
    await store.put(namespace, 'k', 'v', { ttlMs: 60_000 });
    const item = await store.get(namespace, 'k');
    const pttl = await client.pttl(recordKey);
    expect(pttl).toBeGreaterThan(50_000);
    expect(pttl).toBeLessThanOrEqual(60_000);
    // The record disappears exactly when expiresAt <= now.
    expect(await client.pexpiretime(recordKey)).toBe((item?.expiresAt?.getTime() ?? 0) - 1);
    await store.put(namespace, 'k', 'v2');
    expect(await client.pttl(recordKey)).toBe(-1);
    expect((await store.get(namespace, 'k'))?.expiresAt).toBeNull();
  });

  it('a key written again after Redis expired it is live, listed and new', async () => {
    const { persistence, client, keyPrefix } = open();
    const namespace = Namespace.of(randomId('tenant'), 'ttl');
    const store = persistence.store<string>();
    await store.put(namespace, 'k', 'old', { ttlMs: 20 });
    const first = await store.get(namespace, 'k');
    await sleep(50);
    const layout = new KeyLayout(keyPrefix);
    expect(await client.exists(layout.storeItem(namespace, '6b'))).toBe(0);
    await store.put(namespace, 'k', 'new');
    const item = await store.get(namespace, 'k');
    expect(item?.value).toBe('new');
    expect(item?.expiresAt).toBeNull();
    expect(item?.createdAt.getTime()).toBeGreaterThan(first?.createdAt.getTime() ?? Infinity);
    expect(await store.list(namespace)).toEqual(['k']);
    expect(await store.evictExpired(namespace.tenantId)).toBe(0);
    expect(await store.list(namespace)).toEqual(['k']);
  });

  it('evictExpired takes the index entries of records Redis already dropped', async () => {
    const { persistence, client, keyPrefix } = open();
    const tenant = randomId('tenant');
    const namespace = Namespace.of(tenant, 'ttl');
    const store = persistence.store<string>();
    await store.put(namespace, 'a', 'v', { ttlMs: 20 });
    await store.put(namespace, 'b', 'v', { ttlMs: 20 });
    await sleep(50);
    const keys = new KeyLayout(keyPrefix).namespace(namespace);
    expect(await client.zcard(keys.itemKeys)).toBe(2);
    expect(await store.evictExpired(tenant)).toBe(2);
    expect(await client.zcard(keys.itemKeys)).toBe(0);
    expect(await client.zcard(keys.expiry)).toBe(0);
    expect(await client.exists(keys.registration)).toBe(0);
    expect(await store.listNamespaces(tenant)).toEqual([]);
  });
}
