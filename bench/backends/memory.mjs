// The memory backend beside a plain Map holding the same JSON text: the cost of
// validation, envelopes and copies, with no I/O at all.

import { Checkpoint, Namespace, ThreadKey } from '@entelix/core';
import { createMemoryPersistence } from '@entelix/memory';

// Operations spread over this many threads and namespaces, one per concurrent caller.
const SPREAD = 16;

export async function openMemory({ state }) {
  const persistence = createMemoryPersistence();
  const checkpointer = persistence.checkpointer();
  const log = persistence.sessionLog();
  const store = persistence.store();
  const map = new Map();
  const keyOf = (i) => ThreadKey.of('bench-tenant', `thread-${i % SPREAD}`);
  const ns = (i) => Namespace.of('bench-tenant', 'bench', `w${i % SPREAD}`);
  const cases = [
    {
      name: 'checkpoint put',
      entelix: (i) => checkpointer.put(Checkpoint.create({ key: keyOf(i), step: 1, state })),
      raw: async (i) => map.set(`cp:${i % SPREAD}`, JSON.stringify(state)),
    },
    {
      name: 'checkpoint getLatest',
      entelix: (i) => checkpointer.getLatest(keyOf(i)),
      raw: async (i) => JSON.parse(map.get(`cp:${i % SPREAD}`) ?? 'null'),
    },
    {
      name: 'session append',
      entelix: (i) => log.append(keyOf(i), [state]),
      raw: async (i) => map.set(`ev:${i % SPREAD}:${i}`, JSON.stringify(state)),
    },
    {
      name: 'store put',
      entelix: (i) => store.put(ns(i), `k${i % 100}`, state),
      raw: async (i) => map.set(`st:${i % SPREAD}:${i % 100}`, JSON.stringify(state)),
    },
    {
      name: 'store get',
      entelix: (i) => store.get(ns(i), `k${i % 100}`),
      raw: async (i) => JSON.parse(map.get(`st:${i % SPREAD}:${i % 100}`) ?? 'null'),
    },
  ];
  return { name: 'memory', cases, close: () => persistence.close() };
}
