import { cpSync, existsSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MIGRATIONS, migrate } from '../db/migrations.js';
import { PGliteDatabase } from '../db/pglite.js';

/**
 * A migrated embedded-database directory, made once per schema version and copied for each test
 * (a fresh PGlite directory costs seconds to initialise; a copy costs milliseconds).
 */
export async function pgliteCopy(): Promise<string> {
  const version = createHash('sha256').update(MIGRATIONS.map((m) => m.sql).join('\n')).digest('hex').slice(0, 12);
  const template = join(tmpdir(), `json-sync-pglite-template-${version}`);
  if (!existsSync(template)) {
    const building = mkdtempSync(join(tmpdir(), 'json-sync-pglite-build-'));
    const db = await PGliteDatabase.open(building);
    await migrate(db);
    await db.close();
    try {
      renameSync(building, template);
    } catch {
      // Another test file built it at the same time; theirs is as good as ours.
      rmSync(building, { recursive: true, force: true });
    }
  }
  const copy = mkdtempSync(join(tmpdir(), 'json-sync-pglite-'));
  cpSync(template, copy, { recursive: true });
  return copy;
}
