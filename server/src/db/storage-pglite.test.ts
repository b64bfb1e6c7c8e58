import t, { type Test } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pgliteCopy } from '../test-support/pglite-template.js';
import { storageConformance } from '../test-support/storage-conformance.js';
import { PGliteDatabase } from './pglite.js';

/** The embedded database in a directory of its own. */
async function open(t: Test, dir: string): Promise<PGliteDatabase> {
  const db = await PGliteDatabase.open(dir);
  t.teardown(async () => {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return db;
}

storageConformance(t, {
  name: 'PGlite',
  migrated: async (t) => open(t, await pgliteCopy()),
  empty: (t) => open(t, mkdtempSync(join(tmpdir(), 'json-sync-pglite-empty-'))),
});
