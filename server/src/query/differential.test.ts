import t, { type Test } from 'tap';
import { parseQuery, runQuery as reference, type QueryableDocument } from '@json-sync/core';
import { createTestDatabase, randomQueryWorkload } from '@json-sync/test-support';
import type { Database } from '../db/database.js';
import { PGliteDatabase } from '../db/pglite.js';
import { PostgresDatabase } from '../db/postgres.js';
import { createLogger } from '../logger.js';
import { pgliteCopy } from '../test-support/pglite-template.js';
import { asStored, userWithDocuments } from '../test-support/query-store.js';
import { runQuery } from './run-query.js';

/**
 * Thousands of random documents and queries (the workload the device's differential test runs):
 * the server's PostgreSQL answers every query as the reference evaluator does — the same
 * documents, in the same order, the same count, and the same second page.
 */

const SEED = Number(process.env.QUERY_SEED ?? 1);
const { documents, queries } = randomQueryWorkload(SEED, 400, 2000);
const stored = asStored(documents);
const ids = (docs: readonly Pick<QueryableDocument, 'id'>[]) => docs.map((d) => d.id);

async function differential(t: Test, db: Database, how: readonly object[]): Promise<void> {
  const user = await userWithDocuments(db, documents);
  let failures = 0;
  const fail = (got: unknown, want: unknown, what: string) => {
    if (failures++ < 5) t.same(got, want, what);
  };
  for (const raw of how) {
    const q = parseQuery(raw);
    const want = reference(stored, q);
    if (!('documents' in want)) continue;
    const got = await runQuery(db, user, raw, 10_000);
    if (!('documents' in got)) throw new Error('a page expected');
    if (JSON.stringify(ids(got.documents)) !== JSON.stringify(ids(want.documents))) {
      fail(ids(got.documents), ids(want.documents), JSON.stringify(raw));
      continue;
    }
    if ((got.next === null) !== (want.next === null)) fail(got.next, want.next, `next of ${JSON.stringify(raw)}`);
    if (got.next !== null && want.next !== null) {
      const second = await runQuery(db, user, { ...raw, after: got.next }, 10_000);
      const expected = reference(stored, parseQuery({ ...raw, after: want.next }));
      if ('documents' in second && 'documents' in expected && JSON.stringify(ids(second.documents)) !== JSON.stringify(ids(expected.documents))) {
        fail(ids(second.documents), ids(expected.documents), `second page of ${JSON.stringify(raw)}`);
      }
    }
    if (failures === 0 && Math.random() < 0.1) {
      const count = await runQuery(db, user, { ...raw, count: true, limit: undefined }, 10_000);
      const c = reference(stored, parseQuery({ ...raw, count: true, limit: undefined }));
      if (JSON.stringify(count) !== JSON.stringify(c)) fail(count, c, `count of ${JSON.stringify(raw)}`);
    }
  }
  t.equal(failures, 0, 'no query answered differently');
}

t.test(`PostgreSQL = reference on ${queries.length} random queries over ${documents.length} documents (QUERY_SEED=${SEED})`, async (t) => {
  const tdb = await createTestDatabase('sq_diff');
  const db = new PostgresDatabase(tdb.url, createLogger('silent'));
  t.teardown(async () => {
    await db.close();
    await tdb.drop();
  });
  await differential(t, db, queries);
});

t.test(`PGlite = reference on the first 300 of them`, async (t) => {
  const db = await PGliteDatabase.open(await pgliteCopy());
  t.teardown(() => db.close());
  await differential(t, db, queries.slice(0, 300));
});
