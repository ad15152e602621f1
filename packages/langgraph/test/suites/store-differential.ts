import { InMemoryStore, type Item, type Operation } from '@langchain/langgraph-checkpoint';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { type Lane, openLane, randomId } from '../../../../test-support/lanes.js';
import { createEntelixStore } from '../../src/index.js';

/**
 * The Entelix store against LangGraph's InMemoryStore over generated operations.
 *
 * Where the two differ by design the reference is adjusted here, in the open:
 * - Order: InMemoryStore returns search results in insertion order and namespaces in
 *   `localeCompare` order of their `:`-joined labels; Entelix returns both in code-point
 *   order of (namespace parts, key). Reference results are re-sorted into Entelix order
 *   before paging, so a page of one is compared with the same page of the other.
 * - Emptied namespaces: InMemoryStore keeps listing a namespace after its last item is
 *   deleted; Entelix lists only namespaces that hold items.
 * - Filters: range operators are generated on numeric fields only. InMemoryStore coerces
 *   with `Number()` (so `{ $gt: 0 }` holds for `true`, and strings never order), Entelix
 *   compares numbers with numbers and strings with strings; equality is `===` there and
 *   JSON equality here, which differ only for objects and arrays, not generated.
 */

const LABELS = ['a', 'b', 'ab', 'c'];
const KEYS = ['k1', 'k2', 'k3'];

const namespaceArb = fc.array(fc.constantFrom(...LABELS), { minLength: 1, maxLength: 3 });
const valueArb = fc.record(
  {
    n: fc.integer({ min: 0, max: 4 }),
    s: fc.constantFrom('x', 'y'),
    flag: fc.boolean(),
  },
  { requiredKeys: ['n'] },
);
const filterArb = fc.oneof(
  fc.constant(undefined),
  fc.record({ n: fc.integer({ min: 0, max: 4 }) }),
  fc.record({ s: fc.constantFrom('x', 'y') }),
  fc.record({ flag: fc.boolean() }),
  fc.record({
    n: fc
      .constantFrom('$gt', '$gte', '$lt', '$lte', '$eq', '$ne')
      .chain((op) => fc.integer({ min: 0, max: 4 }).map((v) => ({ [op]: v }))),
  }),
  fc.record({ s: fc.constantFrom('x', 'y').map((v) => ({ $ne: v })) }),
  fc.record({
    n: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }).map((v) => ({ $in: v })),
  }),
  fc.record({ s: fc.array(fc.constantFrom('x', 'y'), { maxLength: 2 }).map((v) => ({ $nin: v })) }),
);
const pathArb = fc.array(fc.constantFrom(...LABELS, '*'), { minLength: 1, maxLength: 2 });

type Op =
  | { type: 'put'; namespace: string[]; key: string; value: Record<string, unknown> }
  | { type: 'delete'; namespace: string[]; key: string }
  | { type: 'get'; namespace: string[]; key: string }
  | {
      type: 'search';
      prefix: string[];
      filter?: Record<string, unknown>;
      limit: number;
      offset: number;
    }
  | {
      type: 'listNamespaces';
      prefix?: string[];
      suffix?: string[];
      maxDepth?: number;
      limit: number;
      offset: number;
    };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      type: fc.constant('put' as const),
      namespace: namespaceArb,
      key: fc.constantFrom(...KEYS),
      value: valueArb,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      type: fc.constant('delete' as const),
      namespace: namespaceArb,
      key: fc.constantFrom(...KEYS),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      type: fc.constant('get' as const),
      namespace: namespaceArb,
      key: fc.constantFrom(...KEYS),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record(
      {
        type: fc.constant('search' as const),
        prefix: fc.array(fc.constantFrom(...LABELS), { maxLength: 2 }),
        filter: filterArb,
        limit: fc.integer({ min: 0, max: 6 }),
        offset: fc.integer({ min: 0, max: 4 }),
      },
      { requiredKeys: ['type', 'prefix', 'limit', 'offset'] },
    ),
  },
  {
    weight: 2,
    arbitrary: fc.record(
      {
        type: fc.constant('listNamespaces' as const),
        prefix: pathArb,
        suffix: pathArb,
        maxDepth: fc.integer({ min: 1, max: 3 }),
        limit: fc.integer({ min: 0, max: 6 }),
        offset: fc.integer({ min: 0, max: 3 }),
      },
      { requiredKeys: ['type', 'limit', 'offset'] },
    ),
  },
);

/** Code-point order of labels, then of keys: Entelix's order. */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
function compareScopes(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const order = compareStrings(a[i] as string, b[i] as string);
    if (order !== 0) return order;
  }
  return a.length - b.length;
}

const itemView = (item: Item | null) =>
  item === null ? null : { namespace: item.namespace, key: item.key, value: item.value };

function toOperation(op: Op): Operation {
  switch (op.type) {
    case 'put':
      return { namespace: op.namespace, key: op.key, value: op.value };
    case 'delete':
      return { namespace: op.namespace, key: op.key, value: null };
    case 'get':
      return { namespace: op.namespace, key: op.key };
    case 'search':
      return { namespacePrefix: op.prefix, filter: op.filter, limit: op.limit, offset: op.offset };
    case 'listNamespaces': {
      const matchConditions = [
        ...(op.prefix ? [{ matchType: 'prefix' as const, path: op.prefix }] : []),
        ...(op.suffix ? [{ matchType: 'suffix' as const, path: op.suffix }] : []),
      ];
      return { matchConditions, maxDepth: op.maxDepth, limit: op.limit, offset: op.offset };
    }
  }
}

/** What the Entelix store must answer, computed from the reference as the header says. */
async function expected(reference: InMemoryStore, op: Op): Promise<unknown> {
  switch (op.type) {
    case 'put':
    case 'delete':
      return undefined;
    case 'get':
      return itemView(await reference.get(op.namespace, op.key));
    case 'search': {
      const all = await reference.search(op.prefix, { filter: op.filter, limit: 10_000 });
      return all
        .map(itemView)
        .sort(
          (a, b) =>
            compareScopes(a?.namespace ?? [], b?.namespace ?? []) ||
            compareStrings(a?.key ?? '', b?.key ?? ''),
        )
        .slice(op.offset, op.offset + op.limit);
    }
    case 'listNamespaces': {
      const full = await reference.listNamespaces({
        prefix: op.prefix,
        suffix: op.suffix,
        limit: 10_000,
      });
      const live: string[][] = [];
      for (const namespace of full) {
        const items = await reference.search(namespace, { limit: 10_000 });
        if (items.some((item) => compareScopes(item.namespace, namespace) === 0))
          live.push(namespace);
      }
      const truncated = live.map((ns) =>
        op.maxDepth === undefined ? ns : ns.slice(0, op.maxDepth),
      );
      const unique = [...new Map(truncated.map((ns) => [JSON.stringify(ns), ns])).values()];
      return unique.sort(compareScopes).slice(op.offset, op.offset + op.limit);
    }
  }
}

function observedView(op: Op, result: unknown): unknown {
  if (op.type === 'get') return itemView(result as Item | null);
  if (op.type === 'search') return (result as Item[]).map(itemView);
  if (op.type === 'put' || op.type === 'delete') return undefined;
  return result;
}

export function storeDifferentialTests(lane: Lane): void {
  const opened = openLane(lane);

  it('one operation at a time', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { maxLength: 25 }), async (ops) => {
        const reference = new InMemoryStore();
        const store = createEntelixStore(opened.persistence, {
          tenantId: randomId('tenant'),
          pageSize: 2,
        });
        for (const op of ops) {
          const want = await expected(reference, op);
          const [got] = await store.batch([toOperation(op)]);
          expect(observedView(op, got)).toEqual(want);
          await reference.batch([toOperation(op)]);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('batches: reads see the store before the batch, the last write to a key wins', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(opArb, { minLength: 1, maxLength: 8 }), { maxLength: 6 }),
        async (batches) => {
          const reference = new InMemoryStore();
          const store = createEntelixStore(opened.persistence, {
            tenantId: randomId('tenant'),
            pageSize: 3,
          });
          for (const ops of batches) {
            const want = await Promise.all(ops.map((op) => expected(reference, op)));
            const got = await store.batch(ops.map(toOperation));
            expect(ops.map((op, i) => observedView(op, got[i]))).toEqual(want);
            await reference.batch(ops.map(toOperation));
          }
        },
      ),
      { numRuns: 100 },
    );
  });
}
