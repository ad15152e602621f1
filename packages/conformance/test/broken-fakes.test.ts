import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BROKEN_FAKES } from './broken-fakes.js';

type JsonReport = {
  testResults: {
    assertionResults: { ancestorTitles: string[]; title: string; status: string }[];
  }[];
};

// The flawed fakes run in a child vitest so their (expected) failures do not fail this run.
function runBrokenFakes(): JsonReport {
  const vitestEntry = join(
    dirname(createRequire(import.meta.url).resolve('vitest/package.json')),
    'vitest.mjs',
  );
  const outputFile = join(mkdtempSync(join(tmpdir(), 'entelix-broken-')), 'report.json');
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

describe('the suite catches broken backends', () => {
  let results: JsonReport['testResults'][number]['assertionResults'] = [];
  beforeAll(() => {
    results = runBrokenFakes().testResults.flatMap((file) => file.assertionResults);
  }, 120_000);

  it.each(BROKEN_FAKES.map((entry) => [entry.flaw, entry.mustFail.join(', '), entry] as const))(
    'a fake that %s fails %s',
    (_flaw, _ids, entry) => {
      const ofFlaw = results.filter((r) => r.ancestorTitles.includes(`flaw ${entry.flaw}`));
      expect(ofFlaw.length).toBeGreaterThan(0);
      for (const id of entry.mustFail) {
        const test = ofFlaw.find((r) => r.title.startsWith(`[${id}]`));
        expect(test, id).toBeDefined();
        expect(test?.status, id).toBe('failed');
      }
    },
  );
});
