// A job for test-support/workers/worker.mjs (`module`): one turn of the test agent in
// that separate process, with a session of the published entry over the bundle the
// worker opened.
import { createEntelixSession } from '@entelix/openai-agents';
import { runTurn } from './scripted-turn.mjs';

export async function run(persistence, job) {
  const session = createEntelixSession(persistence, {
    tenantId: job.tenantId,
    sessionId: job.sessionId,
  });
  return { ...(await runTurn(session, job)), pid: process.pid };
}
