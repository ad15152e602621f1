import {
  Annotation,
  END,
  interrupt,
  Send,
  START,
  StateGraph,
  type StateSnapshot,
} from '@langchain/langgraph';
import type { BaseCheckpointSaver } from '@langchain/langgraph-checkpoint';

/** State of every test graph: a log every node appends to. */
export const LogState = Annotation.Root({
  log: Annotation<string[]>({ reducer: (a, b) => a.concat(b), default: () => [] }),
});

/** `steps` nodes in a line, each appending its name. */
export function lineGraph(saver: BaseCheckpointSaver, steps = 3, nodePrefix = 'n') {
  const builder = new StateGraph(LogState);
  const names = Array.from({ length: steps }, (_, i) => `${nodePrefix}${i}`);
  for (const name of names) builder.addNode(name, () => ({ log: [name] }));
  // The builder's node names are typed as they are added; a loop cannot express that.
  const graph = builder as unknown as StateGraph<typeof LogState.spec, any, any, string>;
  graph.addEdge(START, names[0] as string);
  for (let i = 1; i < names.length; i++) graph.addEdge(names[i - 1] as string, names[i] as string);
  graph.addEdge(names[names.length - 1] as string, END);
  return graph.compile({ checkpointer: saver });
}

/** a → ask (interrupts with a question, logs the answer) → b. */
export function interruptGraph(saver: BaseCheckpointSaver) {
  return new StateGraph(LogState)
    .addNode('a', () => ({ log: ['a'] }))
    .addNode('ask', () => {
      const answer = interrupt('question?');
      return { log: [`answer:${answer}`] };
    })
    .addNode('b', () => ({ log: ['b'] }))
    .addEdge(START, 'a')
    .addEdge('a', 'ask')
    .addEdge('ask', 'b')
    .addEdge('b', END)
    .compile({ checkpointer: saver });
}

/**
 * START fans out to `workers` copies of `work` with Send; the last one interrupts the
 * first time, so resuming must reuse the other workers' saved writes. `runs` counts
 * how often each worker ran.
 */
export function fanOutGraph(
  saver: BaseCheckpointSaver,
  workers: number,
  runs: Map<number, number>,
) {
  const FanOutState = Annotation.Root({
    log: Annotation<string[]>({ reducer: (a, b) => a.concat(b), default: () => [] }),
  });
  return new StateGraph(FanOutState)
    .addNode('work', (input: { i: number }) => {
      runs.set(input.i, (runs.get(input.i) ?? 0) + 1);
      if (input.i === workers - 1) interrupt(`worker ${input.i} needs input`);
      return { log: [`w${input.i}`] };
    })
    .addNode('collect', (state) => ({ log: [`collected:${state.log.length}`] }))
    .addConditionalEdges(
      START,
      () => Array.from({ length: workers }, (_, i) => new Send('work', { i })),
      ['work'],
    )
    .addEdge('work', 'collect')
    .addEdge('collect', END)
    .compile({ checkpointer: saver });
}

/**
 * Two levels of subgraphs: the root's `outer` node runs a child graph whose `inner`
 * node runs a grandchild graph that interrupts. Only the root has the saver; the
 * subgraphs use it through LangGraph.
 */
export function nestedGraph(saver: BaseCheckpointSaver) {
  const grandchild = new StateGraph(LogState)
    .addNode('g1', () => ({ log: ['g1'] }))
    .addNode('gAsk', () => {
      const answer = interrupt('deep question?');
      return { log: [`deep:${answer}`] };
    })
    .addEdge(START, 'g1')
    .addEdge('g1', 'gAsk')
    .addEdge('gAsk', END)
    .compile();
  const child = new StateGraph(LogState)
    .addNode('c1', () => ({ log: ['c1'] }))
    .addNode('inner', grandchild)
    .addEdge(START, 'c1')
    .addEdge('c1', 'inner')
    .addEdge('inner', END)
    .compile();
  return new StateGraph(LogState)
    .addNode('r1', () => ({ log: ['r1'] }))
    .addNode('outer', child)
    .addNode('r2', () => ({ log: ['r2'] }))
    .addEdge(START, 'r1')
    .addEdge('r1', 'outer')
    .addEdge('outer', 'r2')
    .addEdge('r2', END)
    .compile({ checkpointer: saver });
}

/** What two savers must agree on about a snapshot: everything but ids and clocks. */
export interface SnapshotView {
  values: unknown;
  next: readonly string[];
  source: unknown;
  step: unknown;
  hasParent: boolean;
  tasks: { name: string; interrupts: unknown[]; state?: SnapshotView | 'config' }[];
}

export function view(snapshot: StateSnapshot): SnapshotView {
  return {
    values: snapshot.values,
    next: snapshot.next,
    source: snapshot.metadata?.source,
    step: snapshot.metadata?.step,
    hasParent: snapshot.parentConfig !== undefined,
    tasks: snapshot.tasks.map((task) => ({
      name: task.name,
      interrupts: task.interrupts.map((each) => each.value),
      ...(task.state === undefined
        ? {}
        : { state: 'values' in task.state ? view(task.state as StateSnapshot) : 'config' }),
    })),
  };
}

/** Every snapshot of a history, newest first. */
export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

/**
 * An invoke result with its interrupts' ids left out: LangGraph derives them from
 * checkpoint ids, which differ between two savers.
 */
export function withoutInterruptIds<T extends Record<string, unknown>>(output: T): T {
  const interrupts = output.__interrupt__ as { value: unknown }[] | undefined;
  if (interrupts === undefined) return output;
  return { ...output, __interrupt__: interrupts.map((each) => ({ value: each.value })) };
}
