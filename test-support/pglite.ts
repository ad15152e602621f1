import { PGlite } from '@electric-sql/pglite';

let pristine: Promise<Blob> | undefined;

/**
 * A new in-memory PGlite, empty as `PGlite.create()` makes it. The first one in a test
 * file runs initdb (seconds); the rest start from a copy of its data directory taken
 * before anything was written (about half a second), so a file can afford a fresh
 * database per test.
 */
export async function freshPGlite(): Promise<PGlite> {
  pristine ??= PGlite.create().then(async (template) => {
    try {
      return await template.dumpDataDir('none');
    } finally {
      await template.close();
    }
  });
  return PGlite.create({ loadDataDir: await pristine });
}
