// A separate Node process for the multi-process suites of every backend: it opens its
// own connection and bundle through the backend's opener module (which imports the
// published entry from dist), runs one job sent by the parent over IPC, reports the
// outcome and exits. Jobs are plain JSON; ids come from the parent.
import { Checkpoint, EntelixError, ThreadKey, withSessionLock } from '@entelix/core';

const codeOf = (error) => (EntelixError.isInstance(error) ? error.code : `untyped: ${error}`);

/** The next message from the parent whose `type` is `type`. */
const nextMessage = (type) =>
  new Promise((resolve) => {
    const onMessage = (message) => {
      if (message?.type !== type) return;
      process.off('message', onMessage);
      resolve(message);
    };
    process.on('message', onMessage);
  });

const jobs = {
  /** `count` single-event appends; the heads each append returned. */
  async append(persistence, { key, count, writer }) {
    const log = persistence.sessionLog();
    const heads = [];
    for (let n = 0; n < count; n++) heads.push(await log.append(key, [{ writer, n }]));
    return { heads };
  },

  /**
   * `iterations` critical sections under `withSessionLock`, each reading the latest
   * counter checkpoint and writing the next one fenced by the lease. A section counts
   * as successful only when `withSessionLock` resolves.
   */
  async counter(persistence, { key, iterations, ttlMs, timeoutMs }) {
    const checkpointer = persistence.checkpointer();
    let succeeded = 0;
    const failures = {};
    for (let i = 0; i < iterations; i++) {
      try {
        await withSessionLock(
          persistence.lock,
          key,
          async (lease) => {
            const latest = await checkpointer.getLatest(key);
            const count = (latest?.state.count ?? 0) + 1;
            const next = Checkpoint.create({
              key,
              step: count,
              state: { count },
              parentId: latest?.id ?? null,
            });
            await checkpointer.put(next, { fence: lease });
          },
          { ttlMs, timeoutMs },
        );
        succeeded++;
      } catch (error) {
        const code = codeOf(error);
        failures[code] = (failures[code] ?? 0) + 1;
      }
    }
    return { succeeded, failures };
  },

  /**
   * Hold the lock with a short TTL, tell the parent, then (after the parent has
   * paused and resumed this process and another one took over) write fenced.
   */
  async holder(persistence, { key, ttlMs }) {
    const checkpointer = persistence.checkpointer();
    const log = persistence.sessionLog();
    let outcome;
    const released = await withSessionLock(
      persistence.lock,
      key,
      async (lease) => {
        process.send({ type: 'acquired', fence: lease.fence.toString() });
        await nextMessage('write');
        const codes = {};
        const attempt = async (name, write) => {
          try {
            await write();
            codes[name] = 'written';
          } catch (error) {
            codes[name] = codeOf(error);
          }
        };
        await attempt('put', () =>
          checkpointer.put(Checkpoint.create({ key, step: 1, state: { writer: 'A' } }), {
            fence: lease,
          }),
        );
        await attempt('append', () => log.append(key, [{ writer: 'A' }], { fence: lease }));
        outcome = { codes, signalAborted: lease.signal.aborted };
      },
      { ttlMs, timeoutMs: 5_000 },
    ).then(
      () => 'released',
      (error) => codeOf(error),
    );
    return { ...outcome, released };
  },

  /**
   * Once the parent says go, attach one write (idx 0 of task `task`) to the shared
   * checkpoint, then read back the write every reader now sees.
   */
  async pendingWriteRace(persistence, { key, checkpointId, writer }) {
    const checkpointer = persistence.checkpointer();
    process.send({ type: 'ready' });
    await nextMessage('go');
    await checkpointer.putWrites(key, { checkpointId, taskId: 'task' }, [
      { idx: 0, channel: 'c', value: { writer } },
    ]);
    const read = await checkpointer.getById(key, checkpointId);
    return { seen: read?.pendingWrites.map((write) => write.value.writer) };
  },

  /**
   * Once the parent says go, `attempts` times: read the head and append one event on
   * the condition that the head is still that. Returns the heads of the appends that
   * won, the head each of them was conditioned on, and the number that lost with CONFLICT.
   */
  async conditionalAppends(persistence, { key, attempts, writer }) {
    const log = persistence.sessionLog();
    process.send({ type: 'ready' });
    await nextMessage('go');
    const won = [];
    const wonFrom = [];
    let conflicts = 0;
    for (let n = 0; n < attempts; n++) {
      const head = await log.head(key);
      try {
        won.push(await log.append(key, [{ writer, n }], { expectedHead: head }));
        wonFrom.push(head);
      } catch (error) {
        if (codeOf(error) !== 'CONFLICT') throw error;
        conflicts++;
      }
    }
    return { won, wonFrom, conflicts };
  },

  /**
   * The `run(persistence, job)` export of the module at `job.module`: a job a package
   * keeps beside its own tests (an agent turn with that package's published entry).
   */
  async module(persistence, job) {
    const { run } = await import(job.module);
    return run(persistence, job);
  },

  /** Take the lock (waiting for the previous lease to run out) and write fenced. */
  async takeover(persistence, { key, ttlMs, timeoutMs }) {
    const checkpointer = persistence.checkpointer();
    const log = persistence.sessionLog();
    return withSessionLock(
      persistence.lock,
      key,
      async (lease) => {
        await checkpointer.put(Checkpoint.create({ key, step: 1, state: { writer: 'B' } }), {
          fence: lease,
        });
        await log.append(key, [{ writer: 'B' }], { fence: lease });
        return { fence: lease.fence.toString() };
      },
      { ttlMs, timeoutMs },
    );
  },
};

const job = await nextMessage('job');
// The opener exports `open(job)`, resolving to `{ persistence, close() }`.
const { open } = await import(job.opener);
const { persistence, close } = await open(job);
try {
  const key = ThreadKey.of(job.tenantId, job.threadId);
  const result = await jobs[job.name](persistence, { ...job, key });
  process.send({ type: 'done', result });
} catch (error) {
  process.send({ type: 'failed', code: codeOf(error), message: String(error?.message ?? error) });
} finally {
  await close();
  process.disconnect();
}
