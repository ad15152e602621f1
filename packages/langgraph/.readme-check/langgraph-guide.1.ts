import { createEntelixSaver } from '@entelix/langgraph';
import { createMemoryPersistence } from '@entelix/memory';

const saver = createEntelixSaver(createMemoryPersistence());
await saver.withTenant('acme', () => saver.deleteThread('thread-1'));

export {};
