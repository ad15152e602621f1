import { CheckpointId, type ThreadKey, withSessionLock } from '@entelix/core';
import { expect } from 'vitest';
import { defineGroup, expectCode, freshKey, freshNamespace, makeCheckpoint } from '../fixtures.js';

/** Cancellation: an aborted signal rejects with ABORTED and writes nothing. */
export const abortTests = defineGroup('abort', ({ test }) => [
  test('already-aborted', 'every method rejects an aborted signal with ABORTED', async ({ a }) => {
    const key = freshKey();
    const ns = freshNamespace(key.tenantId);
    const signal = AbortSignal.abort(new Error('cancelled'));
    const cp = makeCheckpoint(key, 1);
    const calls: [string, () => Promise<unknown>][] = [
      ['checkpointer.put', () => a.checkpointer().put(cp, { signal })],
      ['checkpointer.getLatest', () => a.checkpointer().getLatest(key, { signal })],
      ['checkpointer.getById', () => a.checkpointer().getById(key, cp.id, { signal })],
      ['checkpointer.listHistory', () => a.checkpointer().listHistory(key, { limit: 1, signal })],
      [
        'checkpointer.updateState',
        () => a.checkpointer().updateState(key, CheckpointId.create(), 1, { signal }),
      ],
      ['checkpointer.deleteThread', () => a.checkpointer().deleteThread(key, { signal })],
      [
        'checkpointer.putWrites',
        () => a.checkpointer().putWrites(key, { checkpointId: cp.id, taskId: 't' }, [], { signal }),
      ],
      ['checkpointer.prune', () => a.checkpointer().prune(key, { keepLatest: 0, signal })],
      [
        'checkpointer.listThreads',
        () => a.checkpointer().listThreads(key.tenantId, { limit: 1, signal }),
      ],
      ['store.put', () => a.store().put(ns, 'k', 1, { signal })],
      ['store.get', () => a.store().get(ns, 'k', { signal })],
      ['store.getMany', () => a.store().getMany([{ namespace: ns, key: 'k' }], { signal })],
      ['store.search', () => a.store().search(ns.tenantId, { limit: 1, signal })],
      ['store.delete', () => a.store().delete(ns, 'k', { signal })],
      ['store.list', () => a.store().list(ns, { signal })],
      ['store.listNamespaces', () => a.store().listNamespaces(ns.tenantId, { signal })],
      ['store.evictExpired', () => a.store().evictExpired(ns.tenantId, { signal })],
      ['sessionLog.append', () => a.sessionLog().append(key, [1], { signal })],
      ['sessionLog.loadSince', () => a.sessionLog().loadSince(key, 0, { signal })],
      ['sessionLog.head', () => a.sessionLog().head(key, { signal })],
      ['sessionLog.loadLatest', () => a.sessionLog().loadLatest(key, { limit: 1, signal })],
      ['sessionLog.truncateAfter', () => a.sessionLog().truncateAfter(key, 0, { signal })],
      [
        'sessionLog.listThreads',
        () => a.sessionLog().listThreads(key.tenantId, { limit: 1, signal }),
      ],
      ['sessionLog.archiveBefore', () => a.sessionLog().archiveBefore(key, 1, { signal })],
      ['sessionLog.deleteThread', () => a.sessionLog().deleteThread(key, { signal })],
      ['lock.tryAcquire', () => a.lock.tryAcquire(key, { ttlMs: 1_000, signal })],
      ['lock.acquire', () => a.lock.acquire(key, { ttlMs: 1_000, timeoutMs: 100, signal })],
      ['withSessionLock', () => withSessionLock(a.lock, key, async () => 1, { signal })],
      ['purgeTenant', () => a.purgeTenant(key.tenantId, { signal })],
    ];
    for (const [method, call] of calls) {
      const error = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, method).toMatchObject({ code: 'ABORTED' });
    }
    expect(await a.checkpointer().getLatest(key)).toBeUndefined();
    expect(await a.store().get(ns, 'k')).toBeUndefined();
    expect(await a.sessionLog().head(key)).toBe(0);
    const lease = await a.lock.tryAcquire(key, { ttlMs: 1_000 });
    expect(lease?.fence).toBeDefined();
    await lease?.release();
  }),

  test(
    'abort-while-waiting',
    'acquire rejects with ABORTED when its signal aborts while waiting',
    async ({ a, b }) => {
      const key = freshKey();
      const held = await a.lock.tryAcquire(key, { ttlMs: 10_000 });
      expect(held).toBeDefined();
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 50);
      await expectCode(
        b.lock.acquire(key, { ttlMs: 1_000, timeoutMs: 5_000, signal: controller.signal }),
        'ABORTED',
      );
      await held?.release();
    },
  ),

  test('lease-operations', 'extend and release honour an aborted signal', async ({ a }) => {
    const key = freshKey();
    const lease = await a.lock.tryAcquire(key, { ttlMs: 10_000 });
    const signal = AbortSignal.abort();
    await expectCode(lease?.extend(10_000, { signal }) as Promise<void>, 'ABORTED');
    await expectCode(lease?.release({ signal }) as Promise<void>, 'ABORTED');
    expect(lease?.signal.aborted).toBe(false);
    await lease?.release();
  }),

  test(
    'abort-during-attempt',
    'an abort that lands while a grant attempt is in flight rejects with ABORTED and keeps no lease',
    async ({ a, b, ms }) => {
      const key = freshKey();
      // Held, briefly: the old polling loop ignored this abort and took the lock once free.
      const held = await a.lock.tryAcquire(key, { ttlMs: ms(300) });
      expect(held).toBeDefined();
      const controller = new AbortController();
      const waiting = b.lock.acquire(key, {
        ttlMs: 10_000,
        timeoutMs: 10_000,
        signal: controller.signal,
      });
      controller.abort();
      await expectCode(waiting, 'ABORTED');
      // Free: no lease is left behind (allow the background release to land).
      const next = await a.lock.acquire(key, { ttlMs: 10_000, timeoutMs: ms(2_000) });
      await next.release();
    },
  ),

  test(
    'abort-granting-attempt',
    'an abort during the attempt that would grant rejects with ABORTED and gives the lease back',
    async ({ a, b, ms }) => {
      for (const grab of [
        (signal: AbortSignal, key: ThreadKey) => a.lock.tryAcquire(key, { ttlMs: 10_000, signal }),
        (signal: AbortSignal, key: ThreadKey) =>
          a.lock.acquire(key, { ttlMs: 10_000, timeoutMs: 1_000, signal }),
      ]) {
        const key = freshKey();
        const controller = new AbortController();
        const granting = grab(controller.signal, key);
        controller.abort();
        await expectCode(granting, 'ABORTED');
        const next = await b.lock.acquire(key, { ttlMs: 10_000, timeoutMs: ms(2_000) });
        await next.release();
      }
    },
  ),

  test(
    'session-lock-never-runs',
    'withSessionLock aborted before its grant rejects with ABORTED and never runs fn',
    async ({ a, b, ms }) => {
      const key = freshKey();
      let ran = false;
      const controller = new AbortController();
      const run = withSessionLock(
        a.lock,
        key,
        async () => {
          ran = true;
        },
        { signal: controller.signal, timeoutMs: 1_000 },
      );
      controller.abort();
      await expectCode(run, 'ABORTED');
      expect(ran).toBe(false);
      const next = await b.lock.acquire(key, { ttlMs: 10_000, timeoutMs: ms(2_000) });
      await next.release();
    },
  ),
]);
