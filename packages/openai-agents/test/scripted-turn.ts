import type { Persistence } from '@entelix/core';
import type { SharedStorage } from '../../../test-support/lanes.js';
import { startWorker } from '../../../test-support/workers/processes.js';
import { createEntelixSession } from '../src/index.js';
import { runTurn, type TurnJob, type TurnOutcome } from './workers/scripted-turn.mjs';

export {
  createTestAgent,
  type ScriptedReply,
  type TurnJob,
  type TurnOutcome,
} from './workers/scripted-turn.mjs';

const OPEN_SHARED = new URL('../../../test-support/workers/open-shared.mjs', import.meta.url).href;
const TURN = new URL('./workers/turn.mjs', import.meta.url).href;

/** Run one turn of the test agent with an Entelix session of `persistence`. */
export function runScriptedTurn(persistence: Persistence, job: TurnJob): Promise<TurnOutcome> {
  const session = createEntelixSession(persistence, {
    tenantId: job.tenantId,
    sessionId: job.sessionId,
  });
  return runTurn(session, job);
}

/**
 * Run one turn in a separate Node process (test-support/workers/worker.mjs) that opens
 * its own bundle over `shared` and a session from the package's published entry, so
 * the package must be built. The outcome carries the process id it ran in.
 */
export function runTurnInAnotherProcess(
  shared: SharedStorage,
  job: TurnJob,
): Promise<TurnOutcome & { readonly pid: number }> {
  return startWorker({
    ...job,
    name: 'module',
    module: TURN,
    opener: OPEN_SHARED,
    shared,
    threadId: job.sessionId,
  }).result;
}
