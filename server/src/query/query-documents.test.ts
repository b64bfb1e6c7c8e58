import t from 'tap';
import { randomUUID } from 'node:crypto';
import { parseQuery, runQuery as reference, searchMatches, type JsonValue, type QueryableDocument, type ServerMessage, type ServerMessageOf } from '@json-sync/core';
import { queryDocExamples, startTestServer, TestClient, type Identity } from '@json-sync/test-support';
import { insertDocuments } from '../test-support/query-store.js';

/**
 * query_documents through a real server process: every example of docs/queries.md, pages, counts,
 * projections and search answered over the protocol as the documentation says, for the
 * authenticated user only — never another user's (of this application or another) or a deleted
 * document — and the protocol 1 client gets the same answers.
 */

const ts = await startTestServer({ prefix: 'sq_protocol' });
const app2 = await ts.tdb.credentials('app two');
const clients: TestClient[] = [];
t.teardown(async () => {
  clients.forEach((c) => c.close());
  await ts.teardown();
});

async function login(id: Identity, protocol = 2): Promise<{ c: TestClient; user: string }> {
  const c = await TestClient.open(ts.url);
  clients.push(c);
  const auth = await c.authenticate(id, { protocol_version: protocol });
  if (auth.type !== 'auth_success') throw new Error(`auth failed: ${JSON.stringify(auth)}`);
  return { c, user: auth.user_id };
}

let requests = 0;
type Reply = ServerMessageOf<'query_result'> | ServerMessageOf<'error'>;
async function query(c: TestClient, q: unknown): Promise<Reply> {
  const request_id = `r${++requests}`;
  const reply = await c.request({ type: 'query_documents', request_id, query: q }, (m: ServerMessage) => 'request_id' in m && m.request_id === request_id);
  return reply as Reply;
}

async function titles(c: TestClient, q: unknown): Promise<(string | null)[]> {
  const r = await query(c, q);
  if (r.type !== 'query_result' || !r.documents) throw new Error(`not a page: ${JSON.stringify(r)}`);
  return r.documents.map((d) => d.title);
}

const { documents, examples } = queryDocExamples();
const alice: Identity = { email: 'alice@example.com', apiKey: ts.apiKey, secret: ts.secret };
const { c, user } = await login(alice);
await insertDocuments(ts.tdb.db, user, documents);

t.test(`docs/queries.md: ${examples.length} examples over the protocol`, async (t) => {
  t.ok(examples.length >= 25, 'an example per operator');
  for (const { query: q, titles: want } of examples) t.same(await titles(c, q), want, JSON.stringify(q));
  const open = { where: { status: 'open' }, sort: [{ priority: 'asc' }], limit: 2 };
  const first = (await query(c, open)) as ServerMessageOf<'query_result'>;
  t.type(first.next, 'string', 'a first page says where the next starts');
  const second = (await query(c, { ...open, after: first.next })) as ServerMessageOf<'query_result'>;
  t.same(second.documents!.map((d) => d.title), ['Write release notes'], 'the page after, as the text says');
  t.equal(second.next, null);
  const count = await query(c, { where: { status: 'open' }, count: true });
  t.same({ count: (count as ServerMessageOf<'query_result'>).count }, { count: 3 });
  const projected = (await query(c, { where: { tags: 'audio' }, fields: ['meta.bpm'], sort: [{ 'meta.bpm': 'desc' }] })) as ServerMessageOf<'query_result'>;
  t.same(projected.documents!.map((d) => d.content), [{ meta: { bpm: 120 } }, { meta: { bpm: 90 } }], 'fields keep only their paths; metadata stays');
  t.equal(projected.documents![0]!.user_id, user, 'documents come whole with their metadata, as sync_document sends them');
});

t.test('search: title and every string, diacritics folded, prefixes, with where, ranked; pages through the ranking', async (t) => {
  const strings = (v: JsonValue): string[] => (typeof v === 'string' ? [v] : Array.isArray(v) ? v.flatMap(strings) : v && typeof v === 'object' ? Object.values(v).flatMap(strings) : []);
  const texts = (d: QueryableDocument) => [d.title ?? '', ...strings(d.content)];
  for (const search of ['emile', 'EMILE preset', 'synth*', 'syn* audio', 'cab*', 'xlr', 'nothing*', 'fix*']) {
    const want = documents.filter((d) => searchMatches(parseQuery({ search }).search!, texts(d))).map((d) => d.title);
    t.same((await titles(c, { search })).sort(), want.sort(), `search ${JSON.stringify(search)}: the documents holding every word`);
  }
  t.same(await titles(c, { search: 'synth*', where: { status: 'open', priority: 'high' }, sort: [{ $title: 'asc' }] }), ["Fix Émile's preset", 'Mix the synth pad'], 'combined with where and sort');
  t.same(
    (await titles(c, { search: { text: 'emile', index: 'whatever the device calls it' } })),
    ["Fix Émile's preset"],
    "the server's one text index answers whatever index a search names",
  );
  // Ranked: the document naming "synth" three times (title, tags, …) before one naming it once.
  await insertDocuments(ts.tdb.db, user, [
    { id: 'new', revision: 1, title: 'synth synth synth', createdAt: '2026-12-03T00:00:00.000Z', updatedAt: '2026-12-03T00:00:00.000Z', content: { title: 'synth synth synth', tags: ['synth'] } },
  ]);
  const ranked = await titles(c, { search: 'synth' });
  t.equal(ranked[0], 'synth synth synth', 'the most relevant first');
  const pages: (string | null)[] = [];
  let after: string | null | undefined;
  do {
    const r = (await query(c, { search: 'synth', limit: 1, ...(after ? { after } : {}) })) as ServerMessageOf<'query_result'>;
    pages.push(...r.documents!.map((d) => d.title));
    after = r.next;
  } while (after);
  t.same(pages, ranked, 'pages of one follow the ranking without a gap or a repeat');
});

t.test('search follows every write: strings and titles changed, or left as they were', async (t) => {
  const created = await c.create({ title: 'Kettle', note: 'descale', count: 1 });
  const id = created.document_id;
  let revision = created.sync_revision;
  const update = async (patch: unknown[]) => {
    const mutation_id = randomUUID();
    const r = await c.request({ type: 'update_document', patch: { document_id: id, patch }, base_revision: revision, mutation_id }, (m: ServerMessage) => 'mutation_id' in m && m.mutation_id === mutation_id);
    if (r.type !== 'document_updated_response') throw new Error(JSON.stringify(r));
    revision = r.sync_revision;
  };
  t.same(await titles(c, { search: 'descale' }), ['Kettle'], 'a new document is found by its strings');
  await update([{ op: 'replace', path: '/note', value: 'polish' }]);
  t.same(await titles(c, { search: 'polish' }), ['Kettle'], 'a string written is found');
  t.same(await titles(c, { search: 'descale' }), [], 'a string overwritten is not');
  await update([{ op: 'replace', path: '/count', value: 2 }, { op: 'add', path: '/size', value: [1, 2] }]);
  t.same(await titles(c, { search: 'polish' }), ['Kettle'], 'a change of numbers only keeps the search text');
  await update([{ op: 'remove', path: '/note' }]);
  t.same(await titles(c, { search: 'polish' }), [], 'a string removed is not found');
  await update([{ op: 'replace', path: '/title', value: 'Teapot' }]);
  t.same(await titles(c, { search: 'teapot' }), ['Teapot'], 'a new title is found');
  t.same(await titles(c, { search: 'kettle' }), [], 'the old title is not');
  await update([{ op: 'add', path: '/copy', value: 'x' }, { op: 'move', from: '/copy', path: '/moved' }]);
  t.same(await titles(c, { search: 'x' }), ['Teapot'], 'a string moved is found at its new place');
});

t.test("another user's documents, and deleted ones, are never answered", async (t) => {
  const mine = (await query(c, { where: { $title: 'Mix the synth pad' } })) as ServerMessageOf<'query_result'>;
  const id = mine.documents![0]!.id;
  for (const [who, identity] of [
    ['bob, same application', { email: 'bob@example.com', apiKey: ts.apiKey, secret: ts.secret }],
    ['alice of another application', { email: 'alice@example.com', apiKey: app2.apiKey, secret: app2.secret }],
  ] as const) {
    const other = await login(identity);
    t.same(await titles(other.c, {}), [], `${who}: no documents at all`);
    t.same(await titles(other.c, { where: { $id: id } }), [], `${who}: alice's id answers nothing`);
    t.same(await titles(other.c, { where: { $id: { $in: [id] } }, search: 'synth' }), [], `${who}: nor by search`);
    const count = (await query(other.c, { count: true })) as ServerMessageOf<'query_result'>;
    t.equal(count.count, 0, `${who}: counts none`);
  }
  const created = await c.create({ title: 'soon gone', status: 'open' });
  t.same(await titles(c, { where: { $title: 'soon gone' } }, ), ['soon gone'], 'a document written over the protocol is found at once');
  await c.mutate({ type: 'delete_document', document_id: created.document_id });
  t.same(await titles(c, { where: { $title: 'soon gone' } }), [], 'and not once deleted');
  t.same(await titles(c, { search: 'soon' }), [], 'not by search either');
});

t.test('a protocol 1 client gets the same answers', async (t) => {
  const legacy = await login(alice, 1);
  const q = { where: { status: 'open' }, sort: [{ priority: 'desc' }] };
  t.same(await titles(legacy.c, q), await titles(c, q));
  const r = reference(documents, parseQuery(q));
  t.same(await titles(legacy.c, q), 'documents' in r ? r.documents.map((d) => d.title) : null, 'the reference answer');
});
