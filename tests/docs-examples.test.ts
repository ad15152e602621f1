import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');

/** The guides whose ```ts blocks are checked; a guide is added once its blocks compile. */
const guides = ['docs/ai-sdk.md', 'docs/openai-agents.md'];

/** Modules the AI SDK guide shows in full; its tests import them from here. */
const recipeDir = join(root, 'tests', 'ai-sdk');

/** A block whose first line is `// <name>.ts` is that file, so later blocks can import it. */
function namedFile(code: string): string | undefined {
  return /^\/\/ ([\w-]+\.ts)\n/.exec(code)?.[1];
}

function typescriptBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((match) => match[1] as string);
}

describe('guide examples', () => {
  it('every checked guide has TypeScript examples', () => {
    for (const guide of guides) {
      expect(
        typescriptBlocks(readFileSync(join(root, guide), 'utf8')).length,
        guide,
      ).toBeGreaterThan(0);
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
    // the workspace packages from here. Its own folder, so no other check deletes it.
    const workDir = join(root, 'node_modules', '.cache', 'entelix-guide-check');
    rmSync(workDir, { recursive: true, force: true });
    mkdirSync(workDir, { recursive: true });
    const files: string[] = [];
    for (const guide of guides) {
      typescriptBlocks(readFileSync(join(root, guide), 'utf8')).forEach((code, index) => {
        const name = namedFile(code) ?? `${guide.replaceAll('/', '__')}.${index}.ts`;
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
    expect(result.stdout.replaceAll(`${workDir}/`, '')).toBe('');
    expect(result.status).toBe(0);
  }, 60_000);
});
