import {
  CheckpointId,
  type Namespace,
  type Persistence,
  ThreadKey,
  withSessionLock,
} from '@entelix/core';
import { expect } from 'vitest';
import { defineGroup, expectCode, freshId, makeCheckpoint, settle } from '../fixtures.js';

/** Tenant ids that must never reach storage, cast past the types. */
const BAD_TENANTS: [string, unknown][] = [
  ['empty', ''],
  ['NUL', 'a\u0000b'],
  ['lone surrogate', 'a\ud800'],
  ['257 bytes', 'x'.repeat(257)],
  ['not a string', 42],
  ['missing', undefined],
];

/** Every method of every contract, called with the given (bad) tenant. */
function everyMethod(p: Persistence, tenantId: unknown): [string, () => Promise<unknown>][] {
  const key = { tenantId, threadId: 'thread' } as unknown as ThreadKey;
  const ns = { tenantId, scope: ['scope'], render: () => 'x' } as unknown as Namespace;
  const goodKey = ThreadKey.of('valid-tenant', 'thread');
  const cp = { ...makeCheckpoint(goodKey, 1), key };
  const checkpointer = p.checkpointer();
  const store = p.store();
  const log = p.sessionLog();
  return [
    ['checkpointer.put', () => checkpointer.put(cp)],
    ['checkpointer.getLatest', () => checkpointer.getLatest(key)],
    ['checkpointer.getById', () => checkpointer.getById(key, CheckpointId.create())],
    ['checkpointer.listHistory', () => checkpointer.listHistory(key, { limit: 1 })],
    ['checkpointer.updateState', () => checkpointer.updateState(key, CheckpointId.create(), 1)],
    ['checkpointer.deleteThread', () => checkpointer.deleteThread(key)],
    [
      'checkpointer.putWrites',
      () =>
        checkpointer.putWrites(key, { checkpointId: CheckpointId.create(), taskId: 't' }, [
          { idx: 0, channel: 'c', value: 1 },
        ]),
    ],
    ['checkpointer.prune', () => checkpointer.prune(key, { keepLatest: 0 })],
    ['checkpointer.listThreads', () => checkpointer.listThreads(tenantId as string, { limit: 1 })],
    ['store.put', () => store.put(ns, 'k', 1)],
    ['store.get', () => store.get(ns, 'k')],
    ['store.getMany', () => store.getMany([{ namespace: ns, key: 'k' }])],
    ['store.search', () => store.search(tenantId as string, { limit: 1 })],
    ['store.delete', () => store.delete(ns, 'k')],
    ['store.list', () => store.list(ns)],
    ['store.listNamespaces', () => store.listNamespaces(tenantId as string)],
    // evictExpired() without a tenant legitimately sweeps every tenant.
    ...(tenantId === undefined
      ? []
      : [
          ['store.evictExpired', () => store.evictExpired(tenantId as string)] as [
            string,
            () => Promise<unknown>,
          ],
        ]),
    ['sessionLog.append', () => log.append(key, [1])],
    ['sessionLog.loadSince', () => log.loadSince(key, 0)],
    ['sessionLog.loadLatest', () => log.loadLatest(key, { limit: 1 })],
    ['sessionLog.head', () => log.head(key)],
    ['sessionLog.archiveBefore', () => log.archiveBefore(key, 1)],
    ['sessionLog.truncateAfter', () => log.truncateAfter(key, 0)],
    ['sessionLog.deleteThread', () => log.deleteThread(key)],
    ['sessionLog.listThreads', () => log.listThreads(tenantId as string, { limit: 1 })],
    ['lock.tryAcquire', () => p.lock.tryAcquire(key, { ttlMs: 1_000 })],
    ['lock.acquire', () => p.lock.acquire(key, { ttlMs: 1_000, timeoutMs: 100 })],
    ['withSessionLock', () => withSessionLock(p.lock, key, async () => 1)],
    ['purgeTenant', () => p.purgeTenant(tenantId as string)],
  ];
}

/** Identifier rules: bad ids are INVALID_ID on every method, before any I/O. */
export const idValidationTests = defineGroup('id-validation', ({ test }) => [
  test(
    'bad-tenant-everywhere',
    'every method rejects empty and malformed tenants with INVALID_ID',
    async ({ a }) => {
      for (const [label, tenantId] of BAD_TENANTS) {
        for (const [method, call] of everyMethod(a, tenantId)) {
          expect(await settle(call), `${method} with ${label} tenant`).toMatchObject({
            code: 'INVALID_ID',
          });
        }
      }
      // Nothing may have been written for the cast-away tenants, nor under their threads.
      expect(await a.store().listNamespaces('valid-tenant', { prefix: ['scope'] })).toEqual([]);
    },
  ),

  test('bad-thread', 'empty and malformed thread ids are INVALID_ID', async ({ a }) => {
    const tenant = freshId('tenant');
    for (const [, threadId] of BAD_TENANTS) {
      const key = { tenantId: tenant, threadId } as unknown as ThreadKey;
      await expectCode(a.checkpointer().getLatest(key), 'INVALID_ID');
      await expectCode(a.sessionLog().append(key, [1]), 'INVALID_ID');
      await expectCode(a.lock.tryAcquire(key, { ttlMs: 1_000 }), 'INVALID_ID');
    }
  }),

  test('bad-scope', 'empty and malformed namespace parts are INVALID_ID', async ({ a }) => {
    const tenant = freshId('tenant');
    for (const [, part] of BAD_TENANTS) {
      const ns = { tenantId: tenant, scope: ['ok', part] } as unknown as Namespace;
      await expectCode(a.store().put(ns, 'k', 1), 'INVALID_ID');
      await expectCode(a.store().list(ns), 'INVALID_ID');
    }
    await expectCode(
      a.store().put({ tenantId: tenant, scope: 'ok' } as never, 'k', 1),
      'INVALID_ID',
    );
    expect(await a.store().listNamespaces(tenant)).toEqual([]);
  }),

  test('bad-checkpoint-ids', 'malformed checkpoint ids are INVALID_ID', async ({ a }) => {
    const key = ThreadKey.of(freshId('tenant'), 'thread');
    for (const id of ['', 'nope', '123', 42, undefined]) {
      await expectCode(a.checkpointer().getById(key, id as never), 'INVALID_ID');
      await expectCode(a.checkpointer().updateState(key, id as never, 1), 'INVALID_ID');
      if (id !== undefined) {
        await expectCode(
          a.checkpointer().listHistory(key, { limit: 1, before: id as never }),
          'INVALID_ID',
        );
      }
    }
  }),
]);
