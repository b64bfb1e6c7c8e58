import t from 'tap';
import { newUuid, parseServerMessage, type ChangeEvent, type ServerMessage, type ServerMessageOf } from '@json-sync/core';
import { startTestServer, TestClient, type Identity } from '@json-sync/test-support';

/**
 * Protocol 2 sends every committed change in one shape — the change event of a `changes` page,
 * with the server's commit time and, for a create, the document's title — whether it arrives as a
 * live push from this process, from another process sharing the database, or in a page. Clients
 * that say 1, or nothing (the original system's), get protocol 1's messages exactly as before.
 */

const ts = await startTestServer({ prefix: 'sync_protocol' });
t.teardown(() => ts.teardown());
const other = await ts.startAnother();
const clients: TestClient[] = [];
t.teardown(() => clients.forEach((c) => c.close()));

async function connect(url: string, id: Identity, protocol?: number): Promise<TestClient> {
  const c = await TestClient.connect(url, id, protocol === undefined ? {} : { protocol });
  clients.push(c);
  return c;
}

const isChange = (m: ServerMessage) => m.type === 'change';

async function page(c: TestClient, after: number): Promise<ServerMessageOf<'changes'>> {
  return (await c.request({ type: 'get_changes_since', last_sequence: after }, (m) => m.type === 'changes')) as ServerMessageOf<'changes'>;
}

t.test('auth_success says protocol 2 to a client that asked for it, and nothing to the others', async (t) => {
  const id: Identity = { email: 'versions@example.com', apiKey: ts.apiKey, secret: ts.secret };
  for (const [asked, said] of [
    [2, 2],
    [1, undefined],
    [undefined, undefined],
  ] as const) {
    const c = await TestClient.open(ts.url);
    clients.push(c);
    const reply = await c.authenticate(id, asked === undefined ? {} : { protocol_version: asked });
    t.equal(reply.type, 'auth_success');
    t.equal((reply as ServerMessageOf<'auth_success'>).protocol_version, said, `asked ${asked}: protocol_version ${said}`);
  }
});

t.test('a change reaches protocol 2 clients as the change event a page holds, here and from another process; protocol 1 clients get the old pushes', async (t) => {
  const id: Identity = { email: 'one-shape@example.com', apiKey: ts.apiKey, secret: ts.secret };
  const writer = await connect(ts.url, id, 2);
  const sameProcess = await connect(ts.url, id, 2);
  const otherProcess = await connect(other.url, id, 2);
  const legacy = await connect(ts.url, id, 1);
  const silent = await connect(other.url, id);
  const docId = newUuid();

  const created = await writer.mutate({ type: 'create_document', document: { id: docId, title: 'Given', content: { text: 'no title of its own', items: [] } } });
  t.equal(created.type, 'document_created_response');
  await writer.mutate({ type: 'update_document', patch: { document_id: docId, patch: [{ op: 'add', path: '/items/-', value: 1 }] } });
  await writer.mutate({ type: 'delete_document', document_id: docId });

  const logged = (await page(writer, 0)).events;
  t.equal(logged.length, 3);
  t.match(logged[0], { event_type: 'create', title: 'Given', forward_patch: { text: 'no title of its own', items: [] } }, "a create's event carries the document's title");
  t.notOk('title' in logged[1]!, 'an update has none');
  for (const [name, c] of [
    ['same process', sameProcess],
    ['other process', otherProcess],
  ] as const) {
    const pushes: ChangeEvent[] = [];
    for (let i = 0; i < 3; i++) pushes.push(((await c.next(isChange)) as ServerMessageOf<'change'>).change);
    t.same(pushes, logged, `${name}: each push is the page's event, field for field (created_at the server's)`);
  }
  t.same(writer.all('change'), [], 'the writer gets no push of its own change');

  for (const [name, c] of [
    ['protocol 1', legacy],
    ['no protocol_version', silent],
  ] as const) {
    const pushes = [await c.next((m) => m.type === 'document_created'), await c.next((m) => m.type === 'document_updated'), await c.next((m) => m.type === 'document_deleted')];
    t.same(c.all('change'), [], `${name}: no protocol 2 push`);
    t.match(pushes[0], { type: 'document_created', document: { id: docId, title: 'Given', content: { text: 'no title of its own', items: [] }, sync_revision: 1 }, sequence: logged[0]!.sequence });
    t.match(pushes[1], { type: 'document_updated', document_id: docId, patch: [{ op: 'add', path: '/items/-', value: 1 }], sync_revision: 2 });
    t.match(pushes[2], { type: 'document_deleted', document_id: docId, sync_revision: 3 });
    for (const p of pushes) t.ok(parseServerMessage(p).ok, `${name}: ${p.type} is valid`);
    const oldPage = await page(c, 0);
    t.notOk('title' in oldPage.events[0]!, `${name}: page events carry no title, as before`);
  }
  for (const m of [...logged.map((change) => ({ type: 'change', change }))]) t.ok(parseServerMessage(m).ok, 'a change push passes the core validator');
});
