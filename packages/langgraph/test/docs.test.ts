import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { expect, it } from 'vitest';

// The repository's README check covers READMEs only; this guide is type-checked here,
// the same way, against the built packages.
const root = join(import.meta.dirname, '..', '..', '..');
const guide = join(root, 'docs', 'langgraph.md');

it('every ```ts block of docs/langgraph.md type-checks', () => {
  const blocks = [...readFileSync(guide, 'utf8').matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map(
    (match) => match[1] as string,
  );
  expect(blocks.length).toBeGreaterThan(0);
  const workDir = join(import.meta.dirname, '..', '.readme-check');
  rmSync(workDir, { recursive: true, force: true });
  mkdirSync(workDir, { recursive: true });
  const files = blocks.map((code, index) => {
    const name = `langgraph-guide.${index}.ts`;
    writeFileSync(join(workDir, name), `${code}\nexport {};\n`);
    return name;
  });
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
  expect(result.stdout).toBe('');
  expect(result.status).toBe(0);
}, 60_000);
