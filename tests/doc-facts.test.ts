import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MUTANTS } from '../packages/conformance/test/mutants.js';
import { LATEST_SCHEMA_VERSION, MIGRATIONS } from '../packages/postgres/src/migrations/index.js';

const root = join(import.meta.dirname, '..');
const read = (file: string) => readFileSync(join(root, file), 'utf8');
const lineCount = (file: string) => read(file).split('\n').length - 1;

/** Counts and lists the docs state about the repository, kept in step with it. */
describe('facts the docs state', () => {
  it("the custom adapter's README gives each file's length as it is", () => {
    const readme = read('examples/custom-adapter/README.md');
    const rows = [
      ...readme.matchAll(/^\| `((?:src|test)\/[\w.-]+)` +\|[^|]+\| +(\d+) \| +(\d+) \|$/gm),
    ];
    expect(rows.length).toBeGreaterThan(5);
    for (const [, file, , after] of rows) {
      expect(Number(after), file).toBe(lineCount(join('examples/custom-adapter', file as string)));
    }
    const sources = rows.filter(([, file]) => file?.startsWith('src/'));
    const sum = (column: 2 | 3) => sources.reduce((total, row) => total + Number(row[column]), 0);
    expect(readme).toContain(`The sources went from ${sum(2)} to ${sum(3)} lines.`);
  });

  it('the reliability guide counts the flaws the conformance self-test plants', () => {
    const count = /(\d+) flaws planted one at a time/.exec(read('docs/reliability.md'))?.[1];
    expect(Number(count)).toBe(Object.keys(MUTANTS).length);
  });

  it('the Postgres README lists every migration, and the deploying guide every upgrade', () => {
    const readme = read('packages/postgres/README.md');
    const section = readme.slice(readme.indexOf('### Migrations'), readme.indexOf('## Aborts'));
    const listed = [...section.matchAll(/^(\d+)\. `([^`]+)`:/gm)].map(([, n, name]) => [
      Number(n),
      name,
    ]);
    expect(listed).toEqual(MIGRATIONS.map(({ version, name }) => [version, name]));
    const guide = read('docs/deploying-postgres.md');
    expect(guide).toMatch(/0\.1\.0, which ships version\s+6\)/);
    // An upgrade paragraph from every version before the latest.
    const upgrades = [...guide.matchAll(/^Upgrading from schema version (\d+)/gm)].map(([, n]) =>
      Number(n),
    );
    expect(upgrades).toEqual(Array.from({ length: LATEST_SCHEMA_VERSION - 1 }, (_, i) => i + 1));
  });
});
