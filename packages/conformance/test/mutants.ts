import type { TestId } from '@entelix/conformance';
import type { Flaw } from './fake.js';

/** One planted bug: what it is, and exactly which tests must fail because of it. */
export interface Mutant {
  /** The bug, as a reviewer would describe it. */
  readonly bug: string;
  /**
   * Every test that fails with the bug, and no other test of their groups may: the
   * run covers just these groups, so each flaw costs only its own groups' time.
   */
  readonly mustFail: readonly TestId[];
  /**
   * Run a second time without a snapshot: the test must catch the bug through the
   * API's reads alone.
   */
  readonly alsoWithoutSnapshot?: true;
}

/** Every flaw of the reference adapter, and the tests that catch it. */
export const MUTANTS: { readonly [F in Flaw]: Mutant } = {
  'latest-by-step': {
    bug: 'getLatest returns the highest step, not the last written',
    mustFail: [
      'checkpointer/latest-write-order',
      'checkpointer/latest-not-id-order',
      'checkpointer/update-state-fork',
    ],
  },
  'put-overwrites': {
    bug: 'put replaces an existing checkpoint instead of refusing it',
    mustFail: ['checkpointer/put-conflict'],
  },
  'shares-tenants': {
    bug: 'checkpoint rows are matched by thread id without the tenant',
    mustFail: [
      'tenant-isolation/checkpoints',
      'tenant-isolation/checkpoint-reads',
      'tenant-isolation/purge',
    ],
  },
  'before-in-own-namespace': {
    bug: "listHistory looks for `before` only in the query's namespace",
    mustFail: ['checkpoint-namespaces/before-any-namespace'],
  },
  'before-last-written': {
    bug: 'listHistory starts before the last written of the checkpoints sharing the `before` id',
    mustFail: ['checkpoint-namespaces/before-shared-id'],
  },
  'filter-after-limit': {
    bug: 'listHistory applies the metadata filter after the limit',
    mustFail: ['checkpoint-namespaces/filter-before-limit'],
  },
  'filter-by-containment': {
    bug: 'a metadata filter matches by JSON containment (@>) instead of equality',
    mustFail: ['checkpoint-namespaces/filter-nested-equality'],
  },
  'prune-miscounts': {
    bug: 'prune returns how many checkpoints it kept, not how many it deleted',
    mustFail: ['checkpoint-namespaces/prune', 'checkpoint-namespaces/prune-everything'],
  },
  'prune-per-thread': {
    bug: 'prune keeps the newest checkpoints of the thread, not of each namespace',
    mustFail: ['checkpoint-namespaces/prune'],
  },
  'threads-across-tenants': {
    bug: "listThreads selects tenants by prefix, so it lists another tenant's threads",
    mustFail: ['tenant-isolation/thread-listings', 'tenant-isolation/purge'],
  },
  'threads-in-utf16-order': {
    bug: 'listThreads sorts by UTF-16 code unit, not by code point',
    mustFail: ['checkpoint-namespaces/list-threads'],
  },
  'gathered-reads-by-position': {
    bug: 'reads issued together are answered with the rows found, in write order, by position',
    mustFail: ['concurrency/parallel-reads'],
  },
  'gathered-gets-by-position': {
    bug: 'store gets issued together get the items found, in write order, by position',
    mustFail: ['concurrency/parallel-reads'],
  },
  'gathered-events-by-position': {
    bug: 'event reads issued together get the events found, in thread order, by position',
    mustFail: ['concurrency/parallel-reads'],
  },
  'writes-last-wins': {
    bug: 'a repeated pending write with idx >= 0 replaces the first',
    mustFail: ['pending-writes/first-wins', 'pending-writes/with-put'],
  },
  'negative-writes-first-win': {
    bug: 'a repeated pending write with idx < 0 keeps the first instead of the last',
    mustFail: ['pending-writes/last-wins-negative', 'pending-writes/with-put'],
  },
  'history-without-writes': {
    bug: 'listHistory returns checkpoints without their pending writes',
    mustFail: ['pending-writes/with-every-read', 'pending-writes/per-checkpoint'],
  },
  'writes-by-task': {
    bug: 'pending writes are ordered by (taskId, idx), forgetting taskPath',
    mustFail: ['pending-writes/with-every-read', 'pending-writes/with-put'],
  },
  'racy-pending-writes': {
    bug: 'putWrites checks for an existing write, then inserts after a round trip',
    mustFail: ['concurrency/parallel-put-writes', 'concurrency/parallel-parent-writes'],
  },
  'orphan-writes': {
    bug: 'putWrites stores the writes before finding the checkpoint missing',
    mustFail: ['hostile-input/refused-writes'],
    alsoWithoutSnapshot: true,
  },
  'put-before-parent-check': {
    bug: 'a put with parentWrites stores the checkpoint before finding its parent missing',
    mustFail: ['hostile-input/refused-writes'],
    alsoWithoutSnapshot: true,
  },
  'put-drops-parent-writes': {
    bug: 'put stores the checkpoint and ignores its parentWrites',
    mustFail: ['pending-writes/with-put'],
  },
  'glob-prefix': {
    bug: 'list builds a LIKE pattern from the prefix without escaping % and _',
    mustFail: ['store/literal-prefix'],
  },
  'search-prefix-not-segment': {
    bug: 'search matches the rendered namespace as text, so ["users"] matches ["usersx"]',
    mustFail: ['store-search/prefix-order-paging'],
  },
  'search-includes-expired': {
    bug: 'search returns expired items that were not evicted yet',
    mustFail: ['store-search/expired-excluded'],
  },
  'null-operand-as-sql-null': {
    bug: 'a $ne null condition compares with SQL NULL, so an item whose field is null is kept',
    mustFail: ['store-search/null-operands'],
  },
  'get-many-in-storage-order': {
    bug: 'getMany returns the items found in storage order, not in request order',
    mustFail: ['store-search/get-many'],
  },
  'ttl-from-created-at': {
    bug: 'an upsert computes the expiry from createdAt instead of the write time',
    mustFail: ['store/ttl-renewed'],
  },
  'reuses-ordinals': {
    bug: 'the head is the last stored event, so ordinals repeat after archiving',
    mustFail: [
      'session-log/archive-all-continues',
      'session-log/archive-clamped',
      'session-log/delete-thread',
      'session-log/truncate-after',
      'session-log/replace-tail',
      'session-log/truncate-expected-head',
    ],
  },
  'racy-appends': {
    bug: 'append reads the head, then writes after a round trip',
    mustFail: [
      'concurrency/parallel-appends',
      'concurrency/parallel-batches',
      'concurrency/parallel-expected-head',
    ],
  },
  'ignores-expected-head': {
    bug: 'append and truncateAfter ignore expectedHead',
    mustFail: [
      'session-log/delete-thread',
      'session-log/expected-head',
      'session-log/replace-tail',
      'session-log/truncate-expected-head',
      'purge/conditional-append-after',
    ],
  },
  'racy-expected-head': {
    bug: 'append checks expectedHead, then appends after a round trip',
    mustFail: ['concurrency/parallel-expected-head'],
  },
  'conflict-creates-thread': {
    bug: 'append registers a new thread before checking expectedHead',
    mustFail: ['hostile-input/refused-writes'],
    alsoWithoutSnapshot: true,
  },
  'truncate-moves-head': {
    bug: 'truncateAfter moves the head back, so removed ordinals are handed out again',
    mustFail: ['session-log/truncate-after', 'session-log/truncate-expected-head'],
  },
  'delete-keeps-head': {
    bug: 'deleteThread keeps the head, so an append prepared before it still writes',
    mustFail: ['session-log/delete-thread'],
  },
  'latest-events-descending': {
    bug: 'loadLatest returns the newest events newest first',
    mustFail: ['session-log/load-latest', 'session-log/truncate-after', 'session-log/replace-tail'],
  },
  'no-lock-exclusion': {
    bug: 'grant ignores a live lease',
    mustFail: [
      'lock/exclusion',
      'lock/extend',
      'lock/lost-after-takeover',
      'lock/acquire-waits',
      'lock/session-lock',
      'lock/session-lock-heartbeat',
      'lock/long-ttl',
      'concurrency/parallel-try-acquire',
      'concurrency/parallel-acquire',
    ],
  },
  'ignores-fence': {
    bug: 'writes do not compare their fence with the newest grant',
    mustFail: ['lock/fenced-writes', 'lock/fenced-store-writes', 'lock/fenced-other-thread'],
  },
  'purge-leaves-events': {
    bug: 'purgeTenant forgets the session events',
    mustFail: ['purge/erases-and-counts', 'purge/conditional-append-after', 'purge/fences-survive'],
  },
  'purge-resets-fences': {
    bug: 'purgeTenant deletes the fence counters, so fences start over',
    mustFail: ['purge/fences-survive'],
  },
  'purge-by-prefix': {
    bug: 'purgeTenant erases every tenant whose id starts with the tenant',
    mustFail: ['tenant-isolation/purge'],
  },
  'purge-keeps-heads': {
    bug: 'purgeTenant keeps session heads, so an append prepared before it still writes',
    mustFail: ['purge/ordinals-continue', 'purge/conditional-append-after'],
  },
  'accepts-empty-tenant': {
    bug: 'a hand-written head() passes the key to the driver unvalidated',
    mustFail: ['id-validation/bad-tenant-everywhere'],
  },
  'lenient-codec': {
    bug: 'a hand-written store put serialises with JSON.stringify',
    mustFail: ['payload/strict-codec', 'payload/future-schema'],
  },
  'ignores-abort': {
    bug: 'a wrapped store get forwards its arguments but drops the options',
    mustFail: ['abort/already-aborted'],
  },
  'cached-reads': {
    bug: 'decoded checkpoints, items and events are cached per instance and shared',
    mustFail: ['payload/fresh-reads-one-instance'],
  },
};

/** One run of the reference adapter with a flaw. */
export interface MutantRun {
  readonly flaw: Flaw;
  readonly snapshot: boolean;
  /** The describe title the run's tests are under. */
  readonly label: string;
  readonly mustFail: readonly TestId[];
}

/** Every run: each flaw once with a snapshot, and again without when it asks to. */
export const MUTANT_RUNS: readonly MutantRun[] = Object.entries(MUTANTS).flatMap(
  ([flaw, mutant]) => {
    const run = (snapshot: boolean): MutantRun => ({
      flaw: flaw as Flaw,
      snapshot,
      label: `flaw ${flaw}${snapshot ? '' : ' (no snapshot)'}`,
      mustFail: mutant.mustFail,
    });
    return mutant.alsoWithoutSnapshot ? [run(true), run(false)] : [run(true)];
  },
);

/** How many files the runs are spread over, so they run in parallel. */
export const MUTANT_SHARDS = 4;
