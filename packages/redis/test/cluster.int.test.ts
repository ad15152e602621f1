import { Checkpoint, Namespace, ThreadKey } from '@entelix/core';
import { createRedisPersistence } from '@entelix/redis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithService } from '../../../test-support/services.js';
import { clusterSlot, KeyLayout } from '../src/keys.js';
import { deletePrefix, openCluster } from './real-redis.js';
import { randomId, randomPrefix } from './support.js';

describeWithService('REDIS_CLUSTER_NODES', 'redis on a Cluster: fencing across slots', (nodes) => {
  const keyPrefix = randomPrefix();
  const client = openCluster(nodes);
  const persistence = createRedisPersistence({ client, keyPrefix });

  beforeAll(async () => {
    await client.ping();
  });
  afterAll(async () => {
    await deletePrefix(client, keyPrefix);
    await client.quit();
  });

  it('fences checkpoint and session-log writes by a lease on the same thread', async () => {
    const key = ThreadKey.of(randomId('tenant'), randomId('thread'));
    const stale = await persistence.lock.tryAcquire(key, { ttlMs: 10_000 });
    if (stale === undefined) throw new Error('lock not granted');
    await stale.release();
    const current = await persistence.lock.tryAcquire(key, { ttlMs: 10_000 });
    if (current === undefined) throw new Error('lock not granted');

    const checkpointer = persistence.checkpointer<string>();
    const log = persistence.sessionLog<string>();
    const checkpoint = Checkpoint.create({ key, step: 0, state: 's' });
    await expect(checkpointer.put(checkpoint, { fence: stale })).rejects.toMatchObject({
      code: 'FENCED',
    });
    await expect(log.append(key, ['e'], { fence: stale })).rejects.toMatchObject({
      code: 'FENCED',
    });
    await checkpointer.put(checkpoint, { fence: current });
    expect(await log.append(key, ['e'], { fence: current })).toBe(1);
    expect((await checkpointer.getLatest(key))?.id).toBe(checkpoint.id);
    await current.release();
  });

  it('refuses a fenced store write (another slot) with CONFIG and writes nothing', async () => {
    const key = ThreadKey.of(randomId('tenant'), randomId('thread'));
    const namespace = Namespace.of(key.tenantId, 'memories');
    const lease = await persistence.lock.tryAcquire(key, { ttlMs: 10_000 });
    if (lease === undefined) throw new Error('lock not granted');
    const store = persistence.store<string>();
    await expect(store.put(namespace, 'k', 'v', { fence: lease })).rejects.toMatchObject({
      code: 'CONFIG',
    });
    expect(await store.get(namespace, 'k')).toBeUndefined();
    await store.put(namespace, 'k', 'v');
    await expect(store.delete(namespace, 'k', { fence: lease })).rejects.toMatchObject({
      code: 'CONFIG',
    });
    expect((await store.get(namespace, 'k'))?.value).toBe('v');
    await lease.release();
  });

  it('refuses a write to another thread in another slot, fenced by a lease, with CONFIG and writes nothing', async () => {
    const tenant = randomId('tenant');
    const leaseKey = ThreadKey.of(tenant, randomId('thread'));
    const keys = new KeyLayout(keyPrefix);
    let written = ThreadKey.of(tenant, randomId('thread'));
    while (clusterSlot(keys.log(written).head) === clusterSlot(keys.lock(leaseKey).fence)) {
      written = ThreadKey.of(tenant, randomId('thread'));
    }
    const lease = await persistence.lock.tryAcquire(leaseKey, { ttlMs: 10_000 });
    if (lease === undefined) throw new Error('lock not granted');
    const checkpoint = Checkpoint.create({ key: written, step: 0, state: 's' });
    await expect(
      persistence.checkpointer<string>().put(checkpoint, { fence: lease }),
    ).rejects.toMatchObject({ code: 'CONFIG' });
    await expect(
      persistence.sessionLog<string>().append(written, ['e'], { fence: lease }),
    ).rejects.toMatchObject({ code: 'CONFIG' });
    expect(await persistence.checkpointer().getLatest(written)).toBeUndefined();
    expect(await persistence.sessionLog().head(written)).toBe(0);
    await lease.release();
  });
});
