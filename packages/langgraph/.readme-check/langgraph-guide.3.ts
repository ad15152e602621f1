import { copyThreads, createEntelixSaver } from '@entelix/langgraph';
import { createMemoryPersistence } from '@entelix/memory';
import { PostgresSaver } from '@langchain/langgraph-checkpoint-postgres';

const source = PostgresSaver.fromConnString('postgres://app@db.internal/langgraph');
const target = createEntelixSaver(createMemoryPersistence());
const copied = await copyThreads(source, target, {
  tenantId: 'acme',
  threadIds: ['thread-1', 'thread-2'],
  onThread: ({ threadId, checkpoints }) => console.log(threadId, checkpoints),
});
console.log(copied); // { threads, checkpoints, skipped, writes }
await source.end();

export {};
