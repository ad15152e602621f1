import { expectCode, type GroupApi, tenantView } from '@entelix/conformance';
import { Checkpoint, CheckpointId, Namespace, type Persistence, ThreadKey } from '@entelix/core';
import { expect } from 'vitest';

// Tenant and thread ids that a naive `tenant:thread` key or a lossy encoding would
// confuse with each other.
const PAIRS: [ThreadKey, ThreadKey][] = [
  [ThreadKey.of('acme', 'corp:thread'), ThreadKey.of('acme:corp', 'thread')],
  [ThreadKey.of('a{b}', 'c'), ThreadKey.of('a', '{b}c')],
  [ThreadKey.of('t%3A', 'x'), ThreadKey.of('t:', 'x')],
];

async function populate(p: Persistence, key: ThreadKey, id: CheckpointId): Promise<void> {
  const checkpointer = p.checkpointer();
  const tenant = key.tenantId;
  await checkpointer.put(
    Checkpoint.create({ key, id, step: 0, state: tenant, metadata: { tenant } }),
  );
  await checkpointer.put(Checkpoint.create({ key, id, ns: 'child', step: 0, state: tenant }));
  await checkpointer.putWrites(key, { checkpointId: id, taskId: 'task' }, [
    { idx: 0, channel: 'c', value: tenant },
  ]);
  await p.store().put(Namespace.of(tenant, key.threadId), key.threadId, tenant);
  await p.sessionLog().append(key, [tenant, tenant]);
}

/**
 * The Cluster's own purge isolation test: the suite's `tenant-isolation/purge` also
 * makes a store write fenced by a lease, which a Cluster refuses with `CONFIG` (the
 * lease's fence counter is in another slot than the namespace). This is the same check
 * with checkpoint and session-log writes fenced instead, and the refusal asserted.
 */
export function clusterPurgeTests({ test }: GroupApi): unknown {
  return [
    test(
      'cluster-purge-isolation',
      'purgeTenant on a Cluster erases one tenant and leaves another with the same thread ids, namespaces, keys and checkpoint ids untouched',
      async ({ a, b }) => {
        for (const [pair, [template, twin]] of PAIRS.entries()) {
          const suffix = `-${pair}-${crypto.randomUUID()}`;
          const left = ThreadKey.of(template.tenantId + suffix, template.threadId);
          const right = ThreadKey.of(twin.tenantId + suffix, left.threadId);
          const id = CheckpointId.create();
          await populate(a, left, id);
          await populate(b, right, id);
          const rightLease = await b.lock.tryAcquire(right, { ttlMs: 10_000 });
          if (rightLease === undefined) throw new Error('lock not granted');
          const rightBefore = await tenantView(b, right.tenantId, [right.threadId]);
          expect(await a.purgeTenant(left.tenantId)).toEqual({
            checkpoints: 2,
            writes: 1,
            storeItems: 1,
            events: 2,
          });
          expect(await tenantView(a, right.tenantId, [right.threadId])).toEqual(rightBefore);
          expect(await tenantView(b, left.tenantId)).toMatchObject({
            checkpointThreads: [],
            items: [],
            namespaces: [],
          });
          await b.sessionLog().append(right, ['fenced'], { fence: rightLease });
          await b.checkpointer().updateState(right, id, 'fenced', { fence: rightLease });
          await expectCode(
            // Two parts: never the thread's own tag, so another slot than the lease's.
            b.store().put(Namespace.of(right.tenantId, 'fenced', 'store'), 'k', 1, {
              fence: rightLease,
            }),
            'CONFIG',
          );
          await rightLease.release();
          await expectCode(a.checkpointer().updateState(left, id, { gone: true }), 'NOT_FOUND');
        }
      },
    ),
  ];
}
