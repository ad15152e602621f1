import {
  createEntelixSaver,
  createEntelixStore,
  fencedConfig,
  withThreadLock,
} from '@entelix/langgraph';
import { createMemoryPersistence } from '@entelix/memory';
import { Annotation, START, StateGraph } from '@langchain/langgraph';
import { ThreadKey } from '@entelix/core';

const persistence = createMemoryPersistence();
const State = Annotation.Root({ n: Annotation<number> });
const graph = new StateGraph(State)
  .addNode('inc', (s) => ({ n: s.n + 1 }))
  .addEdge(START, 'inc')
  .compile({ checkpointer: createEntelixSaver(persistence) });
const config = { configurable: { tenant_id: 'acme', thread_id: 'thread-1' } };

// Usually: one invocation, one lease, and the run's store fenced by it too.
await withThreadLock(
  persistence.lock,
  config,
  (locked, lease) =>
    graph.invoke(
      { n: 0 },
      { ...locked, store: createEntelixStore(persistence, { tenantId: 'acme', fence: lease }) },
    ),
  { ttlMs: 30_000, timeoutMs: 5_000 },
);

// Or with a lease you hold yourself, across several invocations.
const lease = await persistence.lock.acquire(ThreadKey.of('acme', 'thread-1'), {
  ttlMs: 30_000,
  timeoutMs: 5_000,
});
try {
  await graph.invoke({ n: 10 }, fencedConfig(config, lease));
} finally {
  await lease.release();
}

export {};
