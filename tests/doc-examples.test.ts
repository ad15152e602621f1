import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');

/** Every README and guide: their ```ts blocks must type-check against the built packages. */
const documents = [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((file) => file.endsWith('.md'))
    .map((file) => join('docs', file)),
  ...readdirSync(join(root, 'packages')).map((pkg) => join('packages', pkg, 'README.md')),
  ...readdirSync(join(root, 'examples')).map((example) => join('examples', example, 'README.md')),
].filter((file) => existsSync(join(root, file)));

/** Modules the AI SDK guide shows in full; its tests import them from here. */
const recipeDir = join(root, 'tests', 'ai-sdk');

/** The ```ts blocks of a markdown file. */
function typescriptBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((match) => match[1] as string);
}

/** A block whose first line is `// <name>.ts` is that file, so later blocks can import it. */
function namedFile(code: string): string | undefined {
  return /^\/\/ ([\w-]+\.ts)\n/.exec(code)?.[1];
}

describe('README and guide examples', () => {
  it('every README has TypeScript examples', () => {
    for (const file of documents.filter((name) => name.endsWith('README.md'))) {
      expect(typescriptBlocks(readFileSync(join(root, file), 'utf8')).length, file).toBeGreaterThan(
        0,
      );
    }
  });

  it('every `npm run` script they name exists', () => {
    const scripts = Object.keys(
      (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: object }).scripts,
    );
    for (const file of documents) {
      for (const line of readFileSync(join(root, file), 'utf8').split('\n')) {
        // `npm run x -w pkg` names a package's own script, not the root's.
        if (/\s(-w|--workspace)[\s=]/.test(line)) continue;
        for (const [, name] of line.matchAll(/npm run ([\w:-]+)/g)) {
          expect(scripts, `${file}: npm run ${name}`).toContain(name);
        }
      }
    }
  });

  it('the AI SDK guide shows the tested recipe modules verbatim', () => {
    const blocks = typescriptBlocks(readFileSync(join(root, 'docs/ai-sdk.md'), 'utf8'));
    const shown = blocks.flatMap((code) => {
      const name = namedFile(code);
      return name === undefined ? [] : [[name, code] as const];
    });
    const modules = readdirSync(recipeDir).filter((file) => file.endsWith('.ts'));
    expect(shown.map(([name]) => name).sort()).toEqual(modules.sort());
    for (const [name, code] of shown) {
      expect(code, name).toBe(readFileSync(join(recipeDir, name), 'utf8'));
    }
  });

  it('every ```ts block type-checks against the built packages', () => {
    // Under node_modules: ignored by git and biome, and module resolution still finds
    // the workspace packages from here.
    const workDir = join(root, 'node_modules', '.cache', 'entelix-doc-check');
    rmSync(workDir, { recursive: true, force: true });
    mkdirSync(workDir, { recursive: true });
    const files: string[] = [];
    for (const file of documents) {
      typescriptBlocks(readFileSync(join(root, file), 'utf8')).forEach((code, index) => {
        const name = namedFile(code) ?? `${file.replaceAll('/', '__')}.${index}.ts`;
        // `export {}` makes each block a module, so top-level await type-checks.
        writeFileSync(join(workDir, name), `${code}\nexport {};\n`);
        files.push(name);
      });
    }
    writeFileSync(
      join(workDir, 'tsconfig.json'),
      JSON.stringify({
        extends: '../../../tsconfig.base.json',
        compilerOptions: { noEmit: true },
        files,
      }),
    );
    const tsc = join(
      dirname(createRequire(import.meta.url).resolve('typescript/package.json')),
      'bin/tsc',
    );
    const result = spawnSync(process.execPath, [tsc, '-p', join(workDir, 'tsconfig.json')], {
      encoding: 'utf8',
    });
    expect(result.stdout.replaceAll(`${workDir}/`, ''), 'tsc').toBe('');
    expect(result.status).toBe(0);
  }, 60_000);
});
