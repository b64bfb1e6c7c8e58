import t from 'tap';
import { createHmac } from 'node:crypto';
import { isUuid, unixSeconds, type ServerMessage } from '@json-sync/core';
import { startTestServer, TestClient } from '@json-sync/test-support';
import { seedSnippet } from './test-support/seed.js';

// The original system's README shows three WebSocket messages (../shared/seed/snippets/10–12).
// Users have them in their code and notes: they go through a real server exactly as written.

const ts = await startTestServer({ prefix: 'seed_messages' });
t.teardown(() => ts.teardown());

const isAuthReply = (m: ServerMessage) => m.type === 'auth_success' || m.type === 'auth_error';
const isReply = (m: ServerMessage) => m.type.endsWith('_response') || m.type === 'conflict_detected' || m.type === 'error';

t.test('authenticate (10): accepted as a message; with real credentials signed as the README says, a session', async (t) => {
  const verbatim = await TestClient.open(ts.url);
  t.teardown(() => verbatim.close());
  const refused = await verbatim.request(seedSnippet('10.json'), isAuthReply);
  // Its 2025 timestamp is refused before its placeholder key is looked at: what matters is that it parsed.
  t.match(refused, { type: 'auth_error', reason: 'timestamp_skew' }, 'the message as written is well formed');

  const message = JSON.parse(seedSnippet('10.json')) as Record<string, unknown>;
  const timestamp = unixSeconds();
  // "HMAC-SHA256(secret, "timestamp.email.api_key.body")", with an empty body: the message has no nonce.
  const signature = createHmac('sha256', ts.secret).update(`${timestamp}.${String(message.email)}.${ts.apiKey}.`).digest('hex');
  const c = await TestClient.open(ts.url, String(message.client_id));
  t.teardown(() => c.close());
  const reply = await c.request({ ...message, api_key: ts.apiKey, timestamp, signature }, isAuthReply);
  t.match(reply, { type: 'auth_success', client_id: message.client_id }, 'only key, timestamp and signature replaced');
});

t.test('create_document (11) and update_document (12), without mutation_id: applied, the title kept, ids assigned', async (t) => {
  const c = await TestClient.connect(ts.url, { email: 'user@example.com', apiKey: ts.apiKey, secret: ts.secret });
  t.teardown(() => c.close());
  const create = JSON.parse(seedSnippet('11.json')) as { document: { id: string } };
  const id = create.document.id;

  const created = await c.request(seedSnippet('11.json'), isReply);
  t.match(created, { type: 'document_created_response', document_id: id, sync_revision: 1, success: true });
  const createdId = (created as { mutation_id: string }).mutation_id;
  t.ok(isUuid(createdId), `the server assigned mutation_id ${createdId}`);

  const updated = await c.request(seedSnippet('12.json'), isReply);
  t.match(updated, { type: 'document_updated_response', document_id: id, sync_revision: 2, success: true });
  const updatedId = (updated as { mutation_id: string }).mutation_id;
  t.ok(isUuid(updatedId) && updatedId !== createdId, 'a fresh id for each mutation');

  const row = await ts.tdb.db.query<{ title: string; content: unknown }>('SELECT title, content FROM documents WHERE id = $1', [id]);
  t.same(row.rows, [{ title: 'My Document', content: { text: 'Updated text' } }], "the create's title is the document's title, also after the update");
  const log = await ts.tdb.db.query<{ mutation_id: string }>('SELECT mutation_id::text AS mutation_id FROM change_events WHERE document_id = $1 ORDER BY sequence', [id]);
  t.same(log.rows.map((r) => r.mutation_id), [createdId, updatedId], 'the log records the assigned ids');

  // Without an id a resend cannot be recognised: the create meets its own document and loses.
  const again = await c.request(seedSnippet('11.json'), isReply);
  t.match(again, { type: 'conflict_detected', document_id: id }, 'a resent create without id is a new mutation');
});
