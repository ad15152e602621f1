import { ThreadKey } from '@entelix/core';
import type { AgentInputItem } from '@openai/agents-core';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { type Lane, openLane, randomId } from '../../../../test-support/lanes.js';
import { createEntelixSession, type SessionLogRecord } from '../../src/index.js';
import { pauseConditionalAppends } from '../gate.js';

const freshIds = () => ({ tenantId: randomId('tenant'), sessionId: randomId('session') });

const said = (text: string): AgentInputItem => ({ role: 'user', content: text });
const textsOf = (items: readonly AgentInputItem[]) =>
  items.map((item) => (item as { content: string }).content);

export function sessionTests(lane: Lane): void {
  const opened = openLane(lane);

  const sessionOf = (ids: { tenantId: string; sessionId: string }) =>
    createEntelixSession(opened.persistence, ids);
  const rawEvents = (ids: { tenantId: string; sessionId: string }) =>
    opened.persistence
      .sessionLog<SessionLogRecord>()
      .loadSince(ThreadKey.of(ids.tenantId, ids.sessionId), 0);
  const headOf = (ids: { tenantId: string; sessionId: string }) =>
    opened.persistence.sessionLog().head(ThreadKey.of(ids.tenantId, ids.sessionId));

  it('returns its session id and key', async () => {
    const ids = freshIds();
    const session = sessionOf(ids);
    expect(await session.getSessionId()).toBe(ids.sessionId);
    expect(session.key).toEqual({ tenantId: ids.tenantId, threadId: ids.sessionId });
  });

  it('getItems returns everything, or the newest `limit` items in order', async () => {
    const ids = freshIds();
    const session = sessionOf(ids);
    expect(await session.getItems()).toEqual([]);
    expect(await session.getItems(3)).toEqual([]);
    await session.addItems([said('a'), said('b')]);
    await session.addItems([said('c')]);
    expect(textsOf(await session.getItems())).toEqual(['a', 'b', 'c']);
    expect(textsOf(await session.getItems(2))).toEqual(['b', 'c']);
    expect(textsOf(await session.getItems(10))).toEqual(['a', 'b', 'c']);
    expect(await session.getItems(0)).toEqual([]);
  });

  it('rejects a limit that is not a non-negative integer with CONFIG', async () => {
    const session = sessionOf(freshIds());
    for (const limit of [-1, 1.5, Number.NaN, '2']) {
      await expect(session.getItems(limit as number)).rejects.toMatchObject({ code: 'CONFIG' });
    }
  });

  it('stores items as they were given and returns fresh copies', async () => {
    const ids = freshIds();
    const session = sessionOf(ids);
    const item: AgentInputItem = {
      type: 'message',
      role: 'user',
      content: [{ type: 'input_text', text: 'héllo 👋' }],
      providerData: { nested: { list: [1, null, 'x'] } },
    };
    await session.addItems([item]);
    const [read] = await session.getItems();
    expect(read).toEqual(item);
    (read as { role: string }).role = 'assistant';
    expect(await session.getItems()).toEqual([item]);
    expect((await rawEvents(ids)).map((event) => event.event)).toEqual([{ item }]);
  });

  it('addItems of nothing writes nothing', async () => {
    const ids = freshIds();
    await sessionOf(ids).addItems([]);
    expect(await headOf(ids)).toBe(0);
  });

  it('popItem removes and returns the newest item; the next append gets a fresh ordinal', async () => {
    const ids = freshIds();
    const session = sessionOf(ids);
    await session.addItems([said('a'), said('b'), said('c')]);
    expect(textsOf([(await session.popItem())!])).toEqual(['c']);
    expect(textsOf(await session.getItems())).toEqual(['a', 'b']);
    const headAfterPop = await headOf(ids);
    expect(headAfterPop).toBeGreaterThan(3);
    await session.addItems([said('d')]);
    expect(textsOf(await session.getItems())).toEqual(['a', 'b', 'd']);
    const events = await rawEvents(ids);
    // The pop deleted what it replaced: only the current history is stored, 'b' again
    // with a fresh ordinal.
    expect(events.map((event) => event.event.item)).toEqual([said('a'), said('b'), said('d')]);
    expect(events.map((event) => event.seq)).toEqual([1, headAfterPop, headAfterPop + 1]);
  });

  it('popItem on an empty session returns undefined and writes nothing', async () => {
    const ids = freshIds();
    expect(await sessionOf(ids).popItem()).toBeUndefined();
    expect(await headOf(ids)).toBe(0);
  });

  it('popItem down to nothing leaves an empty history that grows again', async () => {
    const ids = freshIds();
    const session = sessionOf(ids);
    await session.addItems([said('only')]);
    expect(textsOf([(await session.popItem())!])).toEqual(['only']);
    expect(await session.getItems()).toEqual([]);
    expect(await session.getItems(1)).toEqual([]);
    expect(await session.popItem()).toBeUndefined();
    await session.addItems([said('again')]);
    expect(textsOf(await session.getItems(1))).toEqual(['again']);
  });

  it('clearSession erases every item; ordinals go on from the old head', async () => {
    const ids = freshIds();
    const session = sessionOf(ids);
    await session.addItems([said('a'), said('b')]);
    await session.clearSession();
    expect(await session.getItems()).toEqual([]);
    expect(await session.getItems(5)).toEqual([]);
    // Only the item-less marker of the empty history is left.
    expect((await rawEvents(ids)).map((event) => event.event)).toEqual([{ startsHistory: true }]);
    expect(await headOf(ids)).toBe(3);
    await session.addItems([said('c')]);
    expect(textsOf(await session.getItems())).toEqual(['c']);
    expect((await rawEvents(ids)).at(-1)?.seq).toBe(4);
  });

  it('replaceHistoryWithCompaction makes the given items the whole history', async () => {
    const ids = freshIds();
    const session = sessionOf(ids);
    await session.addItems([said('a'), said('b')]);
    const compaction: AgentInputItem = { type: 'compaction', encrypted_content: 'summary' };
    await session.replaceHistoryWithCompaction([compaction, said('c')]);
    expect(await session.getItems()).toEqual([compaction, said('c')]);
    expect(await session.getItems(1)).toEqual([said('c')]);
    expect((await rawEvents(ids)).map((event) => event.seq)).toEqual([3, 4]);
  });

  it('getItems(limit) matches a plain list after any mix of appends, pops, clears and compactions', async () => {
    const operation = fc.oneof(
      fc.record({ add: fc.integer({ min: 0, max: 3 }) }),
      fc.constant({ pop: true as const }),
      fc.constant({ clear: true as const }),
      fc.record({ compact: fc.integer({ min: 0, max: 2 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(operation, { maxLength: 12 }), async (operations) => {
        const session = sessionOf(freshIds());
        const expected: AgentInputItem[] = [];
        let counter = 0;
        for (const op of operations) {
          if ('add' in op) {
            const items = Array.from({ length: op.add }, () => said(`m${counter++}`));
            await session.addItems(items);
            expected.push(...items);
          } else if ('pop' in op) {
            expect(await session.popItem()).toEqual(expected.pop());
          } else if ('clear' in op) {
            await session.clearSession();
            expected.length = 0;
          } else {
            const kept = expected.slice(expected.length - Math.min(op.compact, expected.length));
            const replacement = [
              { type: 'compaction', encrypted_content: `c${counter++}` },
              ...kept,
            ];
            await session.replaceHistoryWithCompaction(replacement as AgentInputItem[]);
            expected.splice(0, expected.length, ...(replacement as AgentInputItem[]));
          }
        }
        expect(await session.getItems()).toEqual(expected);
        for (let limit = 1; limit <= expected.length + 1; limit++) {
          expect(await session.getItems(limit)).toEqual(expected.slice(-limit));
        }
      }),
      { numRuns: 60 },
    );
  });

  it('a clear that lands while a pop is between its read and its write wins: nothing comes back', async () => {
    const ids = freshIds();
    await sessionOf(ids).addItems([said('a'), said('b')]);
    const gate = pauseConditionalAppends(await opened.storage.open());
    const popped = createEntelixSession(gate.persistence, ids).popItem();
    await gate.reached;
    await sessionOf(ids).clearSession();
    gate.release();
    expect(await popped).toBeUndefined();
    expect(await sessionOf(ids).getItems()).toEqual([]);
  });

  it('a tenant purge or a log deletion that lands while a pop is between its read and its write wins: nothing comes back', async () => {
    const erasures = [
      (ids: { tenantId: string }) => opened.persistence.purgeTenant(ids.tenantId),
      (ids: { tenantId: string; sessionId: string }) =>
        opened.persistence.sessionLog().deleteThread(ThreadKey.of(ids.tenantId, ids.sessionId)),
    ];
    for (const erase of erasures) {
      const ids = freshIds();
      await sessionOf(ids).addItems([said('secret 1'), said('secret 2'), said('secret 3')]);
      const gate = pauseConditionalAppends(await opened.storage.open());
      const popped = createEntelixSession(gate.persistence, ids).popItem();
      await gate.reached;
      await erase(ids);
      gate.release();
      expect(await popped).toBeUndefined();
      expect(await sessionOf(ids).getItems()).toEqual([]);
      expect(await rawEvents(ids)).toEqual([]);
    }
  });

  it('two pops racing each remove an item of their own', async () => {
    const ids = freshIds();
    await sessionOf(ids).addItems([said('a'), said('b'), said('c')]);
    const gate = pauseConditionalAppends(await opened.storage.open());
    const first = createEntelixSession(gate.persistence, ids).popItem();
    await gate.reached;
    const second = await sessionOf(ids).popItem();
    gate.release();
    expect(textsOf([second!, (await first)!])).toEqual(['c', 'b']);
    expect(textsOf(await sessionOf(ids).getItems())).toEqual(['a']);
  });

  it('twelve pops at once on one session each remove an item of their own', async () => {
    const ids = freshIds();
    const session = sessionOf(ids);
    const texts = Array.from({ length: 40 }, (_, i) => `item-${String(i).padStart(2, '0')}`);
    await session.addItems(texts.map(said));
    // More than maxAttempts (5) at once: a session's own writes queue, not race.
    const popped = await Promise.all(Array.from({ length: 12 }, () => session.popItem()));
    expect(textsOf(popped as AgentInputItem[]).sort()).toEqual(texts.slice(28).sort());
    expect(textsOf(await session.getItems())).toEqual(texts.slice(0, 28));
  });

  it('a clear that lands while a compaction is between its read and its write stays: what it forgot stays forgotten', async () => {
    const ids = freshIds();
    const session = sessionOf(ids);
    const recorded = {
      operationId: 'op-1',
      transaction: { type: 'append_items' as const, items: [said('recorded')] },
    };
    await session.applyHistoryTransaction(recorded);
    const gate = pauseConditionalAppends(await opened.storage.open());
    const compaction: AgentInputItem = { type: 'compaction', encrypted_content: 'summary' };
    const compacting = createEntelixSession(gate.persistence, ids).replaceHistoryWithCompaction([
      compaction,
    ]);
    await gate.reached;
    await session.clearSession();
    gate.release();
    await compacting;
    expect(await session.getItems()).toEqual([compaction]);
    // Read before the clear, the compaction would have carried op-1 on.
    await session.applyHistoryTransaction(recorded);
    expect(await session.getItems()).toEqual([compaction, said('recorded')]);
  });

  it('clearing one tenant leaves another tenant with the same session id alone', async () => {
    const sessionId = randomId('shared');
    const acme = sessionOf({ tenantId: randomId('acme'), sessionId });
    const globex = sessionOf({ tenantId: randomId('globex'), sessionId });
    await acme.addItems([said('acme')]);
    await globex.addItems([said('globex')]);
    await acme.clearSession();
    expect(await globex.popItem()).toEqual(said('globex'));
    expect(await acme.getItems()).toEqual([]);
    await globex.addItems([said('globex again')]);
    expect(textsOf(await globex.getItems())).toEqual(['globex again']);
  });

  it('a session id or tenant that is not a valid id is INVALID_ID before any I/O', async () => {
    const tenantId = randomId('tenant');
    for (const sessionId of ['', 'a\u0000b', 'x'.repeat(257), '\uD800', 42, undefined]) {
      expect(() =>
        createEntelixSession(opened.persistence, { tenantId, sessionId } as never),
      ).toThrow(expect.objectContaining({ code: 'INVALID_ID' }));
    }
    for (const badTenant of ['', 'a\u0000b', undefined]) {
      expect(() =>
        createEntelixSession(opened.persistence, { tenantId: badTenant, sessionId: 's' } as never),
      ).toThrow(expect.objectContaining({ code: 'INVALID_ID' }));
    }
    expect(await opened.persistence.sessionLog().listThreads(tenantId, { limit: 10 })).toEqual([]);
  });

  it('bad options are CONFIG', () => {
    const ids = freshIds();
    expect(() => createEntelixSession(opened.persistence, null as never)).toThrow(
      expect.objectContaining({ code: 'CONFIG' }),
    );
    for (const maxAttempts of [0, -1, 1.5]) {
      expect(() => createEntelixSession(opened.persistence, { ...ids, maxAttempts })).toThrow(
        expect.objectContaining({ code: 'CONFIG' }),
      );
    }
    // A bad fence is refused when the session is made, not at its first write.
    const otherTenant = ThreadKey.of(randomId('tenant'), ids.sessionId);
    const own = ThreadKey.of(ids.tenantId, ids.sessionId);
    for (const fence of [
      1n,
      { key: own, fence: 0n },
      { key: own },
      { key: otherTenant, fence: 1n },
    ]) {
      expect(() =>
        createEntelixSession(opened.persistence, { ...ids, fence: fence as never }),
      ).toThrow(expect.objectContaining({ code: 'CONFIG' }));
    }
  });

  it('items that do not serialise are SERIALIZATION and nothing of the batch is written', async () => {
    const ids = freshIds();
    const session = sessionOf(ids);
    const cyclic: Record<string, unknown> = { role: 'user', content: 'loop' };
    cyclic.self = cyclic;
    const unserialisable = [
      { role: 'user', content: 'when', providerData: { at: new Date(0) } },
      { role: 'user', content: 'big', providerData: { n: 10n } },
      { role: 'user', content: 'nan', providerData: { n: Number.NaN } },
      { role: 'user', content: 'holes', providerData: { list: [1, undefined] } },
      { role: 'user', content: 'bytes', providerData: { data: new Uint8Array([1]) } },
      cyclic,
    ];
    for (const bad of unserialisable) {
      await expect(session.addItems([said('fine'), bad as never])).rejects.toMatchObject({
        code: 'SERIALIZATION',
      });
      await expect(session.replaceHistoryWithCompaction([bad as never])).rejects.toMatchObject({
        code: 'SERIALIZATION',
      });
    }
    expect(await headOf(ids)).toBe(0);
  });

  it('items that are not an array of objects are CONFIG and nothing is written', async () => {
    const ids = freshIds();
    const session = sessionOf(ids);
    for (const items of [undefined, 'text', [said('fine'), 'text'], [null], [[said('nested')]]]) {
      await expect(session.addItems(items as never)).rejects.toMatchObject({ code: 'CONFIG' });
    }
    expect(await headOf(ids)).toBe(0);
  });

  it('an event that is not a session record is CORRUPT_RECORD, not a history item', async () => {
    for (const foreign of ['text', { item: 5 }, { other: true }, { startsHistory: 'yes' }, null]) {
      const ids = freshIds();
      await opened.persistence
        .sessionLog<unknown>()
        .append(ThreadKey.of(ids.tenantId, ids.sessionId), [foreign]);
      await expect(sessionOf(ids).getItems()).rejects.toMatchObject({ code: 'CORRUPT_RECORD' });
      await expect(sessionOf(ids).popItem()).rejects.toMatchObject({ code: 'CORRUPT_RECORD' });
    }
  });
}
