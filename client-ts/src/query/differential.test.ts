import t from 'tap';
import { parseQuery, runQuery, type QueryableDocument } from '@json-sync/core';
import { randomQueryWorkload } from '@json-sync/test-support';
import { queryStore } from '../test-support/query-store.js';

/**
 * Thousands of random documents and queries: the engine's SQLite answers every query as the
 * reference evaluator does — the same documents, in the same order, pages included.
 */

const SEED = Number(process.env.QUERY_SEED ?? 1);
const { documents, queries } = randomQueryWorkload(SEED, 400, 2000);

// Every query without indexes; the first thousand again with six indexes declared (index plans).
for (const indexed of [false, true]) {
  t.test(`device = reference on ${indexed ? 1000 : queries.length} random queries over ${documents.length} documents${indexed ? ', with indexes' : ''} (QUERY_SEED=${SEED})`, async (t) => {
    const store = queryStore(t, documents);
    if (indexed) {
      for (const [i, fields] of [['s'], ['n', 's'], ['tags'], ['meta.x'], ['items.k'], ['b', 'n']].entries()) store.indexes.create('value', { name: `i${i}`, fields });
      t.ok(queries.some((q) => store.queries.explain(JSON.stringify(q)).index !== null), 'some queries read an index');
    }
    const ids = (docs: readonly Pick<QueryableDocument, 'id'>[]) => docs.map((d) => d.id);
    let failures = 0;
    for (const raw of indexed ? queries.slice(0, 1000) : queries) {
      const q = parseQuery(raw);
      const reference = runQuery(documents, q);
      if (!('documents' in reference)) continue;
      const device = store.run(raw);
      const same = JSON.stringify(ids(device.documents)) === JSON.stringify(ids(reference.documents));
      if (!same && failures++ < 5) t.same(ids(device.documents), ids(reference.documents), JSON.stringify(raw));
      // The next page continues exactly where the reference's does.
      if (same && reference.next !== null) {
        const second = store.run({ ...raw, after: device.next });
        const expected = runQuery(documents, parseQuery({ ...raw, after: reference.next }));
        if ('documents' in expected && JSON.stringify(ids(second.documents)) !== JSON.stringify(ids(expected.documents)) && failures++ < 5) {
          t.same(ids(second.documents), ids(expected.documents), `second page of ${JSON.stringify(raw)}`);
        }
      }
    }
    t.equal(failures, 0, 'no query answered differently');
  });
}
