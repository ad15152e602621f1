import {
  type Capabilities,
  type Checkpoint,
  Checkpoint as CheckpointHelpers,
  ConfigError,
  type ErrorCode,
  type JsonObject,
  Namespace,
  type Persistence,
  ThreadKey,
} from '@entelix/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConformanceTarget } from './target.js';

/** How one test ended, as the report counts it. */
interface Outcome {
  readonly id: string;
  readonly state: 'passed' | 'failed' | 'skipped';
  /** Why it was skipped. */
  readonly reason?: string;
  /** Set when the test passed but could check storage only through reads. */
  readonly readsOnly?: string;
}

/** Collects outcomes per group and prints one summary when the suite ends. */
export class ConformanceReport {
  readonly #groups = new Map<string, Outcome[]>();

  constructor(readonly targetName: string) {}

  /** Give a group its line, in registration order, before any of its tests ends. */
  addGroup(group: string): void {
    if (!this.#groups.has(group)) this.#groups.set(group, []);
  }

  record(group: string, outcome: Outcome): void {
    this.addGroup(group);
    this.#groups.get(group)?.push(outcome);
  }

  /**
   * The report's text: one line per group, then one line per test that did not simply
   * pass (skipped with its reason, failed, or checked through reads only).
   */
  render(): string {
    const lines = [`conformance report: ${this.targetName}`];
    for (const [group, outcomes] of this.#groups) {
      const count = (state: Outcome['state']) => outcomes.filter((o) => o.state === state).length;
      const readsOnly = outcomes.filter((o) => o.readsOnly !== undefined).length;
      const status =
        count('failed') > 0
          ? 'FAILED'
          : count('passed') > 0
            ? 'passed'
            : count('skipped') > 0
              ? 'skipped'
              : 'not run';
      const limited = readsOnly > 0 ? `, ${readsOnly} through reads only` : '';
      lines.push(
        `  ${group.padEnd(22)} ${status.padEnd(8)} passed ${count('passed')}, failed ${count('failed')}, skipped ${count('skipped')}${limited}`,
      );
      for (const outcome of outcomes) {
        if (outcome.state === 'skipped')
          lines.push(`      skipped ${outcome.id}: ${outcome.reason}`);
        if (outcome.state === 'failed') lines.push(`      failed  ${outcome.id}`);
        if (outcome.state === 'passed' && outcome.readsOnly !== undefined) {
          lines.push(`      reads only ${outcome.id}: ${outcome.readsOnly}`);
        }
      }
    }
    return lines.join('\n');
  }
}

/** Storage captured before calls that must change nothing; see {@link SuiteContext.captureStorage}. */
export interface StorageCapture {
  /** Assert storage is as captured: byte for byte when the target has a snapshot, and through the reads. */
  expectUnchanged(message?: string): Promise<void>;
}

/** What every test gets: two bundles over the same storage and helpers. */
export interface SuiteContext {
  /** The first bundle. */
  readonly a: Persistence;
  /** A second bundle over the same storage (another process, or another handle). */
  readonly b: Persistence;
  /** The capabilities both bundles promise, after the target's overrides. */
  readonly capabilities: Capabilities;
  /** Milliseconds scaled by the target's `timeScale`. */
  ms(milliseconds: number): number;
  /** The target's storage snapshot, when it offers one. */
  readonly snapshot: (() => Promise<string>) | undefined;
  /**
   * Whether the target skips the test `testId` (`<group>/<id>`): a test that also
   * exercises a promise another test checks leaves that step out where the target
   * declared it does not keep it, instead of being skipped whole.
   */
  skips(testId: string): boolean;
  /**
   * Capture storage before calls that must change nothing. `reads` returns what the
   * API shows of the data those calls could touch; `expectUnchanged` compares it, and
   * the target's snapshot byte for byte when there is one. Without a snapshot the test
   * is reported as checked through reads only, since a write the API cannot see (an
   * orphan row, a stray key) would go unnoticed.
   */
  captureStorage(reads: () => Promise<unknown>): Promise<StorageCapture>;
}

/** Options of one conformance test. */
export interface TestOptions {
  /** Skip (with this capability named as the reason) when the backend lacks it. */
  needs?: keyof Capabilities;
  /** Per-test timeout in milliseconds, before scaling. */
  timeoutMs?: number;
}

/** One test of a group: data until a group registers it with vitest. */
export interface ConformanceTest<Id extends string = string> {
  /** Kebab-case, unique in its group; the full id is `<group>/<id>`. */
  readonly id: Id;
  readonly title: string;
  readonly run: (ctx: SuiteContext) => Promise<void>;
  readonly options: TestOptions;
}

/** What a group's body (or a target's `extraTests`) declares its tests with. */
export interface GroupApi {
  /** Declare a test; its title in vitest starts with `[<group>/<id>]`. */
  test<const Id extends string>(
    id: Id,
    title: string,
    run: (ctx: SuiteContext) => Promise<void>,
    options?: TestOptions,
  ): ConformanceTest<Id>;
}

/**
 * A conformance group: call it inside a vitest file, alone or through `runConformance`.
 * It also names its tests, so skips can be checked before anything runs.
 */
export interface ConformanceGroup<G extends string = string, Id extends string = string> {
  (target: ConformanceTarget, report?: ConformanceReport): void;
  /** The group id: kebab-case, the first part of every test id. */
  readonly id: G;
  readonly tests: readonly ConformanceTest<Id>[];
  /** The full id (`<group>/<test>`) of every test, in order. */
  readonly testIds: readonly `${G}/${Id}`[];
}

const KEBAB_CASE = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/**
 * Collect the tests a body declares. Ids must be kebab-case and unique: they become
 * skip keys and report lines, so a typo or a clash must fail at once.
 */
export function collectTests(groupId: string, body: (api: GroupApi) => unknown): ConformanceTest[] {
  if (!KEBAB_CASE.test(groupId)) {
    throw new ConfigError(`conformance group id ${JSON.stringify(groupId)} is not kebab-case`, {
      backend: 'conformance',
    });
  }
  const tests: ConformanceTest[] = [];
  const api: GroupApi = {
    test(id, title, run, options = {}) {
      if (typeof id !== 'string' || !KEBAB_CASE.test(id)) {
        throw new ConfigError(`test id ${JSON.stringify(id)} of ${groupId} is not kebab-case`, {
          backend: 'conformance',
        });
      }
      if (tests.some((test) => test.id === id)) {
        throw new ConfigError(`test id ${groupId}/${id} is declared twice`, {
          backend: 'conformance',
        });
      }
      if (typeof run !== 'function') {
        throw new ConfigError(`test ${groupId}/${id} has no body`, { backend: 'conformance' });
      }
      const test = { id, title, run, options };
      tests.push(test);
      return test;
    },
  };
  const returned = body(api);
  if (
    Array.isArray(returned) &&
    (returned.length !== tests.length || returned.some((test, i) => test !== tests[i]))
  ) {
    throw new ConfigError(`${groupId} returned tests it did not declare through test()`, {
      backend: 'conformance',
    });
  }
  return tests;
}

/** A `skip` entry that cannot stand, and the known test id it most likely meant. */
export interface SkipProblem {
  readonly id: string;
  readonly problem: 'names no test' | 'gives no reason';
  readonly suggestion?: string;
}

/**
 * The `skip` entries that name no test among `testIds` or give no reason. With
 * `onlyGroup`, a group run alone, only that group's entries are looked at: the others
 * skip nothing in this run, and `runConformance` checks them all.
 */
export function skipProblems(
  skip: Readonly<Record<string, unknown>>,
  testIds: readonly string[],
  onlyGroup?: string,
): SkipProblem[] {
  const known = new Set(testIds);
  const problems: SkipProblem[] = [];
  for (const [id, reason] of Object.entries(skip)) {
    if (onlyGroup !== undefined && !id.startsWith(`${onlyGroup}/`)) continue;
    if (!known.has(id)) {
      const suggestion = closestId(id, testIds);
      problems.push({
        id,
        problem: 'names no test',
        ...(suggestion === undefined ? {} : { suggestion }),
      });
    } else if (typeof reason !== 'string' || reason.trim() === '') {
      problems.push({ id, problem: 'gives no reason' });
    }
  }
  return problems;
}

/**
 * Check a target's `skip` entries (see {@link skipProblems}).
 *
 * @throws ConfigError naming every entry that skips nothing or gives no reason
 */
export function checkSkips(skip: unknown, testIds: readonly string[], onlyGroup?: string): void {
  if (skip === undefined) return;
  if (typeof skip !== 'object' || skip === null || Array.isArray(skip)) {
    throw new ConfigError('skip must be an object of test id to reason', {
      backend: 'conformance',
    });
  }
  const problems = skipProblems(skip as Record<string, unknown>, testIds, onlyGroup);
  if (problems.length === 0) return;
  const described = problems.map(
    ({ id, problem, suggestion }) =>
      `${JSON.stringify(id)} ${problem}${suggestion === undefined ? '' : ` (did you mean ${JSON.stringify(suggestion)}?)`}`,
  );
  throw new ConfigError(`conformance skip entries are wrong: ${described.join('; ')}`, {
    backend: 'conformance',
  });
}

// The known id most like `id`: the same letters in another case style
// (`sessionLog/x` for `session-log/x`), else the closest by edits.
function closestId(id: string, testIds: readonly string[]): string | undefined {
  const normalize = (value: string) => value.replace(/[-_]/g, '').toLowerCase();
  const sameTest = testIds.find((known) => normalize(known) === normalize(id));
  if (sameTest !== undefined) return sameTest;
  let best: string | undefined;
  let bestDistance = Math.max(3, Math.floor(id.length / 4)) + 1;
  for (const known of testIds) {
    const distance = editDistance(id, known);
    if (distance < bestDistance) {
      best = known;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(
        Math.min(substitution, (previous[j] as number) + 1, (current[j - 1] as number) + 1),
      );
    }
    previous = current;
  }
  return previous[b.length] as number;
}

/**
 * Define a group of tests. `body` declares them with `test(...)` and returns them, so
 * their ids are known (and typed) before vitest runs anything. Registered, the group
 * opens two bundles in `beforeAll`, closes them in `afterAll`, and records each outcome
 * in the report (its own when run alone).
 */
export function defineGroup<const G extends string, const Id extends string>(
  groupId: G,
  body: (api: GroupApi) => readonly ConformanceTest<Id>[],
): ConformanceGroup<G, Id> {
  const tests = collectTests(groupId, body) as ConformanceTest<Id>[];
  const testIds = tests.map((test) => `${groupId}/${test.id}` as `${G}/${Id}`);
  const group = (target: ConformanceTarget, sharedReport?: ConformanceReport) => {
    if (sharedReport === undefined) checkSkips(target.skip, testIds, groupId);
    registerTests(groupId, tests, target, sharedReport);
  };
  return Object.assign(group, {
    id: groupId,
    tests: Object.freeze(tests),
    testIds: Object.freeze(testIds),
  });
}

/**
 * Register tests under a `describe` of their group: two bundles per group, opened in
 * `beforeAll`, closed in `afterAll`, every outcome recorded in the report.
 */
export function registerTests(
  groupId: string,
  tests: readonly ConformanceTest[],
  target: ConformanceTarget,
  sharedReport: ConformanceReport | undefined,
): void {
  const report = sharedReport ?? new ConformanceReport(target.name);
  report.addGroup(groupId);
  describe(groupId, () => {
    let shared: Omit<SuiteContext, 'captureStorage'> | undefined;
    const opened: Persistence[] = [];
    const scale = target.timeScale ?? 1;

    beforeAll(async () => {
      const a = await target.create();
      opened.push(a);
      const b = await target.create();
      opened.push(b);
      const snapshot = target.snapshot?.bind(target);
      shared = {
        a,
        b,
        capabilities: mergeCapabilities(a.capabilities, target.capabilities),
        ms: (milliseconds) => Math.round(milliseconds * scale),
        snapshot,
        skips: (testId) =>
          (target.skip as Readonly<Record<string, string>> | undefined)?.[testId] !== undefined,
      };
    });

    afterAll(async () => {
      for (const persistence of opened.splice(0)) {
        await (target.destroy ? target.destroy(persistence) : persistence.close());
      }
      if (sharedReport === undefined) console.log(report.render());
    });

    for (const test of tests) {
      const fullId = `${groupId}/${test.id}`;
      const fullTitle = `[${fullId}] ${test.title}`;
      const explicitSkip = (target.skip as Readonly<Record<string, string>> | undefined)?.[fullId];
      if (explicitSkip !== undefined) {
        report.record(groupId, { id: fullId, state: 'skipped', reason: explicitSkip });
        it.skip(`${fullTitle} (skipped: ${explicitSkip})`, () => {});
        continue;
      }
      it(
        fullTitle,
        async (task) => {
          if (shared === undefined) throw new Error('the target could not be opened');
          const { needs } = test.options;
          if (needs !== undefined && !shared.capabilities[needs]) {
            const reason = `backend lacks capability ${needs}`;
            report.record(groupId, { id: fullId, state: 'skipped', reason });
            task.skip(reason);
            return;
          }
          let readsOnly: string | undefined;
          const ctx = testContext(shared, (reason) => {
            readsOnly = reason;
          });
          try {
            await test.run(ctx);
            report.record(groupId, {
              id: fullId,
              state: 'passed',
              ...(readsOnly === undefined ? {} : { readsOnly }),
            });
          } catch (error) {
            report.record(groupId, { id: fullId, state: 'failed' });
            throw error;
          }
        },
        Math.round((test.options.timeoutMs ?? 10_000) * scale),
      );
    }
  });
}

/**
 * One test's context over its group's bundles. `captureStorage` calls `noteReadsOnly`
 * when the target has no snapshot, so the report can say the test checked less.
 */
export function testContext(
  shared: Omit<SuiteContext, 'captureStorage'>,
  noteReadsOnly: (reason: string) => void,
): SuiteContext {
  return {
    ...shared,
    async captureStorage(reads) {
      const { snapshot } = shared;
      if (snapshot === undefined) {
        noteReadsOnly('no snapshot(), storage compared through reads only');
      }
      const snapshotBefore = await snapshot?.();
      const readsBefore = await reads();
      return {
        async expectUnchanged(message = 'storage') {
          if (snapshot !== undefined) {
            expect(await snapshot(), `${message}: snapshot`).toBe(snapshotBefore);
          }
          expect(await reads(), `${message}: reads`).toEqual(readsBefore);
        },
      };
    },
  };
}

function mergeCapabilities(
  reported: Capabilities,
  override: Partial<Capabilities> | undefined,
): Capabilities {
  // An override may only take a promise back, never add one.
  const merged = { ...reported };
  for (const name of Object.keys(merged) as (keyof Capabilities)[]) {
    if (override?.[name] === false) merged[name] = false;
  }
  return merged;
}

/**
 * Everything the API shows of one tenant: its listed threads (and `threadIds`) with
 * every checkpoint, pending write, event and head, and its store items with values.
 * What refused calls are checked against when the target has no snapshot.
 */
export async function tenantView(
  p: Persistence,
  tenantId: string,
  threadIds: readonly string[] = [],
): Promise<unknown> {
  const checkpointer = p.checkpointer();
  const log = p.sessionLog();
  const checkpointThreads = await checkpointer.listThreads(tenantId, { limit: 1_000 });
  const logThreads = await log.listThreads(tenantId, { limit: 1_000 });
  const threads = byCodePoint([...new Set([...checkpointThreads, ...logThreads, ...threadIds])]);
  const perThread = [];
  for (const threadId of threads) {
    const key = ThreadKey.of(tenantId, threadId);
    perThread.push({
      threadId,
      checkpoints: await checkpointer.listHistory(key, { limit: 1_000 }),
      head: await log.head(key),
      events: await log.loadSince(key, 0),
    });
  }
  const items = await p.store().search(tenantId, { limit: 1_000 });
  return {
    checkpointThreads,
    logThreads,
    perThread,
    namespaces: (await p.store().listNamespaces(tenantId)).map((ns) => ns.render()),
    items: items.map((item) => ({
      namespace: item.namespace.render(),
      key: item.key,
      value: item.value,
      createdAt: item.createdAt,
      updatedAt: item.updatedAt,
      expiresAt: item.expiresAt,
    })),
  };
}

/** A fresh id with a readable label, so one shared database serves many runs. */
export function freshId(label = 'id'): string {
  return `${label}-${crypto.randomUUID()}`;
}

/** A thread key in a fresh tenant. */
export function freshKey(tenantId = freshId('tenant')): ThreadKey {
  return ThreadKey.of(tenantId, freshId('thread'));
}

/** A namespace in a fresh tenant (or the given one). */
export function freshNamespace(tenantId = freshId('tenant'), ...scope: string[]): Namespace {
  return Namespace.of(tenantId, ...(scope.length > 0 ? scope : [freshId('scope')]));
}

/** A checkpoint for tests. */
export function makeCheckpoint<S>(
  key: ThreadKey,
  state: S,
  fields: {
    step?: number;
    nextNode?: string | null;
    parentId?: string | null;
    ns?: string;
    metadata?: JsonObject;
    id?: string;
  } = {},
): Checkpoint<S> {
  return CheckpointHelpers.create({
    key,
    state,
    step: fields.step ?? 0,
    nextNode: fields.nextNode ?? null,
    parentId: fields.parentId ?? null,
    ...(fields.ns === undefined ? {} : { ns: fields.ns }),
    ...(fields.metadata === undefined ? {} : { metadata: fields.metadata }),
    ...(fields.id === undefined ? {} : { id: fields.id }),
  });
}

/** Assert a promise rejects with an Entelix error of the given code. */
export async function expectCode(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  await expect(promise).rejects.toMatchObject({ code });
}

/** Settle a call: `undefined` when it resolved, else what it threw. */
export async function settle(call: () => Promise<unknown>): Promise<unknown> {
  try {
    await call();
    return undefined;
  } catch (error) {
    return error;
  }
}

/** Wait, for TTL and lease expiry tests. */
export function sleep(milliseconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, milliseconds));
}

/** Sort strings by Unicode code point, as every backend must. */
export function byCodePoint(values: readonly string[]): string[] {
  const encoder = new TextEncoder();
  return [...values].sort((x, y) => Buffer.compare(encoder.encode(x), encoder.encode(y)));
}
