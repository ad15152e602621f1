import { type Persistence, ThreadKey } from '@entelix/core';
import type { AgentInputItem } from '@openai/agents-core';
import { describe, expect, it } from 'vitest';
import { type Lane, openLane, randomId } from '../../../../test-support/lanes.js';
import { createEntelixSession } from '../../src/index.js';
import { countSessionLog } from '../counting.js';

const HISTORY = 1_000;

const said = (text: string): AgentInputItem => ({ role: 'user', content: text });
const textsOf = (items: readonly AgentInputItem[]) =>
  items.map((item) => (item as { content: string }).content);

export function costTests(lane: Lane): void {
  const opened = openLane(lane);

  /** A session with a {@link HISTORY}-item history, and a tally of what it asks afterwards. */
  async function longSession(over: Persistence = opened.persistence) {
    const ids = { tenantId: randomId('tenant'), sessionId: randomId('session') };
    await createEntelixSession(opened.persistence, ids).addItems(
      Array.from({ length: HISTORY }, (_, n) => said(`m${n}`)),
    );
    const counted = countSessionLog(over);
    const session = createEntelixSession(counted.persistence, ids);
    const stored = () =>
      opened.persistence.sessionLog().loadSince(ThreadKey.of(ids.tenantId, ids.sessionId), 0);
    return { ids, session, tally: counted.tally, stored };
  }

  describe(`cost on a ${HISTORY.toLocaleString('en')}-item history: what a change touches, not the history`, () => {
    it('popItem reads the head and the two newest events and makes one conditional append of one event', async () => {
      const { session, tally, stored } = await longSession();
      // The newest item of a transaction records its operation id, which must outlive it.
      await session.applyHistoryTransaction({
        operationId: 'op-1',
        transaction: { type: 'append_items', items: [said('recorded')] },
      });
      for (const expected of ['recorded', `m${HISTORY - 1}`, `m${HISTORY - 2}`]) {
        tally.reset();
        expect(textsOf([(await session.popItem())!])).toEqual([expected]);
        expect(tally.calls).toEqual(['head', 'loadLatest', 'append']);
        expect(tally.eventsRead).toBe(2);
        expect(tally.eventsAppended).toBe(1);
      }
      const items = await session.getItems();
      expect(items).toHaveLength(HISTORY - 2);
      expect(textsOf(items.slice(-2))).toEqual([`m${HISTORY - 4}`, `m${HISTORY - 3}`]);
      // Nothing superseded is left behind: one stored event per item.
      expect(await stored()).toHaveLength(HISTORY - 2);
    });

    it('a replace_suffix transaction appends only its replacement, in one conditional append', async () => {
      const { session, tally, stored } = await longSession();
      await session.applyHistoryTransaction({
        operationId: 'op-1',
        transaction: {
          type: 'replace_suffix',
          expectedSuffix: [said(`m${HISTORY - 2}`), said(`m${HISTORY - 1}`)],
          replacement: [said('r1'), said('r2'), said('r3')],
        },
      });
      // The read is the history: a retried operation id may be recorded on any of its events.
      expect(tally.calls).toEqual(['head', 'loadSince', 'append']);
      expect(tally.eventsAppended).toBe(3);
      expect(textsOf((await session.getItems()).slice(-4))).toEqual([
        `m${HISTORY - 3}`,
        'r1',
        'r2',
        'r3',
      ]);
      expect(await stored()).toHaveLength(HISTORY + 1);
    });

    it('clearSession is one append of one event; a compaction one conditional append of its items', async () => {
      const { session, tally, stored } = await longSession();
      await session.replaceHistoryWithCompaction([
        { type: 'compaction', encrypted_content: 'summary' },
        said('kept'),
      ]);
      expect(tally.calls).toEqual(['head', 'loadSince', 'append']);
      expect(tally.eventsAppended).toBe(2);
      expect(await stored()).toHaveLength(2);
      tally.reset();
      await session.clearSession();
      expect(tally.calls).toEqual(['append']);
      expect(tally.eventsAppended).toBe(1);
      expect(await session.getItems()).toEqual([]);
    });

    it('getItems(n) is one loadLatest of n events', async () => {
      const { session, tally } = await longSession();
      expect(textsOf(await session.getItems(3))).toEqual([
        `m${HISTORY - 3}`,
        `m${HISTORY - 2}`,
        `m${HISTORY - 1}`,
      ]);
      expect(tally.calls).toEqual(['loadLatest']);
      expect(tally.eventsRead).toBe(3);
    });

    it.skipIf(lane.wire === undefined)(
      `popItem is three statements or commands on the wire${lane.wire === undefined ? ' (the lane has no wire to count)' : ''}`,
      async () => {
        const sent: string[] = [];
        const { session } = await longSession(
          await opened.storage.open({ onQuery: (text) => sent.push(text) }),
        );
        // The first call of each kind may load its script (Redis answers NOSCRIPT once).
        await session.popItem();
        sent.length = 0;
        await session.popItem();
        expect(sent).toHaveLength(3);
      },
    );
  });
}
