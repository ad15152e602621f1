import {
  abortTests,
  type ConformanceGroup,
  checkpointerTests,
  concurrencyTests,
  idValidationTests,
  lockTests,
  payloadTests,
  sessionLogTests,
  storeTests,
  tenantIsolationTests,
} from '@entelix/conformance';
import type { Flaw } from './fake.js';

/** Each flaw, the group that must catch it, and the test ids that must fail. */
export const BROKEN_FAKES: readonly { flaw: Flaw; group: ConformanceGroup; mustFail: string[] }[] =
  [
    {
      flaw: 'latest-by-step',
      group: checkpointerTests,
      mustFail: ['checkpointer/latest-write-order'],
    },
    { flaw: 'put-overwrites', group: checkpointerTests, mustFail: ['checkpointer/put-conflict'] },
    { flaw: 'glob-prefix', group: storeTests, mustFail: ['store/literal-prefix'] },
    {
      flaw: 'reuses-ordinals',
      group: sessionLogTests,
      mustFail: ['session-log/archive-all-continues'],
    },
    { flaw: 'no-lock-exclusion', group: lockTests, mustFail: ['lock/exclusion'] },
    {
      flaw: 'ignores-fence',
      group: lockTests,
      mustFail: ['lock/fenced-writes', 'lock/fenced-store-writes'],
    },
    {
      flaw: 'shares-tenants',
      group: tenantIsolationTests,
      mustFail: ['tenant-isolation/checkpoints'],
    },
    {
      flaw: 'accepts-empty-tenant',
      group: idValidationTests,
      mustFail: ['id-validation/bad-tenant-everywhere'],
    },
    { flaw: 'racy-appends', group: concurrencyTests, mustFail: ['concurrency/parallel-appends'] },
    { flaw: 'put-overwrites', group: concurrencyTests, mustFail: ['concurrency/parallel-puts'] },
    {
      flaw: 'no-lock-exclusion',
      group: concurrencyTests,
      mustFail: ['concurrency/parallel-try-acquire'],
    },
    { flaw: 'lenient-codec', group: payloadTests, mustFail: ['payload/strict-codec'] },
    { flaw: 'ignores-abort', group: abortTests, mustFail: ['abort/already-aborted'] },
  ];
