import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const readmes = [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((file) => file.endsWith('.md'))
    .map((file) => join('docs', file)),
  ...readdirSync(join(root, 'packages')).map((pkg) => join('packages', pkg, 'README.md')),
  ...readdirSync(join(root, 'examples')).map((example) => join('examples', example, 'README.md')),
].filter((file) => {
  try {
    readFileSync(join(root, file));
    return true;
  } catch {
    return false;
  }
});

/** The ```ts blocks of a markdown file. */
function typescriptBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((match) => match[1] as string);
}

describe('README and docs examples', () => {
  it('every README has TypeScript examples', () => {
    for (const file of readmes.filter((name) => name.endsWith('README.md'))) {
      expect(typescriptBlocks(readFileSync(join(root, file), 'utf8')).length, file).toBeGreaterThan(
        0,
      );
    }
  });

  it('every `npm run` script they name exists', () => {
    const scripts = Object.keys(
      (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: object }).scripts,
    );
    for (const file of readmes) {
      for (const line of readFileSync(join(root, file), 'utf8').split('\n')) {
        // `npm run x -w pkg` names a package's own script, not the root's.
        if (/\s(-w|--workspace)[\s=]/.test(line)) continue;
        for (const [, name] of line.matchAll(/npm run ([\w:-]+)/g)) {
          expect(scripts, `${file}: npm run ${name}`).toContain(name);
        }
      }
    }
  });

  it('every ```ts block type-checks against the built packages', () => {
    const workDir = join(root, '.readme-check');
    rmSync(workDir, { recursive: true, force: true });
    mkdirSync(workDir, { recursive: true });
    const files: string[] = [];
    for (const file of readmes) {
      typescriptBlocks(readFileSync(join(root, file), 'utf8')).forEach((code, index) => {
        const name = `${file.replaceAll('/', '__')}.${index}.ts`;
        // `export {}` makes each block a module, so top-level await type-checks.
        writeFileSync(join(workDir, name), `${code}\nexport {};\n`);
        files.push(name);
      });
    }
    writeFileSync(
      join(workDir, 'tsconfig.json'),
      JSON.stringify({
        extends: '../tsconfig.base.json',
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
    expect(result.stdout.replaceAll(`${workDir}/`, ''), `tsc in ${relative(root, workDir)}`).toBe(
      '',
    );
    expect(result.status).toBe(0);
  }, 60_000);
});
