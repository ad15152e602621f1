import {
  type Capabilities,
  type Checkpoint,
  Checkpoint as CheckpointHelpers,
  type ErrorCode,
  type JsonObject,
  Namespace,
  type Persistence,
  ThreadKey,
} from '@entelix/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConformanceTarget } from './target.js';

/** One test's outcome, as the report counts it. */
type Outcome = { id: string; state: 'passed' | 'failed' | 'skipped'; reason?: string };

/** Collects outcomes per group and prints one summary when the suite ends. */
export class ConformanceReport {
  readonly #outcomes = new Map<string, Outcome[]>();

  constructor(readonly targetName: string) {}

  record(group: string, outcome: Outcome): void {
    const list = this.#outcomes.get(group) ?? [];
    list.push(outcome);
    this.#outcomes.set(group, list);
  }

  /** The report's text: one line per group, then one line per skip with its reason. */
  render(): string {
    const lines = [`conformance report: ${this.targetName}`];
    for (const [group, outcomes] of this.#outcomes) {
      const count = (state: Outcome['state']) => outcomes.filter((o) => o.state === state).length;
      const status = count('failed') > 0 ? 'FAILED' : count('passed') > 0 ? 'passed' : 'skipped';
      lines.push(
        `  ${group.padEnd(22)} ${status.padEnd(8)} passed ${count('passed')}, failed ${count('failed')}, skipped ${count('skipped')}`,
      );
      for (const outcome of outcomes) {
        if (outcome.state === 'skipped')
          lines.push(`      skipped ${outcome.id}: ${outcome.reason}`);
        if (outcome.state === 'failed') lines.push(`      failed  ${outcome.id}`);
      }
    }
    return lines.join('\n');
  }
}

/** What every test gets: two bundles over the same storage and fresh-id helpers. */
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
  snapshot?: () => Promise<string>;
}

/** Options of one conformance test. */
interface CaseOptions {
  /** Skip (with this capability named as the reason) when the backend lacks it. */
  needs?: keyof Capabilities;
  /** Per-test timeout in milliseconds, before scaling. */
  timeoutMs?: number;
}

/** Declares the tests of one group; returned by {@link defineGroup}. */
export interface GroupApi {
  /** Register a test whose title starts with `[group/id]`. */
  test(
    id: string,
    title: string,
    body: (ctx: SuiteContext) => Promise<void>,
    options?: CaseOptions,
  ): void;
}

/** A conformance group: call it inside a vitest file, alone or through `runConformance`. */
export type ConformanceGroup = (target: ConformanceTarget, report?: ConformanceReport) => void;

/**
 * Define a group of tests. The group opens two bundles in `beforeAll`, closes them in
 * `afterAll`, and records each outcome in the report (its own when run alone).
 */
export function defineGroup(name: string, body: (api: GroupApi) => void): ConformanceGroup {
  return (target, sharedReport) => {
    const report = sharedReport ?? new ConformanceReport(target.name);
    describe(name, () => {
      let context: SuiteContext | undefined;
      const opened: Persistence[] = [];
      const scale = target.timeScale ?? 1;

      beforeAll(async () => {
        const a = await target.create();
        opened.push(a);
        const b = await target.create();
        opened.push(b);
        context = {
          a,
          b,
          capabilities: mergeCapabilities(a.capabilities, target.capabilities),
          ms: (milliseconds) => Math.round(milliseconds * scale),
          ...(target.snapshot
            ? { snapshot: () => (target.snapshot as () => Promise<string>)() }
            : {}),
        };
      });

      afterAll(async () => {
        for (const persistence of opened.splice(0)) {
          await (target.destroy ? target.destroy(persistence) : persistence.close());
        }
        if (sharedReport === undefined) console.log(report.render());
      });

      body({
        test(id, title, run, options = {}) {
          const fullId = `${name}/${id}`;
          const fullTitle = `[${fullId}] ${title}`;
          const explicitSkip = target.skip?.[fullId];
          if (explicitSkip !== undefined) {
            report.record(name, { id: fullId, state: 'skipped', reason: explicitSkip });
            it.skip(`${fullTitle} (skipped: ${explicitSkip})`, () => {});
            return;
          }
          it(
            fullTitle,
            async (task) => {
              if (context === undefined) throw new Error('the target could not be opened');
              if (options.needs !== undefined && !context.capabilities[options.needs]) {
                const reason = `backend lacks capability ${options.needs}`;
                report.record(name, { id: fullId, state: 'skipped', reason });
                task.skip(reason);
                return;
              }
              try {
                await run(context);
                report.record(name, { id: fullId, state: 'passed' });
              } catch (error) {
                report.record(name, { id: fullId, state: 'failed' });
                throw error;
              }
            },
            Math.round((options.timeoutMs ?? 10_000) * scale),
          );
        },
      });
    });
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

/** Wait, for TTL and lease expiry tests. */
export function sleep(milliseconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, milliseconds));
}

/** Sort strings by Unicode code point, as every backend must. */
export function byCodePoint(values: readonly string[]): string[] {
  const encoder = new TextEncoder();
  return [...values].sort((x, y) => Buffer.compare(encoder.encode(x), encoder.encode(y)));
}
