// Opener for worker processes (see worker.mjs): a bundle over the storage a test lane
// shares with other processes, `job.shared` (a SharedStorage of test-support/lanes.ts),
// from the backends' published entries.
import { createPostgresPersistence } from '@entelix/postgres';
import { createRedisPersistence } from '@entelix/redis';
import { Redis } from 'ioredis';
import pg from 'pg';

export async function open({ shared }) {
  switch (shared.kind) {
    case 'postgres': {
      const pool = new pg.Pool({ connectionString: shared.url, max: 2 });
      const persistence = await createPostgresPersistence({
        pool,
        schema: shared.schema,
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
    case 'redis': {
      const persistence = createRedisPersistence({ url: shared.url, keyPrefix: shared.keyPrefix });
      return { persistence, close: () => persistence.close() };
    }
    case 'redis-cluster': {
      const client = new Redis.Cluster(
        shared.nodes.split(',').map((node) => {
          const [host, port] = node.trim().split(':');
          return { host, port: Number(port) };
        }),
      );
      const persistence = createRedisPersistence({ client, keyPrefix: shared.keyPrefix });
      return {
        persistence,
        async close() {
          await persistence.close();
          await client.quit();
        },
      };
    }
    default:
      throw new Error(`unknown shared storage ${JSON.stringify(shared)}`);
  }
}
