import { createEntelixSaver, createEntelixStore } from '@entelix/langgraph';
import { createMemoryPersistence } from '@entelix/memory';
import { Annotation, START, StateGraph } from '@langchain/langgraph';

const persistence = createMemoryPersistence();
const saver = createEntelixSaver(persistence);

const State = Annotation.Root({
  log: Annotation<string[]>({ reducer: (a, b) => a.concat(b), default: () => [] }),
});
const graph = new StateGraph(State)
  .addNode('work', () => ({ log: ['worked'] }))
  .addEdge(START, 'work')
  .compile({ checkpointer: saver });

await graph.invoke(
  { log: ['start'] },
  {
    configurable: { tenant_id: 'acme', thread_id: 'thread-1' },
    store: createEntelixStore(persistence, { tenantId: 'acme' }),
  },
);

export {};
