import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as conformance from '@entelix/conformance';
import { describe, expect, it } from 'vitest';
import { MUTANTS } from './mutants.js';

const readme = readFileSync(join(import.meta.dirname, '../README.md'), 'utf8');

/** The ids in backticks of the first paragraph after `heading` that starts with `Tests:`. */
function listedTests(heading: string): string[] {
  const section = readme.slice(readme.indexOf(heading) + heading.length);
  const end = section.search(/\n##/);
  const paragraphs = (end < 0 ? section : section.slice(0, end)).split('\n\n');
  const tests = paragraphs.find((text) => text.startsWith('Tests:')) ?? '';
  return [...tests.matchAll(/`([^`]+)`/g)].map((match) => match[1] as string);
}

describe('the README is in step with the suite', () => {
  it('names every group with its export and lists its test ids in order', () => {
    for (const [id, group] of Object.entries(conformance.conformanceGroups)) {
      const exportName = Object.entries(conformance).find(([, value]) => value === group)?.[0];
      const heading = `### \`${id}\` (\`${exportName}\`)`;
      expect(readme, heading).toContain(heading);
      expect(listedTests(heading), id).toEqual(group.tests.map((test) => test.id));
    }
  });

  it('lists every planted bug with the tests that fail', () => {
    const rows = readme
      .split('\n')
      .filter((line) => /^\| `[a-z0-9-]+`\s+\|/.test(line))
      .map((line) => {
        const [flaw, bug, fails] = line
          .slice(1, -1)
          .split(' | ')
          .map((cell) => cell.trim());
        return [
          flaw?.slice(1, -1),
          { bug, mustFail: [...(fails ?? '').matchAll(/`([^`]+)`/g)].map((m) => m[1]) },
        ];
      });
    expect(Object.fromEntries(rows)).toEqual(
      Object.fromEntries(
        Object.entries(MUTANTS).map(([flaw, mutant]) => [
          flaw,
          { bug: mutant.bug, mustFail: [...mutant.mustFail] },
        ]),
      ),
    );
  });
});
