import { afterAll, describe } from 'vitest';
import {
  type ConformanceGroup,
  ConformanceReport,
  checkSkips,
  collectTests,
  registerTests,
} from './fixtures.js';
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

export type {
  ConformanceGroup,
  ConformanceTest,
  GroupApi,
  StorageCapture,
  SuiteContext,
  TestOptions,
} from './fixtures.js';
export {
  ConformanceReport,
  expectCode,
  freshId,
  freshKey,
  freshNamespace,
  settle,
  tenantView,
} from './fixtures.js';
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

/** Every group by its id, in the order `runConformance` runs them. */
export const conformanceGroups = Object.freeze({
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

type Groups = typeof conformanceGroups;

/** The group of a target's own tests (`ConformanceTarget.extraTests`). */
export const EXTRA_GROUP_ID = 'extra';

/** A group id of the suite, or `extra` for a target's own tests. */
export type GroupId = keyof Groups | typeof EXTRA_GROUP_ID;

/** The id of one test, `<group>/<test>`, as `skip` takes it and the report prints it. */
export type TestId =
  | {
      [G in keyof Groups]: Groups[G] extends ConformanceGroup<string, infer Id>
        ? `${G}/${Id}`
        : never;
    }[keyof Groups]
  | `${typeof EXTRA_GROUP_ID}/${string}`;

/** Every test id of the suite, in run order (a target's `extra/...` tests aside). */
export const conformanceTestIds: readonly TestId[] = Object.freeze(
  Object.values(conformanceGroups).flatMap((group) => group.testIds as readonly TestId[]),
);

/**
 * Register the whole conformance suite for a backend in the calling vitest file, then
 * the target's own `extraTests`, and print a report of every group when it ends.
 *
 * @throws ConfigError before registering anything when a `skip` entry names no test
 *   (or gives no reason), or an extra test's id is not kebab-case or is declared twice
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
  const extraTests =
    target.extraTests === undefined ? [] : collectTests(EXTRA_GROUP_ID, target.extraTests);
  checkSkips(target.skip, [
    ...conformanceTestIds,
    ...extraTests.map((test) => `${EXTRA_GROUP_ID}/${test.id}`),
  ]);
  const report = new ConformanceReport(target.name);
  describe(`entelix conformance: ${target.name}`, () => {
    for (const group of Object.values(conformanceGroups)) group(target, report);
    if (extraTests.length > 0) registerTests(EXTRA_GROUP_ID, extraTests, target, report);
    afterAll(async () => {
      await target.teardown?.();
      console.log(report.render());
    });
  });
}
