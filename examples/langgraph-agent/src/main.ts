import { setTimeout as sleep } from 'node:timers/promises';
import {
  EntelixError,
  type JsonValue,
  type LockLease,
  type Persistence,
  ThreadKey,
} from '@entelix/core';
import {
  copyThreads,
  createEntelixSaver,
  createEntelixStore,
  fencedConfig,
  type StoredCheckpoint,
  withThreadLock,
} from '@entelix/langgraph';
import { HumanMessage } from '@langchain/core/messages';
import type { RunnableConfig } from '@langchain/core/runnables';
import { Command, MemorySaver } from '@langchain/langgraph';
import { supportAgent } from './agent.js';
import { openBackend, parseCommandLine, SetupError, USAGE } from './backends.js';

const line = (text: string) => console.log(`  ${text}`);
const heading = (text: string) => console.log(`\n${text}`);

// The tenants the story writes, erased at its end.
const TENANTS = ['acme', 'globex', 'initech'];

async function main(): Promise<void> {
  const choice = parseCommandLine(process.argv.slice(2), process.env);
  if (choice === 'help') {
    console.log(USAGE);
    return;
  }
  const { persistence, description, leftBehind, close } = await openBackend(choice);
  try {
    console.log('LangGraph support agent on Entelix');
    line(`backend: ${description}`);
    await story(persistence);
    await erase(persistence, leftBehind);
  } finally {
    await close();
  }
}

async function story(persistence: Persistence): Promise<void> {
  const saver = createEntelixSaver(persistence);
  const agent = supportAgent(saver);
  // Both tenants use the same thread id on purpose: isolation must not depend on it.
  const threadId = `ticket-${crypto.randomUUID().slice(0, 6)}`;
  const requestOf = (tenantId: string, customerId: string, thread = threadId) => ({
    tenantId,
    config: { configurable: { tenant_id: tenantId, thread_id: thread, customer_id: customerId } },
  });
  type Request = ReturnType<typeof requestOf>;
  const storeOf = (tenantId: string, fence?: LockLease) =>
    createEntelixStore(persistence, { tenantId, fence });
  // One invocation under the thread's lock; its checkpoints and its memories are fenced.
  const run = (request: Request, input: Parameters<typeof agent.invoke>[0]) =>
    withThreadLock(persistence.lock, request.config, (config, lease) =>
      agent.invoke(input, { ...config, store: storeOf(request.tenantId, lease) }),
    );
  const reply = (state: { messages: { content: unknown }[] }) =>
    String(state.messages[state.messages.length - 1]?.content);
  const outcome = (attempt: Promise<unknown>) =>
    attempt.then(
      () => 'written',
      (error: unknown) => (EntelixError.isInstance(error) ? error.code : String(error)),
    );

  await storeOf('acme').put(['customers', 'c-1'], 'memory', { name: 'Ada', refunds: 0 });
  await storeOf('globex').put(['customers', 'c-1'], 'memory', { name: 'Grace', refunds: 2 });

  heading('1. Two tenants, one compiled graph, the same thread id');
  const acme = requestOf('acme', 'c-1');
  const globex = requestOf('globex', 'c-1');
  await run(acme, { messages: [new HumanMessage('I want my money back')] });
  const paused = await agent.getState(acme.config);
  line(
    `acme:   next ${JSON.stringify(paused.next)}, asking "${paused.tasks[0]?.interrupts[0]?.value}"`,
  );
  const answered = await run(globex, { messages: [new HumanMessage('Where is my invoice?')] });
  line(`globex: ${reply(answered)}`);

  heading('2. A human approves the refund: resume with Command');
  line(`acme:   ${reply(await run(acme, new Command({ resume: 'yes' })))}`);

  heading('3. Time travel: fork from before the approval and decide otherwise');
  const history = [];
  for await (const snapshot of agent.getStateHistory(acme.config)) history.push(snapshot);
  const beforeApproval = history.find((snapshot) => snapshot.next[0] === 'approve');
  const fork = await agent.updateState(
    beforeApproval?.config as RunnableConfig,
    { decision: 'no' },
    'approve',
  );
  // The fork's config names its checkpoint (and tenant); the request's own keys come along.
  const declined = await agent.invoke(null, {
    configurable: { ...acme.config.configurable, ...fork.configurable },
    store: storeOf('acme'),
  });
  line(`acme:   ${reply(declined)}`);
  const latest = await agent.getState(acme.config);
  line(
    `latest decision: ${latest.values.decision} (${history.length} checkpoints before the fork)`,
  );

  heading('4. A worker whose lease ran out cannot write');
  const stalled = requestOf('acme', 'c-1', `${threadId}-stalled`);
  const key = ThreadKey.of('acme', `${threadId}-stalled`);
  // Long enough for its first run on any backend, short enough to wait out here.
  const staleLease = await persistence.lock.acquire(key, { ttlMs: 1_000, timeoutMs: 5_000 });
  const stale = { ...fencedConfig(stalled.config, staleLease), store: storeOf('acme', staleLease) };
  await agent.invoke({ messages: [new HumanMessage('refund please')] }, stale);
  // The worker stalls until its lease has run out by its own timer, which the backend's
  // clock never precedes: acquire below waits for the backend to agree.
  await sleep(staleLease.expiresAt.getTime() - Date.now() + 20);
  // Another worker takes the thread over.
  const lease = await persistence.lock.acquire(key, { ttlMs: 30_000, timeoutMs: 5_000 });
  // The run's signal is its lease's: a worker that lost its lease stops at once.
  line(
    `stale worker's resume: ${await outcome(agent.invoke(new Command({ resume: 'yes' }), stale))}`,
  );
  // One that misses the signal (a stuck event loop, a write already on its way) is fenced,
  // its memories included.
  const deaf = { ...stale, signal: undefined };
  line(
    `stale worker, signal ignored: ${await outcome(agent.invoke(new Command({ resume: 'yes' }), deaf))}`,
  );
  const current = { ...fencedConfig(stalled.config, lease), store: storeOf('acme', lease) };
  line(
    `current worker's resume: ${reply(await agent.invoke(new Command({ resume: 'yes' }), current))}`,
  );
  await lease.release();

  heading('5. What is stored: the JSON LangGraph writes, readable');
  const raw = await persistence
    .checkpointer<StoredCheckpoint, JsonValue>()
    .getLatest(ThreadKey.of('acme', threadId));
  const messages = raw?.state.channel_values.messages as {
    id: string[];
    kwargs: { content: string };
  }[];
  const lastMessage = messages[messages.length - 1];
  line(`metadata: ${JSON.stringify(raw?.metadata)}`);
  line(`last message: ${lastMessage?.id.at(-1)} "${lastMessage?.kwargs.content}"`);
  const memory = await storeOf('acme').get(['customers', 'c-1'], 'memory');
  line(`acme's memory of c-1: ${JSON.stringify(memory?.value)}`);

  heading('6. Moving in: a thread started on MemorySaver continues on Entelix');
  const legacy = new MemorySaver();
  await supportAgent(legacy).invoke(
    { messages: [new HumanMessage('refund my order')] },
    { configurable: { thread_id: 'legacy-1', customer_id: 'c-9' } },
  );
  const copied = await copyThreads(legacy, saver, { tenantId: 'initech', threadIds: ['legacy-1'] });
  line(
    `copied ${copied.threads} thread, ${copied.checkpoints} checkpoints, ${copied.writes} pending writes`,
  );
  await storeOf('initech').put(['customers', 'c-9'], 'memory', { name: 'Bob', refunds: 0 });
  const moved = requestOf('initech', 'c-9', 'legacy-1');
  line(`initech: ${reply(await run(moved, new Command({ resume: 'yes' })))}`);

  heading('7. A call without a tenant is refused');
  const anonymous = agent.invoke(
    { messages: [new HumanMessage('hello')] },
    { configurable: { thread_id: threadId } },
  );
  line(`no tenant: ${await outcome(anonymous)}`);
}

async function erase(persistence: Persistence, leftBehind: string): Promise<void> {
  heading('8. Erasing the tenants (purgeTenant)');
  const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;
  for (const tenant of TENANTS) {
    const erased = await persistence.purgeTenant(tenant);
    line(
      `${`${tenant}:`.padEnd(9)}${count(erased.checkpoints, 'checkpoint')}, ${count(erased.writes, 'pending write')}, ${count(erased.storeItems, 'memory item')}`,
    );
  }
  line(`left behind: ${leftBehind}`);
}

main().catch((error: unknown) => {
  if (error instanceof SetupError) {
    console.error(`langgraph-agent: ${error.message}`);
  } else if (EntelixError.isInstance(error) && error.code === 'BACKEND') {
    console.error(`langgraph-agent: the backend failed: ${error.message}`);
  } else {
    console.error(error);
  }
  process.exitCode = 1;
});
