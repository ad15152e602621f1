// The memory backend beside a plain Map holding the same JSON text: the cost of
// validation, envelopes and copies, with no I/O at all.

import { Checkpoint, Namespace, ThreadKey } from '@entelix/core';
import { createMemoryPersistence } from '@entelix/memory';

export async function openMemory({ state }) {
  const persistence = createMemoryPersistence();
  const checkpointer = persistence.checkpointer();
  const log = persistence.sessionLog();
  const store = persistence.store();
  const map = new Map();
  const keyOf = (w) => ThreadKey.of('bench-tenant', `thread-${w}`);
  const ns = (w) => Namespace.of('bench-tenant', 'bench', `w${w}`);
  const cases = [
    {
      name: 'checkpoint put',
      entelix: (w) => checkpointer.put(Checkpoint.create({ key: keyOf(w), step: 1, state })),
      raw: async (w, i) => map.set(`cp:${w}:${i}`, JSON.stringify(state)),
    },
    {
      name: 'checkpoint getLatest',
      entelix: (w) => checkpointer.getLatest(keyOf(w)),
      raw: async (w) => JSON.parse(map.get(`cp:${w}:0`) ?? 'null'),
    },
    {
      name: 'session append',
      entelix: (w) => log.append(keyOf(w), [state]),
      raw: async (w, i) => map.set(`ev:${w}:${i}`, JSON.stringify(state)),
    },
    {
      name: 'store put',
      entelix: (w, i) => store.put(ns(w), `k${i % 100}`, state),
      raw: async (w, i) => map.set(`st:${w}:${i % 100}`, JSON.stringify(state)),
    },
    {
      name: 'store get',
      entelix: (w, i) => store.get(ns(w), `k${i % 100}`),
      raw: async (w, i) => JSON.parse(map.get(`st:${w}:${i % 100}`) ?? 'null'),
    },
  ];
  return { name: 'memory', cases, close: () => persistence.close() };
}
