import { afterAll, describe } from 'vitest';
import { type ConformanceGroup, ConformanceReport } from './fixtures.js';
import { abortTests } from './groups/abort.js';
import { checkpointNamespaceTests } from './groups/checkpoint-namespaces.js';
import { checkpointerTests } from './groups/checkpointer.js';
import { concurrencyTests } from './groups/concurrency.js';
import { hostileInputTests } from './groups/hostile-input.js';
import { idValidationTests } from './groups/id-validation.js';
import { lockTests } from './groups/lock.js';
import { payloadTests } from './groups/payload.js';
import { pendingWritesTests } from './groups/pending-writes.js';
import { precedenceTests } from './groups/precedence.js';
import { purgeTests } from './groups/purge.js';
import { sessionLogTests } from './groups/session-log.js';
import { storeTests } from './groups/store.js';
import { storeSearchTests } from './groups/store-search.js';
import { tenantIsolationTests } from './groups/tenant-isolation.js';
import type { ConformanceTarget } from './target.js';

export type { ConformanceGroup } from './fixtures.js';
export { ConformanceReport } from './fixtures.js';
export type { ConformanceTarget } from './target.js';
export {
  abortTests,
  checkpointerTests,
  checkpointNamespaceTests,
  concurrencyTests,
  hostileInputTests,
  idValidationTests,
  lockTests,
  payloadTests,
  pendingWritesTests,
  precedenceTests,
  purgeTests,
  sessionLogTests,
  storeSearchTests,
  storeTests,
  tenantIsolationTests,
};

/** Every group, in the order `runConformance` runs them. */
export const conformanceGroups: Readonly<Record<string, ConformanceGroup>> = Object.freeze({
  checkpointer: checkpointerTests,
  'checkpoint-namespaces': checkpointNamespaceTests,
  'pending-writes': pendingWritesTests,
  store: storeTests,
  'store-search': storeSearchTests,
  'session-log': sessionLogTests,
  lock: lockTests,
  'tenant-isolation': tenantIsolationTests,
  'id-validation': idValidationTests,
  concurrency: concurrencyTests,
  payload: payloadTests,
  abort: abortTests,
  'hostile-input': hostileInputTests,
  precedence: precedenceTests,
  purge: purgeTests,
});

/**
 * Register the whole conformance suite for a backend in the calling vitest file, and
 * print a report of passed, failed and skipped groups when it ends.
 *
 * @example
 * ```ts
 * import { runConformance } from '@entelix/conformance';
 * import { createMemoryDatabase, createMemoryPersistence } from '@entelix/memory';
 *
 * const database = createMemoryDatabase();
 * runConformance({ name: 'memory', create: () => createMemoryPersistence({ database }) });
 * ```
 */
export function runConformance(target: ConformanceTarget): void {
  const report = new ConformanceReport(target.name);
  describe(`entelix conformance: ${target.name}`, () => {
    for (const group of Object.values(conformanceGroups)) group(target, report);
    afterAll(async () => {
      await target.teardown?.();
      console.log(report.render());
    });
  });
}
