import { type Namespace, ThreadKey } from '@entelix/core';

const SEPARATOR = '\u0000';
const checkpointKey = (key: ThreadKey, ns: string, id: string) =>
  ['checkpoint', ThreadKey.render(key), ns, id].join(SEPARATOR);
// A prefix ending in the separator selects one namespace's items, never ['ab'] for ['a'].
const itemsOf = (ns: Namespace) => ['store-item', ns.tenantId, ns.render(), ''].join(SEPARATOR);

export {};
