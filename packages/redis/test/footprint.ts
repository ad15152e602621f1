import { Checkpoint, Namespace, type Persistence, ThreadKey } from '@entelix/core';
import { expect, it } from 'vitest';
import { KeyLayout } from '../src/keys.js';
import { randomId } from './support.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What a footprint test opens: a bundle, its key prefix, and the keys under it. */
export interface FootprintSetup {
  readonly persistence: Persistence;
  readonly keyPrefix: string;
  /** Every key under the prefix, sorted (the test scans its own prefix). */
  keys(): Promise<string[]>;
}

/**
 * What stays in Redis once everything was deleted or has expired and been swept: one
 * log head per thread that had events (ordinals are never reused) and one fence counter
 * per thread that was locked (fences never repeat), and per tenant the two indexes of
 * those threads (the session log's `listThreads` and `purgeTenant` walk them). Nothing
 * per namespace, nothing of the checkpoints.
 */
export function footprintTests(open: () => FootprintSetup): void {
  it('after deleting or expiring and sweeping everything, only log heads, fence counters and their indexes remain', async () => {
    const { persistence, keyPrefix, keys } = open();
    const layout = new KeyLayout(keyPrefix);
    const store = persistence.store<number>();
    const checkpointer = persistence.checkpointer<number>();
    const log = persistence.sessionLog<number>();
    const tenants = [randomId('a'), randomId('b')];
    const scopes = [['notes'], ['notes', 'deep'], ['other']];
    const threads = tenants.flatMap((tenant) => [
      ThreadKey.of(tenant, randomId('thread')),
      ThreadKey.of(tenant, randomId('thread')),
    ]);
    for (const tenant of tenants) {
      for (const scope of scopes) {
        const namespace = Namespace.of(tenant, ...scope);
        await store.put(namespace, 'kept', 1);
        await store.put(namespace, 'short', 1, { ttlMs: 20 });
      }
    }
    for (const key of threads) {
      const lease = await persistence.lock.tryAcquire(key, { ttlMs: 10_000 });
      if (lease === undefined) throw new Error('lock not granted');
      const root = Checkpoint.create({ key, step: 0, state: 0 });
      await checkpointer.put(root, { fence: lease });
      await checkpointer.updateState(key, root.id, 1, { fence: lease });
      await log.append(key, [1, 2, 3], { fence: lease });
      await log.archiveBefore(key, 2, { fence: lease });
      await lease.release();
    }
    expect((await keys()).length).toBeGreaterThan(threads.length * 2);

    for (const tenant of tenants) {
      for (const scope of scopes) {
        expect(await store.delete(Namespace.of(tenant, ...scope), 'kept')).toBe(true);
      }
    }
    for (const key of threads) {
      expect(await checkpointer.deleteThread(key)).toBe(2);
      expect(await log.deleteThread(key)).toBe(2);
    }
    await sleep(40);
    expect(await store.evictExpired()).toBe(tenants.length * scopes.length);

    const expected = [
      ...threads.flatMap((key) => [layout.thread(key).logHead, layout.thread(key).lockFence]),
      ...tenants.flatMap((tenant) => [
        layout.tenantThreads(tenant).logThreads,
        layout.tenantThreads(tenant).lockThreads,
      ]),
    ];
    expect(await keys()).toEqual(expected.sort());
    for (const tenant of tenants) expect(await store.listNamespaces(tenant)).toEqual([]);
    expect(await store.evictExpired()).toBe(0);
  });

  it('deleting the last item of a tenant leaves no key behind', async () => {
    const { persistence, keys } = open();
    const store = persistence.store<number>();
    const first = Namespace.of(randomId('tenant'), 'a');
    const second = Namespace.of(first.tenantId, 'b', 'c');
    await store.put(first, 'k', 1);
    await store.put(second, 'k', 1);
    await store.put(second, 'l', 1);
    expect(await store.delete(first, 'k')).toBe(true);
    expect(await store.delete(second, 'k')).toBe(true);
    expect(await store.delete(second, 'l')).toBe(true);
    expect(await keys(), JSON.stringify(await keys())).toEqual([]);
  });

  it('evictExpired(tenant) of a tenant whose items all expired leaves no key behind', async () => {
    const { persistence, keys } = open();
    const store = persistence.store<number>();
    const namespace = Namespace.of(randomId('tenant'), 'a');
    await store.put(namespace, 'k', 1, { ttlMs: 20 });
    await store.put(Namespace.of(namespace.tenantId, 'b'), 'k', 1, { ttlMs: 20 });
    await sleep(40);
    expect(await store.evictExpired(namespace.tenantId)).toBe(2);
    expect(await keys(), JSON.stringify(await keys())).toEqual([]);
  });
}
