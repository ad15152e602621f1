import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { conformanceGroups } from '@entelix/conformance';
import { beforeAll, describe, expect, it } from 'vitest';
import { MUTANT_RUNS } from './mutants.js';

type JsonReport = {
  testResults: {
    name: string;
    status: string;
    message?: string;
    assertionResults: { ancestorTitles: string[]; title: string; status: string }[];
  }[];
};

// The mutants run in a child vitest so their (expected) failures do not fail this run.
function runMutants(): JsonReport {
  const vitestEntry = join(
    dirname(createRequire(import.meta.url).resolve('vitest/package.json')),
    'vitest.mjs',
  );
  const outputFile = join(mkdtempSync(join(tmpdir(), 'entelix-mutants-')), 'report.json');
  const child = spawnSync(
    process.execPath,
    [
      vitestEntry,
      'run',
      '--config',
      join(import.meta.dirname, 'fixtures/vitest.config.ts'),
      '--reporter=json',
      `--outputFile=${outputFile}`,
    ],
    { encoding: 'utf8', env: { ...process.env, REQUIRE_SERVICES: '' } },
  );
  if (child.error) throw child.error;
  return JSON.parse(readFileSync(outputFile, 'utf8')) as JsonReport;
}

const testIdOf = (title: string) => /^\[([^\]]+)\]/.exec(title)?.[1];

describe('the suite catches every planted bug, and only where it must', () => {
  let report: JsonReport = { testResults: [] };
  beforeAll(() => {
    report = runMutants();
  }, 120_000);

  it('every mutant file ran', () => {
    expect(report.testResults.length).toBeGreaterThan(0);
    for (const file of report.testResults) {
      expect(file.message ?? '', file.name).toBe('');
      expect(file.assertionResults.length, file.name).toBeGreaterThan(0);
    }
  });

  it.each(MUTANT_RUNS.map((run) => [run.label, run.mustFail.join(', '), run] as const))(
    '%s fails exactly %s',
    (_label, _ids, run) => {
      const results = report.testResults
        .flatMap((file) => file.assertionResults)
        .filter((result) => result.ancestorTitles[0] === run.label);
      const groupIds = new Set(run.mustFail.map((id) => id.split('/')[0]));
      const expectedCount = Object.values(conformanceGroups)
        .filter((group) => groupIds.has(group.id))
        .reduce((sum, group) => sum + group.tests.length, 0);
      expect(results).toHaveLength(expectedCount);
      const failed = results.filter((r) => r.status === 'failed').map((r) => testIdOf(r.title));
      expect(failed.sort()).toEqual([...run.mustFail].sort());
      const others = results.filter((r) => r.status !== 'failed').map((r) => r.status);
      expect(new Set(others)).toEqual(new Set(['passed']));
    },
  );
});
