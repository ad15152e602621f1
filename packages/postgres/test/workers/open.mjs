// Opener for test-support/workers/worker.mjs: a pool of one connection as the job's
// role, and the bundle from the published entry.
import { createPostgresPersistence } from '@entelix/postgres';
import pg from 'pg';

export async function open(job) {
  const pool = new pg.Pool({ connectionString: job.url, max: 1 });
  const persistence = await createPostgresPersistence({
    pool,
    schema: job.schema,
    migrate: 'verify',
  });
  return {
    persistence,
    async close() {
      await persistence.close();
      await pool.end();
    },
  };
}
