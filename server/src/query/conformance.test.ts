import t, { type Test } from 'tap';
import { parseQuery, runQuery as reference, type QueryableDocument } from '@json-sync/core';
import { createTestDatabase, QUERY_CASES, QUERY_DOCUMENTS, type TestDatabase } from '@json-sync/test-support';
import type { Database } from '../db/database.js';
import { PGliteDatabase } from '../db/pglite.js';
import { PostgresDatabase } from '../db/postgres.js';
import { createLogger } from '../logger.js';
import { pgliteCopy } from '../test-support/pglite-template.js';
import { asStored, userWithDocuments } from '../test-support/query-store.js';
import { runQuery } from './run-query.js';

/**
 * The query language on the server: every shared conformance case (test-support/src/query-cases.ts,
 * which the device runs too) answered by the PostgreSQL compiler equals the reference evaluator's
 * answer — the same documents, in the same order, the same projected content, the same second page
 * — on PostgreSQL and on the embedded PGlite. Another user holding the same documents, and the
 * user's own deleted ones, never appear.
 */

const titles = (docs: readonly { title: string | null }[]) => docs.map((d) => d.title);
const stored = asStored(QUERY_DOCUMENTS);
// Deleted twins of every document (other ids, same content): a query that forgot deleted_at would return them.
const deletedTwins: QueryableDocument[] = QUERY_DOCUMENTS.map((d) => ({ ...d, id: 'new' }));

async function conformance(t: Test, db: Database): Promise<void> {
  const user = await userWithDocuments(db, QUERY_DOCUMENTS);
  await userWithDocuments(db, deletedTwins, { deleted: true });
  // Another user with the same documents under other ids.
  await userWithDocuments(db, QUERY_DOCUMENTS.map((d) => ({ ...d, id: 'new' })));
  for (const c of QUERY_CASES) {
    const q = parseQuery(c.query);
    const expected = reference(stored, q);
    if (!('documents' in expected)) throw new Error('a case without count');
    const got = await runQuery(db, user, c.query, 5000);
    if (!('documents' in got)) throw new Error('a page expected');
    t.same(titles(got.documents), titles(expected.documents), `${c.name}: the reference's documents, in its order`);
    if (q.fields) t.same(got.documents.map((d) => d.content), expected.documents.map((d) => d.content), `${c.name}: the projected content`);
    t.equal(got.next === null, expected.next === null, `${c.name}: a next page exactly when the reference has one`);
    if (got.next !== null && expected.next !== null) {
      const second = await runQuery(db, user, { ...c.query, after: got.next }, 5000);
      const want = reference(stored, parseQuery({ ...c.query, after: expected.next }));
      if ('documents' in second && 'documents' in want) t.same(titles(second.documents), titles(want.documents), `${c.name}: the second page`);
    }
    const count = await runQuery(db, user, { ...c.query, count: true, limit: undefined, fields: undefined }, 5000);
    t.same(count, reference(stored, parseQuery({ ...c.query, count: true, limit: undefined, fields: undefined })), `${c.name}: count`);
  }
  // $id by equality and $in, which the server answers from its primary key.
  const [a, b] = [QUERY_DOCUMENTS[0]!.id, QUERY_DOCUMENTS[5]!.id];
  for (const where of [{ $id: a }, { $id: { $in: [b, 'junk', a] } }, { $id: a.toUpperCase() }, { $id: 'junk' }, { $id: { $in: [] } }, { $id: a, n: 1 }, { $id: { $ne: a } }]) {
    const got = await runQuery(db, user, { where }, 5000);
    const want = reference(stored, parseQuery({ where }));
    t.same('documents' in got && titles(got.documents), 'documents' in want && titles(want.documents), `$id: ${JSON.stringify(where)}`);
  }
}

t.test('PostgreSQL answers every conformance case as the reference does', async (t) => {
  const tdb: TestDatabase = await createTestDatabase('sq_conf');
  const db = new PostgresDatabase(tdb.url, createLogger('silent'));
  t.teardown(async () => {
    await db.close();
    await tdb.drop();
  });
  await conformance(t, db);
});

t.test('PGlite answers every conformance case as the reference does', async (t) => {
  const db = await PGliteDatabase.open(await pgliteCopy());
  t.teardown(() => db.close());
  await conformance(t, db);
});
