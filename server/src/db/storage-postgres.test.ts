import t, { type Test } from 'tap';
import { createTestDatabase } from '@json-sync/test-support';
import { createLogger } from '../logger.js';
import { storageConformance } from '../test-support/storage-conformance.js';
import { PostgresDatabase } from './postgres.js';

/** A database of its own on the test PostgreSQL server, through the server's pg pool. */
async function open(t: Test, empty: boolean): Promise<PostgresDatabase> {
  const tdb = await createTestDatabase('storage_conformance', { empty });
  const db = new PostgresDatabase(tdb.url, createLogger('silent'), 4);
  t.teardown(async () => {
    await db.close();
    await tdb.drop();
  });
  return db;
}

storageConformance(t, { name: 'PostgreSQL', migrated: (t) => open(t, false), empty: (t) => open(t, true) });
