// A process of its own with a bundle that owns its pool (`connectionString`), for the
// test that terminates the pool's idle connections from outside: an unhandled 'error'
// event would end this process. Steps are driven by the parent over IPC.
import { EntelixError, ThreadKey } from '@entelix/core';
import { createPostgresPersistence } from '@entelix/postgres';

const [connectionString, schema, tenantId] = process.argv.slice(2);

const outcomeOf = (promise) =>
  promise.then(
    () => 'resolved',
    (error) => (EntelixError.isInstance(error) ? error.code : `untyped: ${error}`),
  );

const persistence = await createPostgresPersistence({
  connectionString,
  schema,
  migrate: 'verify',
});
const log = persistence.sessionLog();
const key = (n) => ThreadKey.of(tenantId, `thread-${n}`);

// Three calls at once: the pool opens three connections, which then sit idle.
await Promise.all([0, 1, 2].map((n) => log.head(key(n))));
process.send({ type: 'idle' });

process.on('message', async (message) => {
  if (message?.type !== 'call') return;
  // The first call may pick a connection whose end has not been seen yet: BACKEND is
  // allowed there. The second must find a working connection.
  const first = await outcomeOf(log.append(key(0), ['after']));
  const second = await outcomeOf(log.head(key(0)));
  await persistence.close();
  process.send({ type: 'outcomes', outcomes: [first, second] });
  process.disconnect();
});
