import type { Persistence } from '@entelix/core';
import { PostgresSaver } from '@langchain/langgraph-checkpoint-postgres';
import pg from 'pg';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { describeWithService } from '../../../test-support/services.js';
import { expectFaithfulCopy, runThreadsOn } from './copy.js';
import { availableTargets } from './targets.js';

describeWithService('DATABASE_URL', "moving in from LangGraph's PostgresSaver", (url) => {
  // A schema of this run's own, dropped afterwards; nobody else's tables are touched.
  const schema = `entelix_langgraph_${crypto.randomUUID().replaceAll('-', '')}`;
  const pool = new pg.Pool({ connectionString: url });
  const source = new PostgresSaver(pool, undefined, { schema });
  beforeAll(async () => {
    await source.setup();
  });
  afterAll(async () => {
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
  });

  for (const target of availableTargets()) {
    describe(`into ${target.name}`, () => {
      let persistence: Persistence;
      beforeAll(async () => {
        persistence = await target.open();
      });
      afterAll(async () => {
        await target.close(persistence);
      });

      it('copies threads run on PostgresSaver faithfully and they go on running', async () => {
        await expectFaithfulCopy(source, persistence, await runThreadsOn(source));
      });
    });
  }
});
