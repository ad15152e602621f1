import { type Persistence, ThreadKey } from '@entelix/core';
import type { AgentInputItem, SessionHistoryTransactionArgs } from '@openai/agents-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Lane, type LaneStorage, randomId } from '../../../../test-support/lanes.js';
import { createEntelixSession } from '../../src/index.js';
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

export function transactionTests(lane: Lane): void {
  let storage: LaneStorage;
  let persistence: Persistence;
  beforeAll(async () => {
    storage = await lane.start();
    persistence = await storage.open();
  });
  afterAll(async () => {
    await storage?.close();
  });

  const headOf = (ids: { tenantId: string; sessionId: string }) =>
    persistence.sessionLog().head(ThreadKey.of(ids.tenantId, ids.sessionId));

  it('append_items appends; a retry with the same operation changes nothing', async () => {
    const ids = freshIds();
    const session = createEntelixSession(persistence, ids);
    await session.addItems([said('a')]);
    await session.applyHistoryTransaction(appendOf('op-1', 'b', 'c'));
    const head = await headOf(ids);
    await session.applyHistoryTransaction(appendOf('op-1', 'b', 'c'));
    expect(textsOf(await session.getItems())).toEqual(['a', 'b', 'c']);
    expect(await headOf(ids)).toBe(head);
  });

  it('an operation id reused with another transaction is CONFLICT and changes nothing', async () => {
    const ids = freshIds();
    const session = createEntelixSession(persistence, ids);
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

  it('replace_suffix replaces a matching suffix, once', async () => {
    const ids = freshIds();
    const session = createEntelixSession(persistence, ids);
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
    const session = createEntelixSession(persistence, ids);
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
    const session = createEntelixSession(persistence, ids);
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
    await createEntelixSession(persistence, ids).addItems([said('start')]);
    const gate = pauseConditionalAppends(await storage.open());
    const first = createEntelixSession(gate.persistence, ids).applyHistoryTransaction(
      appendOf('op-1', 'once'),
    );
    await gate.reached;
    await createEntelixSession(await storage.open(), ids).applyHistoryTransaction(
      appendOf('op-1', 'once'),
    );
    gate.release();
    await first;
    expect(textsOf(await createEntelixSession(persistence, ids).getItems())).toEqual([
      'start',
      'once',
    ]);
  });

  it('a replacement that lost the race to an append re-checks the suffix and is CONFLICT', async () => {
    const ids = freshIds();
    await createEntelixSession(persistence, ids).addItems([said('blocked')]);
    const gate = pauseConditionalAppends(await storage.open());
    const replacing = createEntelixSession(gate.persistence, ids).applyHistoryTransaction(
      replaceOf('op-1', ['blocked'], ['accepted']),
    );
    await gate.reached;
    await createEntelixSession(persistence, ids).addItems([said('newer')]);
    gate.release();
    await expect(replacing).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(textsOf(await createEntelixSession(persistence, ids).getItems())).toEqual([
      'blocked',
      'newer',
    ]);
  });

  it('malformed transactions are CONFIG, unserialisable items SERIALIZATION; nothing is written', async () => {
    const ids = freshIds();
    const session = createEntelixSession(persistence, ids);
    const malformed = [
      undefined,
      { operationId: '', transaction: { type: 'append_items', items: [said('a')] } },
      { operationId: '  ', transaction: { type: 'append_items', items: [said('a')] } },
      { operationId: 'op', transaction: { type: 'append_items', items: [] } },
      { operationId: 'op', transaction: { type: 'append_items', items: ['text'] } },
      { operationId: 'op', transaction: { type: 'replace_suffix', expectedSuffix: [said('a')] } },
      { operationId: 'op', transaction: { type: 'truncate' } },
      { operationId: 'op' },
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
}
