import type { Persistence } from '@entelix/core';
import { Agent, type AgentInputItem, Runner, tool } from '@openai/agents-core';
import { assistantMessage, functionCall, ScriptedModel } from '@openai/agents-core/testing';
import { z } from 'zod';
import { createEntelixSession } from '../src/index.js';

/** What the scripted model answers to one model call. */
export type ScriptedReply =
  | { readonly say: string }
  | { readonly callTool: 'get_weather'; readonly city: string; readonly callId: string };

/** One run of the test agent, as plain JSON. */
export interface TurnJob {
  readonly tenantId: string;
  readonly sessionId: string;
  readonly input: string;
  /** One reply per model call of the run, in order. */
  readonly replies: readonly ScriptedReply[];
}

/** What came out of the run, as plain JSON. */
export interface TurnOutcome {
  readonly finalOutput: string;
  /** The input of every model call, in order: the history the runner loaded, and the new turn. */
  readonly modelInputs: AgentInputItem[][];
}

/** The test agent: a scripted model (no network) and one weather tool. */
export function createTestAgent(replies: readonly ScriptedReply[]): {
  agent: Agent;
  model: ScriptedModel;
} {
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

/** Run one turn of the test agent with an Entelix session of `persistence`. */
export async function runScriptedTurn(
  persistence: Persistence,
  job: TurnJob,
): Promise<TurnOutcome> {
  const { agent, model } = createTestAgent(job.replies);
  const session = createEntelixSession(persistence, {
    tenantId: job.tenantId,
    sessionId: job.sessionId,
  });
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
