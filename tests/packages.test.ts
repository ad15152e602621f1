import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  description?: string;
  license?: string;
  keywords?: string[];
  files?: string[];
  bin?: Record<string, string>;
  main?: string;
  types?: string;
  exports?: Record<string, string | Record<string, string>>;
  publishConfig?: Record<string, unknown>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

interface Workspace {
  dir: string;
  manifest: Manifest;
}

function workspaces(folder: 'packages' | 'examples'): Workspace[] {
  return readdirSync(join(root, folder))
    .map((name) => join(folder, name))
    .filter((dir) => existsSync(join(root, dir, 'package.json')))
    .map((dir) => ({
      dir,
      manifest: JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) as Manifest,
    }));
}

const packages = workspaces('packages');
const examples = workspaces('examples');
const published = packages.filter(({ manifest }) => manifest.private !== true);
const versions = new Map(
  [...packages, ...examples].map(({ manifest }) => [manifest.name, manifest.version]),
);

/** `./dist/x.js` and `dist/x.js` name the same file of the tarball. */
function tarballPath(path: string): string {
  return path.replace(/^\.\//, '');
}

/** Every TypeScript source under `src/`, relative to it, without its extension. */
function sourceModules(dir: string, under = ''): string[] {
  return readdirSync(join(root, dir, 'src', under), { withFileTypes: true }).flatMap((entry) => {
    const path = under === '' ? entry.name : `${under}/${entry.name}`;
    if (entry.isDirectory()) return sourceModules(dir, path);
    return entry.name.endsWith('.ts') ? [path.slice(0, -'.ts'.length)] : [path];
  });
}

/**
 * What `npm pack` puts in a package's tarball: the build (JavaScript and declarations,
 * one of each per source module; no sources, maps or build info), the bin shims, and
 * the manifest, README, LICENSE and CHANGELOG.
 */
function expectedTarball({ dir, manifest }: Workspace): string[] {
  return [
    'package.json',
    'README.md',
    'LICENSE',
    'CHANGELOG.md',
    ...Object.values(manifest.bin ?? {}).map(tarballPath),
    ...sourceModules(dir).flatMap((module) => [`dist/${module}.js`, `dist/${module}.d.ts`]),
  ].sort();
}

let packed: Map<string, string[]> | undefined;

/** One `npm pack --dry-run` for every published package: the files each tarball holds. */
function tarballs(): Map<string, string[]> {
  if (packed !== undefined) return packed;
  const workspaceArgs = published.flatMap(({ manifest }) => ['-w', manifest.name]);
  const npm = spawnSync(
    'npm',
    ['pack', '--dry-run', '--json', '--ignore-scripts', '--loglevel=error', ...workspaceArgs],
    { cwd: root, encoding: 'utf8' },
  );
  expect(npm.status, npm.stderr).toBe(0);
  const results = JSON.parse(npm.stdout) as { name: string; files: { path: string }[] }[];
  packed = new Map(results.map(({ name, files }) => [name, files.map(({ path }) => path).sort()]));
  return packed;
}

/** Whether `version` is in the caret range `range` (`^0.1.0` holds 0.1.x, `^1.2.0` 1.x). */
function inCaretRange(version: string, range: string): boolean {
  const match = /^\^(\d+)\.(\d+)\.(\d+)$/.exec(range);
  if (match === null) return false;
  const [major, minor, patch] = match.slice(1).map(Number) as [number, number, number];
  const [haveMajor, haveMinor, havePatch] = version.split('.').map(Number) as [
    number,
    number,
    number,
  ];
  const atLeast =
    haveMajor !== major
      ? haveMajor > major
      : haveMinor !== minor
        ? haveMinor > minor
        : havePatch >= patch;
  if (major > 0) return haveMajor === major && atLeast;
  if (minor > 0) return haveMajor === 0 && haveMinor === minor && atLeast;
  return haveMajor === 0 && haveMinor === 0 && havePatch === patch;
}

describe('the published packages', () => {
  it('are every package under packages/; the examples stay private', () => {
    expect(published.map(({ manifest }) => manifest.name).sort()).toEqual(
      packages.map(({ manifest }) => manifest.name).sort(),
    );
    for (const { dir, manifest } of examples) {
      expect(manifest.private, dir).toBe(true);
      expect(manifest.publishConfig, dir).toBeUndefined();
    }
  });

  it.each(published.map((workspace) => [workspace.manifest.name, workspace] as const))(
    '%s is published in public, with provenance, and says what it is',
    (_name, { manifest }) => {
      expect(manifest.publishConfig).toEqual({ access: 'public', provenance: true });
      expect(manifest.license).toBe('MIT');
      expect(manifest.description).toMatch(/\S/);
      expect(manifest.keywords).toContain('entelix');
    },
  );

  it('depend on each other in caret ranges that hold the current versions', () => {
    for (const { dir, manifest } of [...packages, ...examples]) {
      for (const field of ['dependencies', 'devDependencies', 'peerDependencies'] as const) {
        for (const [name, range] of Object.entries(manifest[field] ?? {})) {
          const version = versions.get(name);
          if (version === undefined) continue;
          expect(inCaretRange(version, range), `${dir} ${field} ${name}@${range}`).toBe(true);
        }
      }
    }
  });

  it.each(published.map((workspace) => [workspace.manifest.name, workspace] as const))(
    '%s packs its build, bin, README, LICENSE and CHANGELOG, and nothing else',
    (name, workspace) => {
      const files = tarballs().get(name);
      expect(files, 'npm pack listed no such package').toBeDefined();
      expect(files).toEqual(expectedTarball(workspace));
      const { manifest } = workspace;
      const entries = [
        manifest.main,
        manifest.types,
        ...Object.values(manifest.exports ?? {}).flatMap((target) =>
          typeof target === 'string' ? [target] : Object.values(target),
        ),
      ].filter((path): path is string => path !== undefined);
      for (const entry of entries) expect(files, entry).toContain(tarballPath(entry));
    },
  );
});
