import t from 'tap';
import { startTestServer, TestClient } from '@json-sync/test-support';

t.test('create and push between two connections of one user', async (t) => {
  const ts = await startTestServer();
  t.teardown(() => ts.teardown());
  const id = { email: 'bob@example.com', apiKey: ts.apiKey, secret: ts.secret };
  const a = await TestClient.connect(ts.url, id);
  const b = await TestClient.connect(ts.url, id);
  t.teardown(() => { a.close(); b.close(); });
  const r = await a.create({ title: 'hello', n: 1 });
  t.equal(r.sync_revision, 1);
  t.equal(r.sequence, 1);
  const push = await b.next((m) => m.type === 'document_created');
  t.equal(push.type, 'document_created');
  const u = await a.mutate({ type: 'update_document', patch: { document_id: r.document_id, patch: [{ op: 'replace', path: '/n', value: 2 }] }, base_revision: 1 });
  t.match(u, { type: 'document_updated_response', sync_revision: 2, sequence: 2, merged: false });
});
