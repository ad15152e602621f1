import {
  Checkpoint,
  type CheckpointId,
  EntelixError,
  Namespace,
  ThreadKey,
  withSessionLock,
} from '@entelix/core';
import {
  BACKENDS,
  type BackendName,
  DemoSetupError,
  type OpenedBackend,
  openBackend,
} from './backends.js';
import { bold, dim, green, heading, line, red, shortId, table } from './transcript.js';

/** The graph state an agent checkpoints after every node. */
interface AgentState {
  messages: string[];
  node: string;
}

/** What the session log records. */
type AgentEvent =
  | { type: 'node_started' | 'node_finished'; node: string }
  | { type: 'user_message'; text: string };

const NODES = ['plan', 'search', 'answer'];

const USAGE = `usage: npm run demo -- [--backend pglite|memory|postgres|redis]

Two tenants run an agent on the same thread id, one worker per thread, then the demo
shows time travel, cursors and archiving, fencing, tenant isolation, and erases both
tenants. pglite (the default) and memory need no server; postgres and redis take their
server from DATABASE_URL and REDIS_URL. Source: examples/demo/src/main.ts`;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    console.log(USAGE);
    return;
  }
  const backend = parseBackend(args);
  const opened = await openBackend(backend);
  try {
    console.log(bold('Entelix persistence demo'));
    line(`backend: ${opened.description}`);
    await runScenario(opened);
  } finally {
    await opened.close();
  }
}

async function runScenario({
  persistence,
  plainSqlRows,
  leftBehind,
}: OpenedBackend): Promise<void> {
  const checkpoints = persistence.checkpointer<AgentState>();
  const log = persistence.sessionLog<AgentEvent>();
  const memory = persistence.store<{ fact: string }>();
  // Both tenants use the same thread id on purpose: isolation must not depend on it.
  const threadId = `ticket-${crypto.randomUUID().slice(0, 6)}`;
  const acme = ThreadKey.of('acme', threadId);
  const globex = ThreadKey.of('globex', threadId);
  const fences: string[][] = [];

  heading('1. Two tenants run their agents, one worker per thread (withSessionLock)');
  for (const [key, question] of [
    [acme, 'Where is my order #1042?'],
    [globex, 'Reset my API key, please.'],
  ] as const) {
    await withSessionLock(persistence.lock, key, async (lease) => {
      const rival = await persistence.lock.tryAcquire(key, { ttlMs: 1_000 });
      fences.push([
        key.tenantId,
        String(lease.fence),
        rival === undefined ? 'refused (held)' : 'granted?!',
      ]);
      let parentId: CheckpointId | null = null;
      const messages = [`user: ${question}`];
      await log.append(key, [{ type: 'user_message', text: question }], { fence: lease });
      for (const [step, node] of NODES.entries()) {
        messages.push(`${node}: done`);
        const checkpoint: Checkpoint<AgentState> = Checkpoint.create<AgentState>({
          key,
          step,
          state: { messages: [...messages], node },
          nextNode: NODES[step + 1] ?? null,
          parentId,
        });
        await checkpoints.put(checkpoint, { fence: lease });
        await log.append(
          key,
          [
            { type: 'node_started', node },
            { type: 'node_finished', node },
          ],
          { fence: lease },
        );
        await memory.put(
          Namespace.of(key.tenantId, 'memories', threadId),
          `${node}-note`,
          { fact: `${key.tenantId} ${node} finished` },
          { ttlMs: 60_000, fence: lease },
        );
        parentId = checkpoint.id;
      }
    });
    line(`${key.tenantId.padEnd(7)} ran ${NODES.join(' → ')} on thread ${threadId}`);
  }
  table(['tenant', 'lease fence', 'second worker on same thread'], fences);

  heading('2. Time travel: acme edits the state at step 0 and resumes from there');
  const [firstAcme] = (await checkpoints.listHistory(acme, { limit: 100 })).slice(-1);
  if (firstAcme === undefined) throw new Error('acme has no history');
  const forkId = await checkpoints.updateState(acme, firstAcme.id, {
    ...firstAcme.state,
    messages: [...firstAcme.state.messages, 'human: search the EU warehouse instead'],
  });
  line(`updateState(parent ${shortId(firstAcme.id)}) → fork ${shortId(forkId)}, now the latest`);
  await withSessionLock(persistence.lock, acme, async (lease) => {
    const latest = await checkpoints.getLatest(acme);
    if (latest === undefined) throw new Error('no latest checkpoint');
    await checkpoints.put(
      Checkpoint.create<AgentState>({
        key: acme,
        step: latest.step + 1,
        state: {
          messages: [...latest.state.messages, 'search: found in EU warehouse'],
          node: 'search',
        },
        nextNode: 'answer',
        parentId: latest.id,
      }),
      { fence: lease },
    );
    await log.append(acme, [{ type: 'node_finished', node: 'search' }], { fence: lease });
  });
  const history = await checkpoints.listHistory(acme, { limit: 10 });
  table(
    ['#', 'checkpoint', 'parent', 'step', 'node', 'next', 'last message'],
    history.map((cp, i) => [
      String(history.length - i),
      shortId(cp.id),
      shortId(cp.parentId),
      String(cp.step),
      cp.state.node,
      cp.nextNode ?? '-',
      cp.state.messages.at(-1) ?? '',
    ]),
  );
  line(
    dim(
      'newest first, in write order: the fork and its resume are the latest, not the highest step',
    ),
  );

  heading('3. Paging the event log with a cursor, then archiving');
  let cursor = 0;
  for (let page = 1; page <= 2; page++) {
    const events = await log.loadSince(acme, cursor, { limit: 4 });
    line(
      `page ${page} (after #${cursor}): ${events.map((e) => `#${e.seq} ${'node' in e.event ? `${e.event.type}(${e.event.node})` : e.event.type}`).join(', ')}`,
    );
    cursor = events.at(-1)?.seq ?? cursor;
  }
  line(
    dim(
      "#8 is the resumed run of section 2: ordinals follow the order events were written, not the graph's steps",
    ),
  );
  const archived = await log.archiveBefore(acme, 5);
  const remaining = await log.loadSince(acme, 0);
  line(
    `archiveBefore(5) removed ${archived} events; first kept #${remaining[0]?.seq}, head #${await log.head(acme)}`,
  );
  const next = await log.append(acme, [{ type: 'user_message', text: 'thanks!' }]);
  line(`a new event gets #${next}: ordinals are never reused`);

  heading('4. A worker that lost its lease cannot overwrite its successor (fencing)');
  const stale = await persistence.lock.tryAcquire(globex, { ttlMs: 50 });
  await new Promise((resolve) => setTimeout(resolve, 120));
  const successor = await persistence.lock.tryAcquire(globex, { ttlMs: 5_000 });
  if (stale === undefined || successor === undefined) throw new Error('lock not granted');
  const outcome = await log
    .append(globex, [{ type: 'user_message', text: 'late write' }], { fence: stale })
    .then(
      () => red('accepted (this would be a bug)'),
      (error: unknown) =>
        EntelixError.isInstance(error) ? green(`rejected with ${error.code}`) : String(error),
    );
  line(
    `stale lease fence ${stale.fence} (signal aborted: ${stale.signal.aborted}), successor fence ${successor.fence}`,
  );
  line(`stale worker's append: ${outcome}`);
  await successor.release();

  heading('5. Tenant isolation: globex looks for acme data under the same thread id');
  const acmeLatest = await checkpoints.getLatest(acme);
  const crossRead =
    acmeLatest === undefined ? undefined : await checkpoints.getById(globex, acmeLatest.id);
  const globexNamespaces = await memory.listNamespaces('globex');
  table(
    ['query as globex', 'result'],
    [
      [
        `getById(acme's latest ${shortId(acmeLatest?.id ?? null)})`,
        crossRead === undefined ? green('not found') : red('LEAKED'),
      ],
      [
        'history on the shared thread id',
        `${(await checkpoints.listHistory(globex, { limit: 100 })).length} checkpoints, all its own`,
      ],
      ['event log head', `#${await log.head(globex)} (acme's is #${await log.head(acme)})`],
      ['memory namespaces', globexNamespaces.map((ns) => ns.scope.join('/')).join(', ')],
      [
        "memory item 'plan-note' on that thread",
        (await memory.get(Namespace.of('globex', 'memories', threadId), 'plan-note'))?.value.fact ??
          '-',
      ],
    ],
  );
  line(
    persistence.capabilities.rls
      ? `the database enforces it too: forced row-level security binds this bundle's role (capabilities.rls = true)`
      : `the database does not enforce it for this backend or role (capabilities.rls = false): isolation comes from the keys`,
  );
  if (plainSqlRows !== undefined) {
    const { asBundleRole, asOwner } = await plainSqlRows('checkpoints');
    line(
      `plain SQL with no tenant set, SELECT count(*) FROM checkpoints: ${green(`${asBundleRole} rows`)} as the application role, ${asOwner} as the owner`,
    );
  }
  try {
    ThreadKey.of('', threadId);
  } catch (error) {
    if (EntelixError.isInstance(error))
      line(`an empty tenant id never reaches storage: ${green(error.code)}`);
  }
  heading('6. Erasing both tenants (purgeTenant)');
  for (const tenant of ['acme', 'globex']) {
    const erased = await persistence.purgeTenant(tenant);
    line(
      `${tenant.padEnd(7)} ${erased.checkpoints} checkpoints, ${erased.writes} pending writes, ${erased.storeItems} memory items, ${erased.events} events erased`,
    );
  }
  line(`left behind: ${leftBehind}`);
  console.log(
    `\n${bold('done.')} Run with --backend memory|pglite|postgres|redis to compare backends; the source is examples/demo/src/main.ts.`,
  );
}

function parseBackend(args: string[]): BackendName {
  const index = args.findIndex((arg) => arg === '--backend' || arg.startsWith('--backend='));
  if (index === -1) return 'pglite';
  const value = args[index]?.includes('=') ? args[index]?.split('=')[1] : args[index + 1];
  if (!BACKENDS.includes(value as BackendName)) {
    throw new DemoSetupError(
      `--backend must be one of ${BACKENDS.join(', ')}, got ${value ?? 'nothing'}`,
    );
  }
  return value as BackendName;
}

main().catch((error: unknown) => {
  if (error instanceof DemoSetupError) {
    console.error(`demo: ${error.message}`);
  } else if (EntelixError.isInstance(error) && error.code === 'BACKEND') {
    console.error(`demo: cannot reach the backend: ${error.message}`);
  } else {
    console.error(error);
  }
  process.exitCode = 1;
});
