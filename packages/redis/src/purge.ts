import { type PurgeCounts, type TenantId, ThreadKey } from '@entelix/core';
import { purgeCheckpointThread } from './checkpointer.js';
import {
  command,
  expectInteger,
  forEachConcurrently,
  type RedisContext,
  run,
  runWrite,
} from './context.js';
import { decodeThreadMember } from './keys.js';
import { LOCK_END_ALL } from './scripts/lock.js';
import { LOG_DELETE_THREAD } from './scripts/session-log.js';
import { purgeStoreTenant } from './store.js';

// How many threads (each its own slot, so its own script) a purge works on at once.
const THREADS_IN_FLIGHT = 16;
// How many index members one read takes.
const INDEX_PAGE = 1000;

/**
 * Erase a tenant: walk its indexes (checkpoint threads, log threads, store namespaces,
 * threads whose lock was ever granted) and run one script per thread or namespace page,
 * each in its own slot. Session heads and fence counters stay, each moved one past (no
 * lease granted before passes fencing after, no append conditional on a head read
 * before writes after), so ordinals and fences never repeat.
 *
 * Not one atomic step: the tenant's data spans many slots. A write that runs while the
 * purge walks may survive it (a checkpoint put on a thread the walk has passed, an item
 * put into a namespace it has emptied); running the purge again erases that too, and
 * a write fenced by a lease granted before the purge, or an append conditional on a
 * head read before it, is refused or erased either way.
 */
export async function purgeTenant(context: RedisContext, tenantId: TenantId): Promise<PurgeCounts> {
  const index = context.keys.tenantThreads(tenantId);
  let checkpoints = 0;
  let writes = 0;
  let events = 0;

  // Leases end first: a write fenced by one of them either lands before its lease ends,
  // and the walks below erase it, or is FENCED; never left behind.
  await walkIndex(
    context,
    index.lockThreads,
    async (key) => {
      const keys = context.keys.lock(key);
      await run(context, LOCK_END_ALL, 2, [keys.lease, keys.fence], 'purgeTenant');
    },
    tenantId,
  );

  // A cursor walk, not a reread of the first page: an entry whose thread held a token
  // of a put that never finished stays (listed, empty) and must not be met again.
  await walkIndex(
    context,
    index.checkpointThreads,
    async (key) => {
      const counts = await purgeCheckpointThread(context, key);
      checkpoints += counts.checkpoints;
      writes += counts.writes;
    },
    tenantId,
  );

  await walkIndex(
    context,
    index.logThreads,
    async (key) => {
      const keys = context.keys.log(key);
      const result = await runWrite(
        context,
        LOG_DELETE_THREAD,
        [keys.head, keys.events],
        { key: undefined, fence: '' },
        '',
        [],
        'purgeTenant',
      );
      events += expectInteger(result, 'purgeTenant');
    },
    tenantId,
  );

  const storeItems = await purgeStoreTenant(context, tenantId);

  return { checkpoints, writes, storeItems, events };
}

/**
 * Run `work` for every thread of an index, a page at a time after the last member seen,
 * so entries that `work` removes or keeps never make it skip or repeat one.
 */
async function walkIndex(
  context: RedisContext,
  index: string,
  work: (key: ThreadKey) => Promise<void>,
  tenantId: string,
): Promise<void> {
  let min = '-';
  for (;;) {
    const members = await command(context, 'purgeTenant', () =>
      context.client.zrangebylex(index, min, '+', 'LIMIT', 0, INDEX_PAGE),
    );
    await forEachConcurrently(members, THREADS_IN_FLIGHT, (member) =>
      work(ThreadKey.of(tenantId, decodeThreadMember(member))),
    );
    if (members.length < INDEX_PAGE) return;
    min = `(${members[members.length - 1]}`;
  }
}
