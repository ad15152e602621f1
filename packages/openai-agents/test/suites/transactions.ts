import { ThreadKey } from '@entelix/core';
import {
  type AgentInputItem,
  MemorySession,
  type SessionHistoryTransactionArgs,
} from '@openai/agents-core';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { type Lane, openLane, randomId } from '../../../../test-support/lanes.js';
import { createEntelixSession, type SessionLogRecord } from '../../src/index.js';
import { pauseConditionalAppends } from '../gate.js';

const freshIds = () => ({ tenantId: randomId('tenant'), sessionId: randomId('session') });
const said = (text: string): AgentInputItem => ({ role: 'user', content: text });
const textsOf = (items: readonly AgentInputItem[]) =>
  items.map((item) => (item as { content: string }).content);
const appendOf = (operationId: string, ...texts: string[]): SessionHistoryTransactionArgs => ({
  operationId,
  transaction: { type: 'append_items', items: texts.map(said) },
});
const replaceOf = (
  operationId: string,
  expected: string[],
  replacement: string[],
): SessionHistoryTransactionArgs => ({
  operationId,
  transaction: {
    type: 'replace_suffix',
    expectedSuffix: expected.map(said),
    replacement: replacement.map(said),
  },
});

/** Transactions `MemorySession` refuses as well: its parity test runs them on it. */
const REFUSED_BY_MEMORY_SESSION_TOO = [
  // A field its type does not have.
  { operationId: 'op', transaction: { ...appendOf('op', 'a').transaction, note: 1 } },
  {
    operationId: 'op',
    transaction: { ...replaceOf('op', [], ['a']).transaction, expectedHead: 1 },
  },
  // Objects that are not history items of the Agents SDK.
  { operationId: 'op', transaction: { type: 'append_items', items: [{ foo: 1 }] } },
  {
    operationId: 'op',
    transaction: { type: 'append_items', items: [said('a'), { role: 'robot', content: 'x' }] },
  },
  {
    operationId: 'op',
    transaction: { type: 'replace_suffix', expectedSuffix: [{ foo: 1 }], replacement: [] },
  },
  {
    operationId: 'op',
    transaction: { type: 'replace_suffix', expectedSuffix: [], replacement: [{ type: 'nope' }] },
  },
];

export function transactionTests(lane: Lane): void {
  const opened = openLane(lane);

  const headOf = (ids: { tenantId: string; sessionId: string }) =>
    opened.persistence.sessionLog().head(ThreadKey.of(ids.tenantId, ids.sessionId));

  it('append_items appends; a retry with the same operation changes nothing', async () => {
    const ids = freshIds();
    const session = createEntelixSession(opened.persistence, ids);
    await session.addItems([said('a')]);
    await session.applyHistoryTransaction(appendOf('op-1', 'b', 'c'));
    const head = await headOf(ids);
    await session.applyHistoryTransaction(appendOf('op-1', 'b', 'c'));
    expect(textsOf(await session.getItems())).toEqual(['a', 'b', 'c']);
    expect(await headOf(ids)).toBe(head);
  });

  it('an operation id reused with another transaction is CONFLICT and changes nothing', async () => {
    const ids = freshIds();
    const session = createEntelixSession(opened.persistence, ids);
    await session.applyHistoryTransaction(appendOf('op-1', 'a'));
    const head = await headOf(ids);
    await expect(session.applyHistoryTransaction(appendOf('op-1', 'other'))).rejects.toMatchObject({
      code: 'CONFLICT',
    });
    await expect(
      session.applyHistoryTransaction(replaceOf('op-1', ['a'], ['b'])),
    ).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(textsOf(await session.getItems())).toEqual(['a']);
    expect(await headOf(ids)).toBe(head);
  });

  it('items differing only under a "__proto__" key are different items', async () => {
    // JSON.parse makes "__proto__" an own property, as a provider's data may carry it.
    const withProto = (v: number) =>
      ({
        role: 'user',
        content: 'p',
        providerData: JSON.parse(`{"__proto__":{"v":${v}}}`),
      }) as AgentInputItem;
    const ids = freshIds();
    const session = createEntelixSession(opened.persistence, ids);
    const appendingOne = (v: number): SessionHistoryTransactionArgs => ({
      operationId: 'op',
      transaction: { type: 'append_items', items: [withProto(v)] },
    });
    await session.applyHistoryTransaction(appendingOne(1));
    await expect(session.applyHistoryTransaction(appendingOne(2))).rejects.toMatchObject({
      code: 'CONFLICT',
    });
    const stale: SessionHistoryTransactionArgs = {
      operationId: 'replace',
      transaction: {
        type: 'replace_suffix',
        expectedSuffix: [withProto(2)],
        replacement: [said('r')],
      },
    };
    await expect(session.applyHistoryTransaction(stale)).rejects.toMatchObject({
      code: 'CONFLICT',
    });
    const [kept] = await session.getItems();
    expect(JSON.stringify(kept)).toBe(JSON.stringify(withProto(1)));
  });

  it('replace_suffix replaces a matching suffix, once', async () => {
    const ids = freshIds();
    const session = createEntelixSession(opened.persistence, ids);
    await session.addItems([said('keep'), said('blocked 1'), said('blocked 2')]);
    await session.applyHistoryTransaction(
      replaceOf('op-2', ['blocked 1', 'blocked 2'], ['accepted 1', 'accepted 2', 'accepted 3']),
    );
    expect(textsOf(await session.getItems())).toEqual([
      'keep',
      'accepted 1',
      'accepted 2',
      'accepted 3',
    ]);
    expect(textsOf(await session.getItems(2))).toEqual(['accepted 2', 'accepted 3']);
    const head = await headOf(ids);
    await session.applyHistoryTransaction(
      replaceOf('op-2', ['blocked 1', 'blocked 2'], ['accepted 1', 'accepted 2', 'accepted 3']),
    );
    expect(await headOf(ids)).toBe(head);
    expect(textsOf(await session.getItems())).toEqual([
      'keep',
      'accepted 1',
      'accepted 2',
      'accepted 3',
    ]);
  });

  it('a suffix that no longer matches is CONFLICT and changes nothing', async () => {
    const ids = freshIds();
    const session = createEntelixSession(opened.persistence, ids);
    await session.addItems([said('a'), said('b')]);
    const head = await headOf(ids);
    for (const expected of [['x'], ['a'], ['z', 'a', 'b']]) {
      await expect(
        session.applyHistoryTransaction(replaceOf(`op-${expected.join()}`, expected, ['r'])),
      ).rejects.toMatchObject({ code: 'CONFLICT' });
    }
    expect(textsOf(await session.getItems())).toEqual(['a', 'b']);
    expect(await headOf(ids)).toBe(head);
  });

  it('applied operations survive popItem and compaction, and are forgotten by clearSession', async () => {
    const ids = freshIds();
    const session = createEntelixSession(opened.persistence, ids);
    await session.applyHistoryTransaction(appendOf('op-1', 'a', 'b'));
    await session.popItem();
    await session.replaceHistoryWithCompaction([
      { type: 'compaction', encrypted_content: 'summary' },
      said('a'),
    ]);
    const head = await headOf(ids);
    await session.applyHistoryTransaction(appendOf('op-1', 'a', 'b'));
    expect(await headOf(ids)).toBe(head);
    await session.clearSession();
    await session.applyHistoryTransaction(appendOf('op-1', 'a', 'b'));
    expect(textsOf(await session.getItems())).toEqual(['a', 'b']);
  });

  it('the same operation retried by two writers at once is applied once', async () => {
    const ids = freshIds();
    await createEntelixSession(opened.persistence, ids).addItems([said('start')]);
    const gate = pauseConditionalAppends(await opened.storage.open());
    const first = createEntelixSession(gate.persistence, ids).applyHistoryTransaction(
      appendOf('op-1', 'once'),
    );
    await gate.reached;
    await createEntelixSession(await opened.storage.open(), ids).applyHistoryTransaction(
      appendOf('op-1', 'once'),
    );
    gate.release();
    await first;
    expect(textsOf(await createEntelixSession(opened.persistence, ids).getItems())).toEqual([
      'start',
      'once',
    ]);
  });

  it('a replacement that lost the race to an append re-checks the suffix and is CONFLICT', async () => {
    const ids = freshIds();
    await createEntelixSession(opened.persistence, ids).addItems([said('blocked')]);
    const gate = pauseConditionalAppends(await opened.storage.open());
    const replacing = createEntelixSession(gate.persistence, ids).applyHistoryTransaction(
      replaceOf('op-1', ['blocked'], ['accepted']),
    );
    await gate.reached;
    await createEntelixSession(opened.persistence, ids).addItems([said('newer')]);
    gate.release();
    await expect(replacing).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(textsOf(await createEntelixSession(opened.persistence, ids).getItems())).toEqual([
      'blocked',
      'newer',
    ]);
  });

  it('malformed transactions are CONFIG, unserialisable items SERIALIZATION; nothing is written', async () => {
    const ids = freshIds();
    const session = createEntelixSession(opened.persistence, ids);
    const malformed = [
      undefined,
      { operationId: '', transaction: { type: 'append_items', items: [said('a')] } },
      { operationId: '  ', transaction: { type: 'append_items', items: [said('a')] } },
      { operationId: 'op', transaction: { type: 'append_items', items: [] } },
      { operationId: 'op', transaction: { type: 'append_items', items: ['text'] } },
      { operationId: 'op', transaction: { type: 'replace_suffix', expectedSuffix: [said('a')] } },
      { operationId: 'op', transaction: { type: 'truncate' } },
      { operationId: 'op' },
      ...REFUSED_BY_MEMORY_SESSION_TOO,
    ];
    for (const args of malformed) {
      await expect(session.applyHistoryTransaction(args as never)).rejects.toMatchObject({
        code: 'CONFIG',
      });
    }
    await expect(
      session.applyHistoryTransaction({
        operationId: 'op',
        transaction: {
          type: 'append_items',
          items: [said('a'), { ...said('b'), providerData: { at: new Date(0) } }],
        },
      }),
    ).rejects.toMatchObject({ code: 'SERIALIZATION' });
    expect(await headOf(ids)).toBe(0);
  });

  it("refuses the transactions MemorySession refuses: unknown fields, items outside the SDK's schema", async () => {
    const memory = new MemorySession();
    for (const args of REFUSED_BY_MEMORY_SESSION_TOO) {
      await expect(memory.applyHistoryTransaction(args as never)).rejects.toThrow();
    }
    expect(await memory.getItems()).toEqual([]);
  });

  it('an operation id outlives a pop of the item that recorded it, wherever that item stood', async () => {
    const setups: ((session: ReturnType<typeof createEntelixSession>) => Promise<void>)[] = [
      // After a plain item.
      (session) => session.addItems([said('a')]),
      // As the only event of the log.
      async () => {},
      // After the item a compaction's history starts with.
      (session) =>
        session.replaceHistoryWithCompaction([{ type: 'compaction', encrypted_content: 's' }]),
      // After the empty history a pop left behind.
      async (session) => {
        await session.addItems([said('gone')]);
        await session.popItem();
      },
    ];
    for (const setup of setups) {
      const ids = freshIds();
      const session = createEntelixSession(opened.persistence, ids);
      await setup(session);
      const before = await session.getItems();
      await session.applyHistoryTransaction(appendOf('op-1', 'x'));
      expect(textsOf([(await session.popItem())!])).toEqual(['x']);
      expect(await session.getItems()).toEqual(before);
      const head = await headOf(ids);
      await session.applyHistoryTransaction(appendOf('op-1', 'x'));
      await expect(session.applyHistoryTransaction(appendOf('op-1', 'y'))).rejects.toMatchObject({
        code: 'CONFLICT',
      });
      expect(await headOf(ids)).toBe(head);
      // Popping what is left carries the id on to the empty history.
      while ((await session.popItem()) !== undefined);
      await session.applyHistoryTransaction(appendOf('op-1', 'x'));
      expect(await session.getItems()).toEqual([]);
    }
  });

  it('a suffix replaced by nothing keeps the operation id, also when it was the whole history', async () => {
    const ids = freshIds();
    const session = createEntelixSession(opened.persistence, ids);
    await session.addItems([said('a'), said('b')]);
    await session.applyHistoryTransaction(replaceOf('op-1', ['b'], []));
    expect(textsOf(await session.getItems())).toEqual(['a']);
    await session.applyHistoryTransaction(replaceOf('op-2', ['a'], []));
    expect(await session.getItems()).toEqual([]);
    const head = await headOf(ids);
    await session.applyHistoryTransaction(replaceOf('op-1', ['b'], []));
    await session.applyHistoryTransaction(replaceOf('op-2', ['a'], []));
    expect(await headOf(ids)).toBe(head);
    expect(await session.getItems()).toEqual([]);
  });

  it('a replacement that lost the race to a pop re-checks the suffix and is CONFLICT', async () => {
    const ids = freshIds();
    await createEntelixSession(opened.persistence, ids).addItems([said('keep'), said('blocked')]);
    const gate = pauseConditionalAppends(await opened.storage.open());
    const replacing = createEntelixSession(gate.persistence, ids).applyHistoryTransaction(
      replaceOf('op-1', ['blocked'], ['accepted']),
    );
    await gate.reached;
    expect(textsOf([(await createEntelixSession(opened.persistence, ids).popItem())!])).toEqual([
      'blocked',
    ]);
    gate.release();
    await expect(replacing).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(textsOf(await createEntelixSession(opened.persistence, ids).getItems())).toEqual([
      'keep',
    ]);
  });

  it('any mix of appends, transactions, retried transactions, pops, clears and compactions matches a model', async () => {
    const opId = fc.integer({ min: 0, max: 2 }).map((n) => `op-${n}`);
    const operation = fc.oneof(
      fc.record({ add: fc.integer({ min: 1, max: 2 }) }),
      fc.constant({ pop: true as const }),
      fc.constant({ clear: true as const }),
      fc.record({ compact: fc.integer({ min: 0, max: 2 }) }),
      fc.record({ append: fc.integer({ min: 1, max: 2 }), op: opId }),
      fc.record({
        replace: fc.integer({ min: 0, max: 2 }),
        by: fc.integer({ min: 0, max: 2 }),
        op: opId,
        matching: fc.boolean(),
      }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(operation, { maxLength: 12 }), async (operations) => {
        const ids = freshIds();
        const session = createEntelixSession(opened.persistence, ids);
        let items: AgentInputItem[] = [];
        // What the session must still recognise: operation id to the transaction applied.
        let applied = new Map<string, SessionHistoryTransactionArgs>();
        let counter = 0;
        for (const op of operations) {
          if ('add' in op) {
            const added = Array.from({ length: op.add }, () => said(`m${counter++}`));
            await session.addItems(added);
            items = [...items, ...added];
          } else if ('pop' in op) {
            expect(await session.popItem()).toEqual(items.at(-1));
            items = items.slice(0, -1);
          } else if ('clear' in op) {
            await session.clearSession();
            items = [];
            applied = new Map();
          } else if ('compact' in op) {
            const replacement: AgentInputItem[] = [
              { type: 'compaction', encrypted_content: `c${counter++}` },
              ...items.slice(items.length - Math.min(op.compact, items.length)),
            ];
            await session.replaceHistoryWithCompaction(replacement);
            items = replacement;
          } else {
            // Texts depend on the operation's fields only, so a repeat is a true retry.
            const args =
              'append' in op
                ? appendOf(op.op, ...Array.from({ length: op.append }, (_, i) => `${op.op}.${i}`))
                : {
                    operationId: op.op,
                    transaction: {
                      type: 'replace_suffix' as const,
                      expectedSuffix: op.matching
                        ? items.slice(Math.max(0, items.length - op.replace))
                        : [said('never stored')],
                      replacement: Array.from({ length: op.by }, (_, i) => said(`${op.op}.r${i}`)),
                    },
                  };
            const earlier = applied.get(op.op);
            const transaction = args.transaction;
            let next: AgentInputItem[] | undefined;
            if (earlier !== undefined) {
              next = JSON.stringify(earlier) === JSON.stringify(args) ? items : undefined;
            } else if (transaction.type === 'append_items') {
              next = [...items, ...transaction.items];
            } else if ('matching' in op && op.matching) {
              const start = items.length - transaction.expectedSuffix.length;
              next = [...items.slice(0, start), ...transaction.replacement];
            }
            if (next === undefined) {
              await expect(session.applyHistoryTransaction(args)).rejects.toMatchObject({
                code: 'CONFLICT',
              });
            } else {
              await session.applyHistoryTransaction(args);
              if (earlier === undefined) applied.set(op.op, args);
              items = next;
            }
          }
          expect(await session.getItems()).toEqual(items);
        }
        for (let limit = 1; limit <= items.length + 1; limit++) {
          expect(await session.getItems(limit)).toEqual(items.slice(-limit));
        }
        // Every change deleted what it replaced: the log holds the history and no more
        // (plus the marker of an empty history, or of one whose first item went).
        const stored = await opened.persistence
          .sessionLog<SessionLogRecord>()
          .loadSince(ThreadKey.of(ids.tenantId, ids.sessionId), 0);
        expect(stored.filter((event) => event.event.item !== undefined)).toHaveLength(items.length);
        expect(stored.length - items.length).toBeLessThanOrEqual(1);
        const head = await headOf(ids);
        for (const args of applied.values()) await session.applyHistoryTransaction(args);
        expect(await headOf(ids)).toBe(head);
        expect(await session.getItems()).toEqual(items);
      }),
      { numRuns: 40 },
    );
  });
}
