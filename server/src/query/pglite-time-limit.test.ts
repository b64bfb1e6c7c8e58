import t from 'tap';
import { PGliteDatabase } from '../db/pglite.js';
import { pgliteCopy } from '../test-support/pglite-template.js';
import { userWithDocuments } from '../test-support/query-store.js';
import { runQuery } from './run-query.js';

/**
 * docs/queries.md, "On the server": PGlite cannot interrupt a statement (WebAssembly on the
 * server's own thread, no timer), so a query past the time limit runs to its end and is answered.
 * (On PostgreSQL the same limit ends it with query_timeout: hostile-queries.test.ts.)
 */

t.test('on PGlite a query past its time limit is answered', async (t) => {
  const db = await PGliteDatabase.open(await pgliteCopy());
  t.teardown(() => db.close());
  const docs = Array.from({ length: 2000 }, (_, i) => ({
    id: 'new',
    revision: 1,
    title: `d${i}`,
    createdAt: '2026-12-01T00:00:00.000Z',
    updatedAt: '2026-12-01T00:00:00.000Z',
    content: { title: `d${i}`, items: [{ k: i }, { k: -i }] },
  }));
  const user = await userWithDocuments(db, docs);
  const started = performance.now();
  const r = await runQuery(db, user, { sort: [{ 'items.k': 'desc' }], limit: 3 }, 1);
  const took = performance.now() - started;
  t.ok(took > 1, `it ran past the 1 ms limit (${took.toFixed(0)} ms)`);
  t.same('documents' in r && r.documents.map((d) => d.title), ['d1999', 'd1998', 'd1997'], 'and was answered in full');
});
