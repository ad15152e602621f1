import {
  ConformanceReport,
  type ConformanceTarget,
  conformanceGroups,
  conformanceTestIds,
  runConformance,
  storeTests,
} from '@entelix/conformance';
import { describe, expect, it } from 'vitest';
import { skipProblems, testContext } from '../src/fixtures.js';
import { createFakePersistence, createFakeStorage } from './fake.js';

const target = (fields: Partial<ConformanceTarget>): ConformanceTarget => ({
  name: 'checked target',
  create: () => createFakePersistence(createFakeStorage()),
  ...fields,
});

/** What `fn` threw, or `undefined`. */
function thrown(fn: () => void): unknown {
  try {
    fn();
    return undefined;
  } catch (error) {
    return error;
  }
}

describe('the suite as a product', () => {
  it('names every group by its own kebab-case id, and every test once', () => {
    for (const [id, group] of Object.entries(conformanceGroups)) {
      expect(group.id).toBe(id);
      expect(id).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
      for (const test of group.tests) expect(test.id).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
    }
    expect(new Set(conformanceTestIds).size).toBe(conformanceTestIds.length);
    expect(conformanceTestIds).toContain('session-log/append-load');
    expect(conformanceTestIds).toContain('hostile-input/bad-ids-table');
  });

  it('refuses a skip that names no test or gives no reason, before registering anything', () => {
    for (const skip of [
      { 'store/ttl-expiri': 'slow clock' },
      { 'sessionLog/append-load': 'the old group id' },
      { 'store/ttl-expiry': ' ' },
      { 'extra/mine': 'no such extra test' },
      [],
    ]) {
      expect(
        thrown(() => runConformance(target({ skip: skip as never }))),
        JSON.stringify(skip),
      ).toMatchObject({
        code: 'CONFIG',
      });
    }
  });

  it('suggests the id a wrong skip meant: a typo, or a group id from before kebab-case', () => {
    expect(
      skipProblems(
        {
          'store/ttl-expiri': 'slow clock',
          'sessionLog/append-load': 'x',
          'hostileInput/bad-ids-table': 'x',
          'nothing/like-this-at-all': 'x',
          'store/ttl-expiry': '',
          'lock/exclusion': 'fine',
        },
        conformanceTestIds,
      ),
    ).toEqual([
      { id: 'store/ttl-expiri', problem: 'names no test', suggestion: 'store/ttl-expiry' },
      {
        id: 'sessionLog/append-load',
        problem: 'names no test',
        suggestion: 'session-log/append-load',
      },
      {
        id: 'hostileInput/bad-ids-table',
        problem: 'names no test',
        suggestion: 'hostile-input/bad-ids-table',
      },
      { id: 'nothing/like-this-at-all', problem: 'names no test' },
      { id: 'store/ttl-expiry', problem: 'gives no reason' },
    ]);
    expect(
      skipProblems({ 'lock/nope': 'x', 'store/nope': 'x' }, conformanceTestIds, 'store'),
    ).toEqual([{ id: 'store/nope', problem: 'names no test' }]);
  });

  it('a group run alone checks the skips of its own group', () => {
    expect(
      thrown(() => storeTests(target({ skip: { 'store/nope': 'x' } as never }))),
    ).toMatchObject({ code: 'CONFIG' });
  });

  it('refuses extra tests whose ids are not kebab-case or are declared twice', () => {
    const run = async () => {};
    expect(
      thrown(() =>
        runConformance(target({ extraTests: ({ test }) => [test('myCheck', 't', run)] })),
      ),
    ).toMatchObject({ code: 'CONFIG' });
    expect(
      thrown(() =>
        runConformance(
          target({
            extraTests: ({ test }) => {
              test('same', 't', run);
              test('same', 't', run);
            },
          }),
        ),
      ),
    ).toMatchObject({ code: 'CONFIG' });
  });

  it('renders the report: counts per group, then every skip, failure and reads-only test', () => {
    const report = new ConformanceReport('sample');
    report.addGroup('store');
    report.addGroup('lock');
    report.addGroup('purge');
    report.record('store', { id: 'store/put-get', state: 'passed' });
    report.record('store', { id: 'store/ttl-expiry', state: 'skipped', reason: 'slow clock' });
    report.record('lock', { id: 'lock/exclusion', state: 'failed' });
    report.record('lock', {
      id: 'lock/extend',
      state: 'passed',
      readsOnly: 'no snapshot',
    });
    expect(report.render()).toBe(
      [
        'conformance report: sample',
        '  store                  passed   passed 1, failed 0, skipped 1',
        '      skipped store/ttl-expiry: slow clock',
        '  lock                   FAILED   passed 1, failed 1, skipped 0, 1 through reads only',
        '      failed  lock/exclusion',
        '      reads only lock/extend: no snapshot',
        '  purge                  not run  passed 0, failed 0, skipped 0',
      ].join('\n'),
    );
  });
  it('compares storage by snapshot and reads, and notes when it had reads only', async () => {
    const persistence = createFakePersistence(createFakeStorage());
    const shared = {
      a: persistence,
      b: persistence,
      capabilities: persistence.capabilities,
      ms: (milliseconds: number) => milliseconds,
      skips: () => false,
    };
    let dump = 'before';
    let view = ['row'];
    const notes: string[] = [];
    const withSnapshot = testContext({ ...shared, snapshot: async () => dump }, (n) =>
      notes.push(n),
    );
    const bySnapshot = await withSnapshot.captureStorage(async () => view);
    await bySnapshot.expectUnchanged();
    dump = 'after';
    await expect(bySnapshot.expectUnchanged()).rejects.toThrow();
    expect(notes).toEqual([]);

    const readsOnly = testContext({ ...shared, snapshot: undefined }, (n) => notes.push(n));
    const byReads = await readsOnly.captureStorage(async () => view);
    await byReads.expectUnchanged();
    view = ['row', 'stray row'];
    await expect(byReads.expectUnchanged()).rejects.toThrow();
    expect(notes).toHaveLength(1);
  });
});
