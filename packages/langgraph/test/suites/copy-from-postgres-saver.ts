import type { Persistence } from '@entelix/core';
import { PostgresSaver } from '@langchain/langgraph-checkpoint-postgres';
import pg from 'pg';
import { afterAll, beforeAll, it } from 'vitest';
import type { Lane, LaneStorage } from '../../../../test-support/lanes.js';
import { expectFaithfulCopy, runThreadsOn } from '../copy.js';

/** Threads run on LangGraph's PostgresSaver, on the server at `url`, copied into `lane`. */
export function copyFromPostgresSaverTests(lane: Lane, url: string): void {
  // A schema of this suite's own, dropped afterwards; nobody else's tables are touched.
  const schema = `entelix_langgraph_${crypto.randomUUID().replaceAll('-', '')}`;
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  const source = new PostgresSaver(pool, undefined, { schema });
  let storage: LaneStorage;
  let persistence: Persistence;
  beforeAll(async () => {
    await source.setup();
    storage = await lane.start();
    persistence = await storage.open();
  });
  afterAll(async () => {
    await storage?.close();
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
  });

  it('copies threads run on PostgresSaver faithfully and they go on running', async () => {
    await expectFaithfulCopy(source, persistence, await runThreadsOn(source));
  });
}
