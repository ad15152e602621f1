import type { Persistence } from '@entelix/core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Lane, type LaneStorage, randomId } from '../../../../test-support/lanes.js';
import { createEntelixSaver, type EntelixSaver } from '../../src/index.js';

/**
 * LangGraph's own conformance suite for checkpoint savers, through its library entry
 * (its CLI does not run under this vitest). Its spec files use vitest's globals; one
 * test is skipped the way LangGraph skips it for its own MemorySaver, with the reason
 * in the test name.
 */
const SKIPPED: Record<string, string> = {
  'should only store channel_values that have changed (based on newVersions)':
    'like MemorySaver, the saver stores every channel value of each checkpoint (Entelix checkpoints are self-contained snapshots), not only the channels in newVersions',
};

const skippingIt = new Proxy(it, {
  apply(target, thisArg, args: Parameters<typeof it>) {
    const [name, ...rest] = args;
    const reason = typeof name === 'string' ? SKIPPED[name] : undefined;
    if (reason !== undefined) return it.skip(`[because ${reason}] ${name}`, ...rest);
    return Reflect.apply(target, thisArg, args);
  },
});
Object.assign(globalThis, {
  describe,
  it: skippingIt,
  test: skippingIt,
  expect,
  beforeAll,
  afterAll,
  beforeEach,
  afterEach,
});

const { validate, deltaChannelHistoryTests } = await import(
  '@langchain/langgraph-checkpoint-validation'
);

export function validatorTests(lane: Lane): void {
  let storage: LaneStorage;
  let persistence: Persistence;
  // The suite's deleteThread test calls deleteThread("1") without a config, so every
  // checkpointer it asks for is bound to a fresh tenant of its own.
  const initializer = {
    checkpointerName: `@entelix/langgraph on ${lane.name}`,
    // The validator's own default is 10 s; opening and migrating an embedded PGlite takes
    // longer when every core is busy (the hook timeout of vitest.config.ts, for the same reason).
    beforeAllTimeout: 60_000,
    async beforeAll() {
      storage = await lane.start();
      persistence = await storage.open();
    },
    async afterAll() {
      await storage?.close();
    },
    createCheckpointer: () => createEntelixSaver(persistence, { tenantId: randomId('tenant') }),
    async destroyCheckpointer(saver: EntelixSaver) {
      await persistence.purgeTenant(saver.tenantId as string);
    },
  };
  validate(initializer);
  // Not part of validate(): LangGraph runs it for each of its own savers explicitly.
  describe('opt-in getDeltaChannelHistory suite', () => {
    deltaChannelHistoryTests(initializer);
  });
}
