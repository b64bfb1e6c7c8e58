import t from 'tap';
import { Query as MingoQuery } from 'mingo';
import { parseQuery, runQuery, type QueryableDocument } from '@json-sync/core';
import { QUERY_CASES, QUERY_DOCUMENTS } from '@json-sync/test-support';
import { queryStore, type QueryStore } from '../test-support/query-store.js';

/**
 * The query language on the device: every conformance case answered by the engine's SQLite equals
 * the reference evaluator's answer (ordering included), and the reference agrees with MongoDB's
 * semantics — mingo's answer to the filter, or the documented expectation where mingo departs
 * from MongoDB's documentation.
 */

const titles = (docs: readonly { title: string | null }[]) => docs.map((d) => d.title);

/** A document as mingo reads it: its content, and the metadata under names mingo accepts. */
function forMingo(d: QueryableDocument): Record<string, unknown> {
  return { ...d.content, _id: d.id, _meta_revision: d.revision, _meta_title: d.title, _meta_createdAt: d.createdAt, _meta_updatedAt: d.updatedAt };
}

function mingoWhere(where: unknown): Record<string, unknown> {
  return JSON.parse(JSON.stringify(where ?? {}).replace(/"\$(revision|title|createdAt|updatedAt)"/g, '"_meta_$1"').replace(/"\$id"/g, '"_id"'));
}

let store: QueryStore;
t.before(() => {
  store = queryStore(t, QUERY_DOCUMENTS);
});

for (const c of QUERY_CASES) {
  t.test(c.name, async (t) => {
    const q = parseQuery(c.query);
    const reference = runQuery(QUERY_DOCUMENTS, q);
    if (!('documents' in reference)) throw new Error('a case without count');
    const expected = c.expect ?? titles(QUERY_DOCUMENTS.filter((d) => new MingoQuery(mingoWhere(c.query.where)).test(forMingo(d))));
    t.same(titles(reference.documents), expected, c.deviation ? `the reference follows MongoDB's documentation (${c.deviation})` : 'the reference agrees with mingo');
    const device = store.run(c.query);
    t.same(
      device.documents.map((d) => d.title),
      titles(reference.documents),
      'SQLite answers as the reference does, in the same order',
    );
    if (q.fields) t.same(device.documents.map((d) => d.content), reference.documents.map((d) => d.content), 'with the same projected content');
  });
}
