import {
  type ErrorCode,
  type FenceToken,
  Namespace,
  type Persistence,
  ThreadKey,
} from '@entelix/core';
import { expect } from 'vitest';
import { defineGroup, freshId, freshKey, makeCheckpoint, tenantView } from '../fixtures.js';

type Case = [name: string, call: (p: Persistence) => Promise<unknown>, code: ErrorCode];

/**
 * Calls that are wrong in two ways at once, and the one code every backend must give:
 * the positional arguments are checked first, then the options (identifiers and the
 * fence before the rest), then payload encoding, then the signal.
 */
function doublyWrongCalls(key: ThreadKey, ns: Namespace): Case[] {
  const aborted = AbortSignal.abort();
  const badFence = { key, fence: 0n } as FenceToken;
  const foreignFence = { key: ThreadKey.of(freshId('tenant'), 't'), fence: 1n } as FenceToken;
  const badKey = { tenantId: '', threadId: 't' } as unknown as ThreadKey;
  const cp = makeCheckpoint(key, 1);
  const nanState = { ...cp, state: Number.NaN };
  const target = { checkpointId: cp.id, taskId: 't' };
  const nanWrite = [{ idx: 0, channel: 'c', value: Number.NaN }];
  const notASignal = { aborted: 'yes' } as unknown as AbortSignal;
  return [
    // A malformed fence wins over an aborted signal: CONFIG, not ABORTED.
    [
      'put: bad fence + aborted',
      (p) => p.checkpointer().put(cp, { fence: badFence, signal: aborted }),
      'CONFIG',
    ],
    [
      'updateState: bad fence + aborted',
      (p) => p.checkpointer().updateState(key, cp.id, 1, { fence: foreignFence, signal: aborted }),
      'CONFIG',
    ],
    [
      'deleteThread: bad fence + aborted',
      (p) => p.checkpointer().deleteThread(key, { fence: badFence, signal: aborted }),
      'CONFIG',
    ],
    [
      'putWrites: bad fence + aborted',
      (p) => p.checkpointer().putWrites(key, target, [], { fence: badFence, signal: aborted }),
      'CONFIG',
    ],
    [
      'prune: bad fence + aborted',
      (p) => p.checkpointer().prune(key, { keepLatest: 1, fence: badFence, signal: aborted }),
      'CONFIG',
    ],
    [
      'store.put: bad fence + aborted',
      (p) => p.store().put(ns, 'k', 1, { fence: foreignFence, signal: aborted }),
      'CONFIG',
    ],
    [
      'store.delete: bad fence + aborted',
      (p) => p.store().delete(ns, 'k', { fence: badFence, signal: aborted }),
      'CONFIG',
    ],
    [
      'append: bad fence + aborted',
      (p) => p.sessionLog().append(key, [1], { fence: badFence, signal: aborted }),
      'CONFIG',
    ],
    [
      'archiveBefore: bad fence + aborted',
      (p) => p.sessionLog().archiveBefore(key, 1, { fence: badFence, signal: aborted }),
      'CONFIG',
    ],
    [
      'truncateAfter: bad fence + aborted',
      (p) => p.sessionLog().truncateAfter(key, 1, { fence: badFence, signal: aborted }),
      'CONFIG',
    ],
    // A payload that cannot be stored wins over an aborted signal: SERIALIZATION.
    [
      'put: unserialisable + aborted',
      (p) => p.checkpointer().put(nanState, { signal: aborted }),
      'SERIALIZATION',
    ],
    [
      'updateState: unserialisable + aborted',
      (p) => p.checkpointer().updateState(key, cp.id, Number.NaN, { signal: aborted }),
      'SERIALIZATION',
    ],
    [
      'putWrites: unserialisable + aborted',
      (p) => p.checkpointer().putWrites(key, target, nanWrite, { signal: aborted }),
      'SERIALIZATION',
    ],
    [
      'store.put: unserialisable + aborted',
      (p) => p.store().put(ns, 'k', Number.NaN, { signal: aborted }),
      'SERIALIZATION',
    ],
    [
      'append: unserialisable + aborted',
      (p) => p.sessionLog().append(key, [Number.NaN], { signal: aborted }),
      'SERIALIZATION',
    ],
    // An option that is wrong wins over a payload that cannot be stored: CONFIG.
    [
      'put: bad fence + unserialisable',
      (p) => p.checkpointer().put(nanState, { fence: badFence }),
      'CONFIG',
    ],
    [
      'store.put: bad ttl + unserialisable',
      (p) => p.store().put(ns, 'k', Number.NaN, { ttlMs: -1 }),
      'CONFIG',
    ],
    [
      'append: bad expectedHead + unserialisable',
      (p) => p.sessionLog().append(key, [Number.NaN], { expectedHead: -1 }),
      'CONFIG',
    ],
    [
      'putWrites: not a signal + unserialisable',
      (p) => p.checkpointer().putWrites(key, target, nanWrite, { signal: notASignal }),
      'CONFIG',
    ],
    // A bad identifier wins over everything after it: INVALID_ID.
    [
      'getLatest: bad key + bad options',
      (p) => p.checkpointer().getLatest(badKey, 'x' as never),
      'INVALID_ID',
    ],
    [
      'listHistory: bad key + bad limit',
      (p) => p.checkpointer().listHistory(badKey, { limit: 0 }),
      'INVALID_ID',
    ],
    [
      'listHistory: bad ns + bad limit',
      (p) => p.checkpointer().listHistory(key, { limit: 0, ns: 'a\u0000' }),
      'INVALID_ID',
    ],
    [
      'getById: bad id + aborted',
      (p) => p.checkpointer().getById(key, 'not-a-uuid', { signal: aborted }),
      'INVALID_ID',
    ],
    [
      'putWrites: bad checkpoint id + unserialisable',
      (p) => p.checkpointer().putWrites(key, { checkpointId: 'x', taskId: 't' }, nanWrite),
      'INVALID_ID',
    ],
    [
      'put: bad key + bad fence + unserialisable',
      (p) => p.checkpointer().put({ ...nanState, key: badKey }, { fence: badFence }),
      'INVALID_ID',
    ],
    [
      'store.list: bad namespace + bad limit',
      (p) => p.store().list({ tenantId: '', scope: ['s'] } as never, { limit: 0 }),
      'INVALID_ID',
    ],
    ['store.put: bad key + bad ttl', (p) => p.store().put(ns, '', 1, { ttlMs: 0 }), 'INVALID_ID'],
    [
      'search: bad tenant + bad filter',
      (p) => p.store().search('', { limit: 1, filter: { x: { $bad: 1 } } }),
      'INVALID_ID',
    ],
    ['loadSince: bad key + bad cursor', (p) => p.sessionLog().loadSince(badKey, -1), 'INVALID_ID'],
    [
      'listThreads: bad tenant + bad limit',
      (p) => p.sessionLog().listThreads('', { limit: 0 }),
      'INVALID_ID',
    ],
    [
      'tryAcquire: bad key + bad ttl + aborted',
      (p) => p.lock.tryAcquire(badKey, { ttlMs: 0, signal: aborted }),
      'INVALID_ID',
    ],
    [
      'acquire: bad ttl + aborted',
      (p) => p.lock.acquire(key, { ttlMs: 0, timeoutMs: 1, signal: aborted }),
      'CONFIG',
    ],
    [
      'purgeTenant: bad tenant + aborted',
      (p) => p.purgeTenant('', { signal: aborted }),
      'INVALID_ID',
    ],
  ];
}

/** The order of checks, pinned: one code for the same doubly wrong call on every backend. */
export const precedenceTests = defineGroup('precedence', ({ test }) => [
  test(
    'doubly-wrong',
    'a call wrong in two ways gets the same code on every backend, and writes nothing',
    async ({ a, captureStorage }) => {
      const key = freshKey();
      const ns = Namespace.of(key.tenantId, 'scope');
      const storage = await captureStorage(() => tenantView(a, key.tenantId, [key.threadId]));
      for (const [name, call, code] of doublyWrongCalls(key, ns)) {
        const error = await call(a).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error, name).toMatchObject({ code });
      }
      await storage.expectUnchanged();
      expect(await a.checkpointer().listHistory(key, { limit: 10 })).toEqual([]);
      expect(await a.store().list(ns)).toEqual([]);
      expect(await a.sessionLog().head(key)).toBe(0);
    },
  ),
]);
