import type { GroupApi } from '@entelix/conformance';
import { Checkpoint, Namespace, type Persistence, ThreadKey } from '@entelix/core';
import { expect } from 'vitest';
import type { RedisClient } from '../src/index.js';
import { keysUnderPrefix } from './real-redis.js';

// Lease keys expire on their own, so they are no part of what a write leaves behind.
const LEASE_KEY = /:lock:\{[^}]*\}:lease$/;

/**
 * Everything under `keyPrefix`, one line per key in key order: the key, its type and
 * its value in a canonical form (strings raw, hashes by sorted field, sorted sets as
 * ZRANGE WITHSCORES, sets sorted), and whether it has a TTL (never how much is left,
 * which changes by itself). Lease keys are left out. Test inspection only: the library
 * itself never scans the keyspace; on a Cluster every master is scanned.
 */
export async function snapshotPrefix(client: RedisClient, keyPrefix: string): Promise<string> {
  const keys = (await keysUnderPrefix(client as never, keyPrefix)).filter(
    (key) => !LEASE_KEY.test(key),
  );
  // All in flight at once: ioredis pipelines them (on a Cluster, to each key's node).
  const lines = await Promise.all(keys.map((key) => renderKey(client, key)));
  return lines.filter((line) => line !== '').join('\n');
}

async function renderKey(client: RedisClient, key: string): Promise<string> {
  const type = await client.type(key);
  let value: unknown;
  if (type === 'string') value = await client.get(key);
  else if (type === 'hash') {
    const fields = await client.hgetall(key);
    value = Object.keys(fields)
      .sort()
      .map((field) => [field, fields[field]]);
  } else if (type === 'zset') value = await client.zrange(key, 0, -1, 'WITHSCORES');
  else if (type === 'set') value = (await client.smembers(key)).sort();
  // Gone (expired) since the scan.
  else if (type === 'none') return '';
  else value = `unexpected type ${type}`;
  const hasTtl = (await client.pttl(key)) > 0;
  return JSON.stringify([key, type, value, hasTtl ? 'has a TTL' : 'no TTL']);
}

/**
 * The target's own test that its snapshot sees every kind of write: a snapshot that
 * missed one would let a refused call's stray write go unnoticed.
 */
export function snapshotTests({ test }: GroupApi): unknown {
  return [
    test(
      'snapshot-sees-every-write',
      'the storage snapshot changes with every kind of write',
      async ({ a, snapshot }) => {
        if (snapshot === undefined) throw new Error('the target has no snapshot()');
        const key = ThreadKey.of(`snapshot-${crypto.randomUUID()}`, 'thread');
        const namespace = Namespace.of(key.tenantId, 'notes');
        const checkpointer = a.checkpointer<number>();
        const store = a.store<number>();
        const log = a.sessionLog<string>();
        const root = Checkpoint.create({ key, step: 0, state: 0, metadata: { m: 1 } });
        let forked = '';
        const writes: [string, (p: Persistence) => Promise<unknown>][] = [
          ['checkpoint put', () => checkpointer.put(root)],
          [
            'pending writes',
            () =>
              checkpointer.putWrites(key, { checkpointId: root.id, taskId: 't' }, [
                { idx: 0, channel: 'c', value: 1 },
              ]),
          ],
          [
            'a last-wins pending write',
            () =>
              checkpointer.putWrites(key, { checkpointId: root.id, taskId: 't' }, [
                { idx: -1, channel: 'error', value: 2 },
              ]),
          ],
          [
            'updateState',
            async () => {
              forked = await checkpointer.updateState(key, root.id, 1);
            },
          ],
          ['prune', () => checkpointer.prune(key, { keepLatest: 1 })],
          ['store put', () => store.put(namespace, 'k', 1)],
          ['store put with a TTL', () => store.put(namespace, 'k', 1, { ttlMs: 60_000 })],
          ['store delete', () => store.delete(namespace, 'k')],
          ['append', () => log.append(key, ['a', 'b', 'c'])],
          ['conditional append', () => log.append(key, ['d'], { expectedHead: 3 })],
          ['append replacing the tail', () => log.append(key, ['e'], { truncateAfter: 3 })],
          ['truncateAfter', () => log.truncateAfter(key, 2)],
          ['archiveBefore', () => log.archiveBefore(key, 2)],
          ['log deleteThread', () => log.deleteThread(key)],
          [
            'lock grant',
            async () => {
              const lease = await a.lock.tryAcquire(key, { ttlMs: 10_000 });
              await lease?.release();
            },
          ],
          ['checkpoint deleteThread', () => checkpointer.deleteThread(key)],
          [
            'purgeTenant',
            async () => {
              await store.put(namespace, 'k', 1);
              return a.purgeTenant(key.tenantId);
            },
          ],
        ];
        for (const [what, write] of writes) {
          const before = await snapshot();
          await write(a);
          expect(await snapshot(), what).not.toBe(before);
        }
        expect(forked).not.toBe('');
      },
      { timeoutMs: 60_000 },
    ),
  ];
}
