import t from 'tap';
import { createTestDatabase } from './test-support/database.js';
import { startServer } from './test-support/server-process.js';
import { TestClient } from './test-support/ws-client.js';

t.test('create and push between two connections of one user', async (t) => {
  const tdb = await createTestDatabase();
  t.teardown(() => tdb.drop());
  const creds = await tdb.credentials();
  const server = await startServer({ databaseUrl: tdb.url });
  t.teardown(() => server.stop());
  const id = { email: 'bob@example.com', apiKey: creds.apiKey, secret: creds.secret };
  const a = await TestClient.connect(server.url, id);
  const b = await TestClient.connect(server.url, id);
  t.teardown(() => { a.close(); b.close(); });
  const r = await a.create({ title: 'hello', n: 1 });
  t.equal(r.sync_revision, 1);
  t.equal(r.sequence, 1);
  const push = await b.next((m) => m.type === 'document_created');
  t.equal(push.type, 'document_created');
  const u = await a.mutate({ type: 'update_document', patch: { document_id: r.document_id, patch: [{ op: 'replace', path: '/n', value: 2 }] }, base_revision: 1 });
  t.match(u, { type: 'document_updated_response', sync_revision: 2, sequence: 2, merged: false });
});
