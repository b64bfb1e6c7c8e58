import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The original system's README code blocks (shared/seed/snippets): $SYNC_SEED_DIR, else ../shared
 * beside the clone, else the workspace's /work/shared (a clone made elsewhere, as a clean CI
 * checkout may be). native/tests/seed/seed_tests.cmake looks the same way.
 */
export const SEED_DIR = [process.env.SYNC_SEED_DIR, join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'shared', 'seed', 'snippets'), '/work/shared/seed/snippets'].find(
  (dir): dir is string => !!dir && existsSync(join(dir, 'INDEX')),
);

/** One snippet's text, exactly as the README has it. */
export function seedSnippet(name: string): string {
  if (!SEED_DIR) throw new Error('the seed snippets (shared/seed/snippets) are not found: set SYNC_SEED_DIR');
  return readFileSync(join(SEED_DIR, name), 'utf8');
}
