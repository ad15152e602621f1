import type { Persistence, ThreadKey } from '@entelix/core';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { describeWithService } from '../../../test-support/services.js';
import { multiProcessTests } from '../../../test-support/workers/multiprocess-tests.js';
import type { WorkerJob } from '../../../test-support/workers/processes.js';
import { createPostgresPersistence } from '../src/index.js';
import { createTestSchema, type TestSchema } from './pg-support.js';

const OPENER = new URL('./workers/open.mjs', import.meta.url).href;

// Separate OS processes (child_process.fork of workers/worker.mjs, which imports the
// published entry from dist), each with its own pool, as the non-superuser
// application role, in a fresh schema dropped afterwards.
describeWithService('DATABASE_URL', 'postgres across processes (application role)', (url) => {
  let setup: TestSchema;
  let appPool: pg.Pool;
  let persistence: Persistence;

  beforeAll(async () => {
    setup = await createTestSchema(url);
    appPool = new pg.Pool({ connectionString: setup.appUrl, max: 2 });
    persistence = await createPostgresPersistence({
      pool: appPool,
      schema: setup.schema,
      migrate: 'verify',
    });
  });
  afterAll(async () => {
    await appPool?.end();
    await setup?.drop();
  });

  const jobFor = (name: WorkerJob['name'], key: ThreadKey, extra: object = {}): WorkerJob => ({
    name,
    opener: OPENER,
    url: setup.appUrl,
    schema: setup.schema,
    tenantId: key.tenantId,
    threadId: key.threadId,
    ...extra,
  });

  multiProcessTests({ persistence: () => persistence, jobFor });
});
