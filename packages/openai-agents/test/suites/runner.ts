import { ThreadKey } from '@entelix/core';
import {
  Agent,
  MemorySession,
  OutputGuardrailTripwireTriggered,
  Runner,
  type Session,
} from '@openai/agents-core';
import { assistantMessage, ScriptedModel } from '@openai/agents-core/testing';
import { expect, it } from 'vitest';
import { type Lane, openLane, randomId } from '../../../../test-support/lanes.js';
import { createEntelixSession } from '../../src/index.js';
import { pauseConditionalAppends } from '../gate.js';
import {
  createTestAgent,
  runScriptedTurn,
  runTurnInAnotherProcess,
  type TurnOutcome,
} from '../scripted-turn.js';
import { summarize } from '../summary.js';

const freshIds = () => ({ tenantId: randomId('tenant'), sessionId: randomId('session') });

export function runnerTests(lane: Lane): void {
  const opened = openLane(lane);

  it('keeps a multi-turn conversation: the second turn sees the first', async () => {
    const ids = freshIds();
    const first = await runScriptedTurn(opened.persistence, {
      ...ids,
      input: 'My name is Ada.',
      replies: [{ say: 'Hello, Ada.' }],
    });
    const second = await runScriptedTurn(opened.persistence, {
      ...ids,
      input: 'What is my name?',
      replies: [{ say: 'Your name is Ada.' }],
    });
    expect(first.finalOutput).toBe('Hello, Ada.');
    expect(second.finalOutput).toBe('Your name is Ada.');
    expect(second.modelInputs.map(summarize)).toEqual([
      ['user: My name is Ada.', 'assistant: Hello, Ada.', 'user: What is my name?'],
    ]);
    const session = createEntelixSession(opened.persistence, ids);
    expect(summarize(await session.getItems())).toEqual([
      'user: My name is Ada.',
      'assistant: Hello, Ada.',
      'user: What is my name?',
      'assistant: Your name is Ada.',
    ]);
    expect(summarize(await session.getItems(2))).toEqual([
      'user: What is my name?',
      'assistant: Your name is Ada.',
    ]);
  });

  it('stores a tool call and its result, and replays them on the next turn', async () => {
    const ids = freshIds();
    const first = await runScriptedTurn(opened.persistence, {
      ...ids,
      input: 'Weather in Oslo?',
      replies: [
        { callTool: 'get_weather', city: 'Oslo', callId: 'call-1' },
        { say: 'It is sunny in Oslo.' },
      ],
    });
    expect(first.finalOutput).toBe('It is sunny in Oslo.');
    expect(first.modelInputs.map(summarize)).toEqual([
      ['user: Weather in Oslo?'],
      [
        'user: Weather in Oslo?',
        'call get_weather {"city":"Oslo"}',
        'result call-1: sunny in Oslo',
      ],
    ]);
    const second = await runScriptedTurn(opened.persistence, {
      ...ids,
      input: 'And tomorrow?',
      replies: [{ say: 'Ask me tomorrow.' }],
    });
    expect(second.modelInputs.map(summarize)).toEqual([
      [
        'user: Weather in Oslo?',
        'call get_weather {"city":"Oslo"}',
        'result call-1: sunny in Oslo',
        'assistant: It is sunny in Oslo.',
        'user: And tomorrow?',
      ],
    ]);
    const events = await opened.persistence
      .sessionLog()
      .loadSince(ThreadKey.of(ids.tenantId, ids.sessionId), 0);
    expect(events.map((event) => event.seq)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  // Only a server is reachable from another OS process; memory, PGlite and ioredis-mock
  // live in this one, where a second bundle over the same storage is what comes closest.
  const acrossProcesses = lane.requires !== undefined;
  it(
    acrossProcesses
      ? 'the session resumed from a second OS process over the same storage sees the first turn'
      : 'the session resumed from a second bundle (the storage lives in this process) sees the first turn',
    async () => {
      const ids = freshIds();
      await runScriptedTurn(opened.persistence, {
        ...ids,
        input: 'Remember the number 42.',
        replies: [{ say: 'Noted: 42.' }],
      });
      const job = { ...ids, input: 'Which number?', replies: [{ say: '42.' }] };
      expect(opened.storage.shared !== undefined).toBe(acrossProcesses);
      let elsewhere: TurnOutcome;
      if (opened.storage.shared === undefined) {
        elsewhere = await runScriptedTurn(await opened.storage.open(), job);
      } else {
        const outcome = await runTurnInAnotherProcess(opened.storage.shared, job);
        expect(outcome.pid).not.toBe(process.pid);
        elsewhere = outcome;
      }
      expect(elsewhere.finalOutput).toBe('42.');
      expect(elsewhere.modelInputs.map(summarize)).toEqual([
        ['user: Remember the number 42.', 'assistant: Noted: 42.', 'user: Which number?'],
      ]);
      expect(summarize(await createEntelixSession(opened.persistence, ids).getItems())).toEqual([
        'user: Remember the number 42.',
        'assistant: Noted: 42.',
        'user: Which number?',
        'assistant: 42.',
      ]);
    },
  );

  it('keeps two tenants with the same session id apart', async () => {
    const sessionId = randomId('shared');
    const acme = randomId('acme');
    const globex = randomId('globex');
    await runScriptedTurn(opened.persistence, {
      tenantId: acme,
      sessionId,
      input: 'Acme secret: blue.',
      replies: [{ say: 'Kept, Acme.' }],
    });
    const globexTurn = await runScriptedTurn(opened.persistence, {
      tenantId: globex,
      sessionId,
      input: 'What is the secret?',
      replies: [{ say: 'I know no secret.' }],
    });
    expect(globexTurn.modelInputs.map(summarize)).toEqual([['user: What is the secret?']]);
    expect(
      summarize(
        await createEntelixSession(opened.persistence, { tenantId: acme, sessionId }).getItems(),
      ),
    ).toEqual(['user: Acme secret: blue.', 'assistant: Kept, Acme.']);
    expect(
      summarize(
        await createEntelixSession(opened.persistence, { tenantId: globex, sessionId }).getItems(),
      ),
    ).toEqual(['user: What is the secret?', 'assistant: I know no secret.']);
  });

  it('a concurrent popItem loses its conditional append with CONFLICT while a run appends', async () => {
    const ids = freshIds();
    const key = ThreadKey.of(ids.tenantId, ids.sessionId);
    await runScriptedTurn(opened.persistence, {
      ...ids,
      input: 'First.',
      replies: [{ say: 'One.' }],
    });

    // The popping writer pauses between reading the history and its conditional append;
    // a whole run completes in that gap.
    const gate = pauseConditionalAppends(await opened.storage.open());
    const popper = createEntelixSession(gate.persistence, { ...ids, maxAttempts: 1 });
    const popped = popper.popItem();
    await gate.reached;
    const run = await runScriptedTurn(opened.persistence, {
      ...ids,
      input: 'Second.',
      replies: [{ say: 'Two.' }],
    });
    expect(run.finalOutput).toBe('Two.');
    const headBefore = await opened.persistence.sessionLog().head(key);
    gate.release();
    await expect(popped).rejects.toMatchObject({ code: 'CONFLICT' });

    expect(await opened.persistence.sessionLog().head(key)).toBe(headBefore);
    expect(summarize(await createEntelixSession(opened.persistence, ids).getItems())).toEqual([
      'user: First.',
      'assistant: One.',
      'user: Second.',
      'assistant: Two.',
    ]);
  });

  it('a popItem that is allowed to retry removes the newest item, the one the run wrote', async () => {
    const ids = freshIds();
    await runScriptedTurn(opened.persistence, {
      ...ids,
      input: 'First.',
      replies: [{ say: 'One.' }],
    });
    const gate = pauseConditionalAppends(await opened.storage.open());
    const popper = createEntelixSession(gate.persistence, ids);
    const popped = popper.popItem();
    await gate.reached;
    await runScriptedTurn(opened.persistence, {
      ...ids,
      input: 'Second.',
      replies: [{ say: 'Two.' }],
    });
    gate.release();
    expect(summarize([(await popped)!])).toEqual(['assistant: Two.']);
    expect(summarize(await createEntelixSession(opened.persistence, ids).getItems())).toEqual([
      'user: First.',
      'assistant: One.',
      'user: Second.',
    ]);
  });

  it('a compaction the model returns replaces the history in one append', async () => {
    const ids = freshIds();
    const key = ThreadKey.of(ids.tenantId, ids.sessionId);
    await runScriptedTurn(opened.persistence, {
      ...ids,
      input: 'First.',
      replies: [{ say: 'One.' }],
    });
    const model = new ScriptedModel([
      [{ type: 'compaction', encrypted_content: 'summary of the turns' }, assistantMessage('Two.')],
    ]);
    const session = createEntelixSession(opened.persistence, ids);
    await new Runner({ tracingDisabled: true }).run(
      new Agent({ name: 'assistant', model }),
      'Second.',
      {
        session,
      },
    );
    expect(summarize(await session.getItems())).toEqual(['compaction', 'assistant: Two.']);
    // The replaced events are deleted; the replacement took fresh ordinals.
    const events = await opened.persistence.sessionLog().loadSince(key, 0);
    expect(events.map((event) => event.seq)).toEqual([3, 4]);
  });

  it('a blocked answer after a tool call keeps the tool call through a history transaction, as MemorySession does', async () => {
    const ids = freshIds();
    const runBlocked = async (session: Session) => {
      const { agent } = createTestAgent([
        { callTool: 'get_weather', city: 'Oslo', callId: 'call-1' },
        { say: 'secret: sunny' },
      ]);
      const guarded = agent.clone({
        outputGuardrails: [
          {
            name: 'no-secrets',
            execute: async ({ agentOutput }) => ({
              tripwireTriggered: String(agentOutput).includes('secret'),
              outputInfo: {},
            }),
          },
        ],
      });
      await expect(
        new Runner({ tracingDisabled: true }).run(guarded, 'Weather in Oslo?', { session }),
      ).rejects.toBeInstanceOf(OutputGuardrailTripwireTriggered);
      return session.getItems();
    };
    const session = createEntelixSession(opened.persistence, ids);
    const stored = await runBlocked(session);
    expect(summarize(stored)).toEqual([
      'user: Weather in Oslo?',
      'call get_weather {"city":"Oslo"}',
      'result call-1: sunny in Oslo',
    ]);
    expect(stored).toEqual(await runBlocked(new MemorySession()));
  });

  it('fences every write of a run with the lease the caller holds', async () => {
    const ids = freshIds();
    const key = ThreadKey.of(ids.tenantId, ids.sessionId);
    const stale = await opened.persistence.lock.tryAcquire(key, { ttlMs: 60_000 });
    await stale!.release();
    const current = await opened.persistence.lock.tryAcquire(key, { ttlMs: 60_000 });
    try {
      const { agent } = createTestAgent([{ say: 'Never stored.' }]);
      const session = createEntelixSession(opened.persistence, { ...ids, fence: stale! });
      await expect(
        new Runner({ tracingDisabled: true }).run(agent, 'Hello?', { session }),
      ).rejects.toMatchObject({ code: 'FENCED' });
      expect(await opened.persistence.sessionLog().head(key)).toBe(0);
    } finally {
      await current!.release();
    }
  });
}
