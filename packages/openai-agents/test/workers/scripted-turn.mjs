// The test agent and one turn of it, in plain JavaScript: a worker process runs no
// TypeScript, and a turn in another process must be the same turn as one in the tests.
import { Agent, Runner, tool } from '@openai/agents-core';
import { assistantMessage, functionCall, ScriptedModel } from '@openai/agents-core/testing';
import { z } from 'zod';

/** The test agent: a scripted model (no network) and one weather tool. */
export function createTestAgent(replies) {
  const model = new ScriptedModel(
    replies.map((reply) =>
      'say' in reply
        ? [assistantMessage(reply.say)]
        : [functionCall(reply.callTool, { city: reply.city }, { callId: reply.callId })],
    ),
  );
  const getWeather = tool({
    name: 'get_weather',
    description: 'The weather in a city.',
    parameters: z.object({ city: z.string() }),
    execute: async ({ city }) => `sunny in ${city}`,
  });
  const agent = new Agent({
    name: 'assistant',
    instructions: 'Answer briefly.',
    model,
    tools: [getWeather],
  });
  return { agent, model };
}

/** Run one turn of the test agent with `session`; the outcome is plain JSON. */
export async function runTurn(session, job) {
  const { agent, model } = createTestAgent(job.replies);
  const result = await new Runner({ tracingDisabled: true }).run(agent, job.input, { session });
  model.assertComplete();
  return {
    finalOutput: String(result.finalOutput),
    modelInputs: model.calls.map((call) =>
      typeof call.request.input === 'string'
        ? [{ role: 'user', content: call.request.input }]
        : structuredClone([...call.request.input]),
    ),
  };
}
