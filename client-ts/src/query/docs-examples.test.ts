import t from 'tap';
import { parseQuery, runQuery } from '@json-sync/core';
import { queryDocExamples } from '@json-sync/test-support';
import { queryStore } from '../test-support/query-store.js';

/** Every example of docs/queries.md answers what the documentation says, on the engine and in the reference. */

const { documents, examples } = queryDocExamples();

t.test(`docs/queries.md: ${examples.length} examples`, async (t) => {
  t.ok(examples.length >= 25, 'an example per operator');
  const store = queryStore(t, documents);
  for (const { query, titles } of examples) {
    const reference = runQuery(documents, parseQuery(query));
    t.same('documents' in reference ? reference.documents.map((d) => d.title) : reference, titles, `reference: ${JSON.stringify(query)}`);
    t.same(store.run(query).documents.map((d) => d.title), titles, `engine: ${JSON.stringify(query)}`);
  }
  const open = { where: { status: 'open' }, sort: [{ priority: 'asc' }], limit: 2 };
  const first = store.run(open);
  const second = store.run({ ...open, after: first.next });
  t.same(second.documents.map((d) => d.title), ['Write release notes'], 'the page after, as the text says');
  t.equal(second.next, null);
  t.same(store.queries.run(JSON.stringify({ where: { status: 'open' }, count: true })), { count: 3 });
});
