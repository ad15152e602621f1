import { AIMessage, type BaseMessage } from '@langchain/core/messages';
import {
  Annotation,
  type BaseCheckpointSaver,
  END,
  interrupt,
  type LangGraphRunnableConfig,
  MessagesAnnotation,
  START,
  StateGraph,
} from '@langchain/langgraph';

/** What the agent keeps besides the conversation. */
export const SupportState = Annotation.Root({
  ...MessagesAnnotation.spec,
  intent: Annotation<'refund' | 'question'>,
  decision: Annotation<string>,
});

/** A customer's memory in the store, under ['customers', <id>]. */
interface CustomerMemory {
  name: string;
  refunds: number;
}

const lastText = (messages: BaseMessage[]) => String(messages[messages.length - 1]?.content ?? '');

/**
 * A support agent without a model: it classifies the last message, looks the customer up
 * in the store, asks a human before any refund (an interrupt), and answers. Compiled once;
 * the tenant comes with each call's config and store.
 */
export function supportAgent(checkpointer: BaseCheckpointSaver) {
  return new StateGraph(SupportState)
    .addNode('classify', (state) => ({
      intent: /refund|money back/i.test(lastText(state.messages))
        ? ('refund' as const)
        : ('question' as const),
    }))
    .addNode('approve', () => {
      const decision = interrupt<string, string>('Approve the refund?');
      return { decision };
    })
    .addNode('answer', async (state, config: LangGraphRunnableConfig) => {
      const customerId = String(config.configurable?.customer_id ?? 'unknown');
      const found = await config.store?.get(['customers', customerId], 'memory');
      const memory = (found?.value as CustomerMemory | undefined) ?? {
        name: customerId,
        refunds: 0,
      };
      let reply: string;
      if (state.intent !== 'refund') {
        reply = `Hi ${memory.name}, here is what I found about "${lastText(state.messages)}".`;
      } else if (state.decision === 'yes') {
        memory.refunds++;
        reply = `Hi ${memory.name}, your refund is on its way (refund #${memory.refunds}).`;
      } else {
        reply = `Hi ${memory.name}, we cannot refund this order.`;
      }
      await config.store?.put(['customers', customerId], 'memory', { ...memory });
      return { messages: [new AIMessage(reply)] };
    })
    .addEdge(START, 'classify')
    .addConditionalEdges(
      'classify',
      (state) => (state.intent === 'refund' ? 'approve' : 'answer'),
      ['approve', 'answer'],
    )
    .addEdge('approve', 'answer')
    .addEdge('answer', END)
    .compile({ checkpointer });
}
