import pg from 'pg';
import { Checkpoint, ThreadKey } from '@entelix/core';
import { createPostgresPersistence } from '@entelix/postgres';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
const persistence = await createPostgresPersistence({ pool, migrate: 'verify' });

const key = ThreadKey.of('acme', 'thread-1');
const checkpointer = persistence.checkpointer<{ messages: string[] }>();
await checkpointer.put(Checkpoint.create({ key, step: 0, state: { messages: [] } }));
const latest = await checkpointer.getLatest(key);

await persistence.close(); // closes only what the factory opened: the pool is yours
await pool.end();

export {};
