import {
  Checkpoint,
  type CheckpointId,
  EntelixError,
  Namespace,
  type Persistence,
  ThreadKey,
} from '@entelix/core';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import type { Interceptor, SentStatement } from '../../../test-support/intercept.js';
import { checkpointStatements } from '../src/checkpointer.js';
import { READS_PER_STATEMENT } from '../src/gather.js';
import { sessionLogStatements } from '../src/session-log.js';
import { storeStatements } from '../src/store.js';

/** A bundle, as the application role, whose every statement goes through `intercept`. */
export interface InterceptedBundle {
  readonly persistence: Persistence;
  /** The quoted schema name. */
  readonly schema: string;
  close(): Promise<void>;
}

const THREADS = Array.from({ length: 20 }, (_, i) => `t${i}`);

/**
 * Checkpoint reads, store gets and event reads issued in the same turn share statements:
 * each read answered with its own rows, as many statements as the tenants and the
 * statement size need, a read with a signal alone, and a failure (of the statement, or
 * of one row) reaching only the reads it concerns.
 */
export function gatheredReadTests(open: (intercept: Interceptor) => Promise<InterceptedBundle>) {
  let bundle: InterceptedBundle;
  let sql: ReturnType<typeof checkpointStatements>;
  let storeSql: ReturnType<typeof storeStatements>;
  let logSql: ReturnType<typeof sessionLogStatements>;
  const sent: SentStatement[] = [];
  let answer: Interceptor | undefined;
  const tenant = `gather-${crypto.randomUUID()}`;
  const otherTenant = `gather-other-${crypto.randomUUID()}`;
  /** Each thread's first checkpoint, and another tenant's checkpoint on thread t0. */
  const firstIds = new Map<string, CheckpointId>();
  let otherId: CheckpointId;

  beforeAll(async () => {
    bundle = await open((statement, run) => {
      sent.push(statement);
      return answer === undefined ? run() : answer(statement, run);
    });
    sql = checkpointStatements(bundle.schema);
    storeSql = storeStatements(bundle.schema);
    logSql = sessionLogStatements(bundle.schema);
    const checkpointer = bundle.persistence.checkpointer();
    // Thread ti holds i % 3 + 1 checkpoints; the latest has state { thread: i, n: i % 3 }.
    for (const [i, thread] of THREADS.entries()) {
      const key = ThreadKey.of(tenant, thread);
      let parent: Checkpoint<unknown> | undefined;
      for (let n = 0; n <= i % 3; n++) {
        const state = { thread: i, n };
        const checkpoint: Checkpoint<unknown> =
          parent === undefined
            ? Checkpoint.create({ key, step: 0, state })
            : Checkpoint.create({ key, step: n, state, parentId: parent.id });
        await checkpointer.put(checkpoint);
        if (parent === undefined) firstIds.set(thread, checkpoint.id);
        parent = checkpoint;
      }
    }
    await checkpointer.put(
      Checkpoint.create({ key: ThreadKey.of(tenant, 't5'), ns: 'sub', step: 0, state: 'sub' }),
    );
    const other = Checkpoint.create({ key: ThreadKey.of(otherTenant, 't0'), step: 0, state: 'B' });
    await checkpointer.put(other);
    otherId = other.id;
    // Namespace (docs, ti) holds key k with value i; the other tenant's (docs, t0) holds 'B'.
    const store = bundle.persistence.store();
    for (const [i, thread] of THREADS.entries()) {
      await store.put(Namespace.of(tenant, 'docs', thread), 'k', i);
    }
    await store.put(Namespace.of(otherTenant, 'docs', 't0'), 'k', 'B');
    // Thread ti's log holds events 'ti:1' ... 'ti:(i % 4 + 2)'; the other tenant's t0 'B:1'.
    const log = bundle.persistence.sessionLog();
    for (const [i, thread] of THREADS.entries()) {
      const events = Array.from({ length: (i % 4) + 2 }, (_, n) => `${thread}:${n + 1}`);
      await log.append(ThreadKey.of(tenant, thread), events);
    }
    await log.append(ThreadKey.of(otherTenant, 't0'), ['B:1']);
  });

  afterAll(async () => {
    await bundle?.close();
  });

  beforeEach(() => {
    sent.length = 0;
    answer = undefined;
  });

  /** What was sent: the gathered statement as [statement, its number of reads]. */
  const statements = () =>
    sent.map(({ text, params }) =>
      text === sql.latestOfEach || text === sql.getEach
        ? [text, (params[1] as unknown[]).length]
        : text === storeSql.getMany
          ? [text, JSON.parse(params[1] as string).length]
          : text === logSql.sinceOfEach || text === logSql.latestOfEach
            ? [text, (params[1] as unknown[]).length]
            : [text, 1],
    );

  const codeOf = async (read: Promise<unknown>) => {
    try {
      await read;
      return 'resolved';
    } catch (error) {
      if (EntelixError.isInstance(error)) return error.code;
      throw error;
    }
  };

  it(`getLatest calls issued together share statements of at most ${READS_PER_STATEMENT}, each answered for its own thread and tenant`, async () => {
    const checkpointer = bundle.persistence.checkpointer();
    const read = (tenantId: string, thread: string, ns?: string) =>
      checkpointer.getLatest(ThreadKey.of(tenantId, thread), ns === undefined ? {} : { ns });
    const found = await Promise.all([
      ...THREADS.map((thread) => read(tenant, thread)),
      read(tenant, 'missing'),
      read(tenant, 't5', 'sub'),
      read(otherTenant, 't0'),
    ]);
    expect(found.slice(0, 20).map((saved) => saved?.state)).toEqual(
      THREADS.map((_, i) => ({ thread: i, n: i % 3 })),
    );
    expect(found.slice(0, 20).map((saved) => saved?.step)).toEqual(THREADS.map((_, i) => i % 3));
    expect(found[20]).toBeUndefined();
    expect(found[21]?.state).toBe('sub');
    expect(found[21]?.ns).toBe('sub');
    expect(found[22]?.state).toBe('B');
    expect(found[22]?.key.tenantId).toBe(otherTenant);
    // 22 reads of one tenant: 8 + 8 + 6; the other tenant's single read goes as before.
    expect(statements()).toEqual([
      [sql.latestOfEach, 8],
      [sql.latestOfEach, 8],
      [sql.latestOfEach, 6],
      [sql.latest, 1],
    ]);
  });

  it('getById calls issued together share statements; an id of another thread or tenant finds nothing', async () => {
    const checkpointer = bundle.persistence.checkpointer();
    const first = (thread: string) => firstIds.get(thread) as CheckpointId;
    const found = await Promise.all([
      ...THREADS.map((thread) => checkpointer.getById(ThreadKey.of(tenant, thread), first(thread))),
      checkpointer.getById(ThreadKey.of(tenant, 't2'), first('t1')),
      checkpointer.getById(ThreadKey.of(tenant, 't0'), otherId),
      checkpointer.getById(ThreadKey.of(tenant, 't0'), first('t0'), { ns: 'sub' }),
    ]);
    expect(found.slice(0, 20).map((saved) => saved?.id)).toEqual(THREADS.map(first));
    expect(found.slice(0, 20).map((saved) => saved?.state)).toEqual(
      THREADS.map((_, i) => ({ thread: i, n: 0 })),
    );
    expect(found.slice(20)).toEqual([undefined, undefined, undefined]);
    expect(statements()).toEqual([
      [sql.getEach, 8],
      [sql.getEach, 8],
      [sql.getEach, 7],
    ]);
  });

  it('a read alone, or one after another, is the single statement it always was', async () => {
    const checkpointer = bundle.persistence.checkpointer();
    const key = ThreadKey.of(tenant, 't4');
    expect((await checkpointer.getLatest(key))?.state).toEqual({ thread: 4, n: 1 });
    expect((await checkpointer.getById(key, firstIds.get('t4') as CheckpointId))?.step).toBe(0);
    expect(statements()).toEqual([
      [sql.latest, 1],
      [sql.get, 1],
    ]);
  });

  it('a read with a signal has a statement of its own, which its abort alone may cancel', async () => {
    const checkpointer = bundle.persistence.checkpointer();
    const read = (thread: string, signal?: AbortSignal) =>
      checkpointer.getLatest(ThreadKey.of(tenant, thread), signal === undefined ? {} : { signal });
    const found = await Promise.all([
      read('t0'),
      read('t1', new AbortController().signal),
      read('t2'),
    ]);
    expect(found.map((saved) => saved?.state)).toEqual([
      { thread: 0, n: 0 },
      { thread: 1, n: 1 },
      { thread: 2, n: 2 },
    ]);
    expect(statements()).toHaveLength(2);
    expect(statements()).toEqual(
      expect.arrayContaining([
        [sql.latest, 1],
        [sql.latestOfEach, 2],
      ]),
    );
    expect(sent.find(({ text }) => text === sql.latestOfEach)?.params.slice(1)).toEqual([
      ['t0', 't2'],
      ['', ''],
    ]);
  });

  it('a statement that fails fails every read it carried with a typed error, and no other read', async () => {
    const checkpointer = bundle.persistence.checkpointer();
    answer = (statement, run) =>
      statement.text === sql.latestOfEach ? Promise.reject(new Error('connection lost')) : run();
    const outcomes = await Promise.all([
      ...['t0', 't1', 't2'].map((thread) =>
        codeOf(checkpointer.getLatest(ThreadKey.of(tenant, thread))),
      ),
      codeOf(checkpointer.getLatest(ThreadKey.of(otherTenant, 't0'))),
    ]);
    expect(outcomes).toEqual(['BACKEND', 'BACKEND', 'BACKEND', 'resolved']);
    answer = undefined;
    const again = await Promise.all(
      ['t0', 't1'].map((thread) => checkpointer.getLatest(ThreadKey.of(tenant, thread))),
    );
    expect(again.map((saved) => saved?.state)).toEqual([
      { thread: 0, n: 0 },
      { thread: 1, n: 1 },
    ]);
  });

  it('a corrupt row fails its own read only', async () => {
    const checkpointer = bundle.persistence.checkpointer();
    answer = async (statement, run) => {
      const result = await run();
      if (statement.text !== sql.latestOfEach) return result;
      const { rows } = result as { rows: Record<string, unknown>[] };
      return {
        ...result,
        rows: rows.map((row) => (row.cp_thread_id === 't3' ? { ...row, cp_step: 'three' } : row)),
      };
    };
    const outcomes = await Promise.all(
      ['t2', 't3', 't4'].map((thread) =>
        codeOf(checkpointer.getLatest(ThreadKey.of(tenant, thread))),
      ),
    );
    expect(outcomes).toEqual(['resolved', 'CORRUPT_RECORD', 'resolved']);
    expect(statements()).toEqual([[sql.latestOfEach, 3]]);
  });

  it(`store gets issued together share statements of at most ${READS_PER_STATEMENT}, each answered for its own namespace, key and tenant`, async () => {
    const store = bundle.persistence.store();
    const get = (tenantId: string, part: string, key = 'k') =>
      store.get(Namespace.of(tenantId, 'docs', part), key);
    const found = await Promise.all([
      ...THREADS.map((thread) => get(tenant, thread)),
      get(tenant, 't1', 'missing'),
      get(tenant, 'missing'),
      // The same item twice in one statement: both answered.
      get(tenant, 't7'),
      get(otherTenant, 't0'),
    ]);
    expect(found.slice(0, 20).map((item) => item?.value)).toEqual(THREADS.map((_, i) => i));
    expect(found.slice(0, 20).map((item) => item?.namespace.scope)).toEqual(
      THREADS.map((thread) => ['docs', thread]),
    );
    expect(found.slice(20, 22)).toEqual([undefined, undefined]);
    expect(found[22]?.value).toBe(7);
    expect(found[23]?.value).toBe('B');
    expect(found[23]?.namespace.tenantId).toBe(otherTenant);
    // 23 gets of one tenant: 8 + 8 + 7; the other tenant's single get goes as before.
    expect(statements()).toEqual([
      [storeSql.getMany, 8],
      [storeSql.getMany, 8],
      [storeSql.getMany, 7],
      [storeSql.get, 1],
    ]);
  });

  it('a store get alone, or with a signal, is the single statement it always was', async () => {
    const store = bundle.persistence.store();
    const ns = Namespace.of(tenant, 'docs', 't4');
    expect((await store.get(ns, 'k'))?.value).toBe(4);
    const found = await Promise.all([
      store.get(ns, 'k', { signal: new AbortController().signal }),
      store.get(Namespace.of(tenant, 'docs', 't5'), 'k'),
    ]);
    expect(found.map((item) => item?.value)).toEqual([4, 5]);
    expect(statements()).toEqual([
      [storeSql.get, 1],
      [storeSql.get, 1],
      [storeSql.get, 1],
    ]);
  });

  it('a failed or corrupt gathered store get fails its own reads only', async () => {
    const store = bundle.persistence.store();
    const get = (tenantId: string, part: string) =>
      codeOf(store.get(Namespace.of(tenantId, 'docs', part), 'k'));
    answer = (statement, run) =>
      statement.text === storeSql.getMany ? Promise.reject(new Error('connection lost')) : run();
    expect(
      await Promise.all([get(tenant, 't0'), get(tenant, 't1'), get(otherTenant, 't0')]),
    ).toEqual(['BACKEND', 'BACKEND', 'resolved']);
    answer = async (statement, run) => {
      const result = await run();
      if (statement.text !== storeSql.getMany) return result;
      const { rows } = result as { rows: Record<string, unknown>[] };
      // The second read's row as another tenant's: the kit refuses that row alone.
      return {
        ...result,
        rows: rows.map((row, i) => (i === 1 ? { ...row, item_tenant_id: otherTenant } : row)),
      };
    };
    expect(await Promise.all([get(tenant, 't2'), get(tenant, 't3'), get(tenant, 't4')])).toEqual([
      'resolved',
      'CORRUPT_RECORD',
      'resolved',
    ]);
  });

  it('event reads issued together share statements, each answered with its own thread and tenant, in order', async () => {
    const log = bundle.persistence.sessionLog<string>();
    const key = (thread: string, tenantId = tenant) => ThreadKey.of(tenantId, thread);
    const eventsOf = (i: number, from = 1, to = (i % 4) + 2) =>
      Array.from({ length: Math.max(0, to - from + 1) }, (_, n) => `t${i}:${from + n}`);
    const [latest, since] = await Promise.all([
      Promise.all([
        ...THREADS.map((thread) => log.loadLatest(key(thread), { limit: 2 })),
        log.loadLatest(key('missing'), { limit: 2 }),
        log.loadLatest(key('t0', otherTenant), { limit: 5 }),
      ]),
      Promise.all([
        log.loadSince(key('t3'), 1),
        log.loadSince(key('t3'), 2, { limit: 1 }),
        log.loadSince(key('t6'), 10),
        log.loadSince(key('t0', otherTenant), 0),
      ]),
    ]);
    expect(latest.slice(0, 20).map((events) => events.map((e) => e.event))).toEqual(
      THREADS.map((_, i) => eventsOf(i, (i % 4) + 1)),
    );
    expect(latest[3]?.map((e) => e.seq)).toEqual([4, 5]);
    expect(latest.slice(20).map((events) => events.map((e) => e.event))).toEqual([[], ['B:1']]);
    expect(since.map((events) => events.map((e) => e.event))).toEqual([
      eventsOf(3, 2),
      ['t3:3'],
      [],
      ['B:1'],
    ]);
    // 21 latest reads of one tenant: 8 + 8 + 5; 3 since reads: one statement; the other
    // tenant's reads alone, as before.
    expect(statements()).toEqual(
      expect.arrayContaining([
        [logSql.latestOfEach, 8],
        [logSql.latestOfEach, 8],
        [logSql.latestOfEach, 5],
        [logSql.latest, 1],
        [logSql.sinceOfEach, 3],
        [logSql.since, 1],
      ]),
    );
    expect(statements()).toHaveLength(6);
  });

  it('an event read alone, or with a signal, is the single statement it always was', async () => {
    const log = bundle.persistence.sessionLog<string>();
    const key = ThreadKey.of(tenant, 't1');
    expect((await log.loadLatest(key, { limit: 1 })).map((e) => e.event)).toEqual(['t1:3']);
    const [withSignal, alone] = await Promise.all([
      log.loadSince(key, 1, { signal: new AbortController().signal }),
      log.loadSince(ThreadKey.of(tenant, 't2'), 3),
    ]);
    expect(withSignal.map((e) => e.event)).toEqual(['t1:2', 't1:3']);
    expect(alone.map((e) => e.event)).toEqual(['t2:4']);
    expect(statements()).toEqual([
      [logSql.latest, 1],
      [logSql.since, 1],
      [logSql.since, 1],
    ]);
  });

  it('a failed or corrupt gathered event read fails its own reads only', async () => {
    const log = bundle.persistence.sessionLog<string>();
    const read = (thread: string, tenantId = tenant) =>
      codeOf(log.loadLatest(ThreadKey.of(tenantId, thread), { limit: 3 }));
    answer = (statement, run) =>
      statement.text === logSql.latestOfEach ? Promise.reject(new Error('connection lost')) : run();
    expect(await Promise.all([read('t0'), read('t1'), read('t0', otherTenant)])).toEqual([
      'BACKEND',
      'BACKEND',
      'resolved',
    ]);
    answer = async (statement, run) => {
      const result = await run();
      if (statement.text !== logSql.latestOfEach) return result;
      const { rows } = result as { rows: Record<string, unknown>[] };
      // An event of the second read as another tenant's: the kit refuses that read alone.
      return {
        ...result,
        rows: rows.map((row) =>
          Number(row.ord) === 2 ? { ...row, ev_tenant_id: otherTenant } : row,
        ),
      };
    };
    expect(await Promise.all([read('t2'), read('t3'), read('t4')])).toEqual([
      'resolved',
      'CORRUPT_RECORD',
      'resolved',
    ]);
  });
}
