import type { Agent, AgentInputItem, Session } from '@openai/agents-core';
import type { ScriptedModel } from '@openai/agents-core/testing';

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

export function createTestAgent(replies: readonly ScriptedReply[]): {
  agent: Agent;
  model: ScriptedModel;
};

export function runTurn(session: Session, job: TurnJob): Promise<TurnOutcome>;
