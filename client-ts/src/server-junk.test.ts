import t from 'tap';
import { contentHash, newUuid, type JsonObject, type WireDocument } from '@json-sync/core';
import { EventType } from './events.js';
import { engineFor, fakeServer } from './test-support/fake-server.js';
import { nextEvent, record } from './test-support/harness.js';

function wireDocument(id: string, userId: string, content: JsonObject): WireDocument {
  const at = new Date().toISOString();
  return { id, user_id: userId, title: null, content, sync_revision: 1, content_hash: contentHash(content), created_at: at, updated_at: at, deleted_at: null };
}

t.test('an invalid push is skipped with a SyncError, and catch-up fetches the change it carried', async (t) => {
  const server = await fakeServer(t);
  const id = newUuid();
  const content = { title: 'from the log' };
  const event = { sequence: 1, document_id: id, event_type: 'create', forward_patch: content, reverse_patch: null, sync_revision: 1, content_hash: contentHash(content), client_id: null, mutation_id: null, created_at: new Date().toISOString() };
  let pushed = false;
  server.answer((m) => {
    if (m.type === 'get_changes_since') {
      const events = m.last_sequence === 0 && pushed ? [event] : [];
      server.send({ type: 'changes', events, latest_sequence: pushed ? 1 : 0, has_more: false });
    }
  });
  const e = engineFor(t, server.url);
  await e.whenSynced(5000);
  const events = record(e);
  const asked = server.received.filter((m) => m.type === 'get_changes_since').length;
  pushed = true;
  // The push for sequence 1, broken: no content hash, a sequence that is not a number.
  server.send({ type: 'change', change: { ...event, content_hash: 'nope', sequence: 'one' } });
  server.send('{"type":');
  server.send(Buffer.from([0xff, 0xfe]).toString('latin1'));
  const created = await nextEvent(e, EventType.DocumentCreated, (x) => x.documentId === id, 5000);
  t.same(created.content, content, 'the change arrived after all, through catch-up');
  t.ok(server.received.filter((m) => m.type === 'get_changes_since').length > asked, 'the engine asked for the changes again');
  const errors = events.filter((x) => x.type === EventType.SyncError).map((x) => x.error);
  t.match(errors[0], /invalid change .*skipped/, 'the skipped push is reported');
  t.equal(errors.length, 3, 'each skipped frame is reported once');
  t.same(e.getDocument(id)?.content, content);
  await t.resolves(e.whenSynced(5000), 'and the engine is synced');
});

t.test('a mutation whose answer was invalid is sent again, byte for byte, and settles on a valid answer', async (t) => {
  const server = await fakeServer(t);
  const mutations: string[] = [];
  server.answer((m) => {
    if (m.type === 'get_changes_since') server.send({ type: 'changes', events: [], latest_sequence: mutations.length > 1 ? 1 : 0, has_more: false });
    if (m.type !== 'create_document') return;
    mutations.push(JSON.stringify(m));
    const reply = {
      type: 'document_created_response',
      document_id: m.document.id,
      success: true,
      sync_revision: 1,
      content_hash: contentHash(m.document.content),
      sequence: 1,
      mutation_id: m.mutation_id,
    };
    // The first answer is junk: a revision of zero.
    server.send(mutations.length === 1 ? { ...reply, sync_revision: 0 } : reply);
  });
  const e = engineFor(t, server.url);
  await e.whenSynced(5000);
  const events = record(e);
  const id = e.createDocument({ title: 'answered twice' });
  await t.resolves(e.whenSynced(10_000), 'the outbox drains');
  t.equal(mutations.length, 2, 'sent twice: once answered with junk, once properly');
  t.equal(mutations[0], mutations[1], 'the resend is identical, so a real server would answer it from its idempotency record');
  t.equal(e.pendingCount(), 0);
  t.equal(e.getDocument(id)?.syncRevision, 1);
  t.match(events.find((x) => x.type === EventType.SyncError)?.error, /invalid document_created_response/);
});

t.test('a full sync with an invalid snapshot message is taken again instead of dropping documents', async (t) => {
  // A log that is not empty while the engine has applied nothing: the engine asks for a snapshot.
  const server = await fakeServer(t, 2);
  const a = newUuid();
  const b = newUuid();
  let fullSyncs = 0;
  server.answer((m) => {
    if (m.type === 'request_full_sync') {
      fullSyncs++;
      server.send({ type: 'sync_document', document: wireDocument(a, server.userId, { title: 'a' }) });
      const docB = wireDocument(b, server.userId, { title: 'b' });
      // The first snapshot's second document is junk.
      server.send({ type: 'sync_document', document: fullSyncs === 1 ? { ...docB, sync_revision: -1 } : docB });
      server.send({ type: 'sync_complete', synced_count: 2, latest_sequence: 2 });
    }
    if (m.type === 'get_changes_since') server.send({ type: 'changes', events: [], latest_sequence: 2, has_more: false });
  });
  const e = engineFor(t, server.url);
  await t.resolves(e.whenSynced(5000));
  t.equal(fullSyncs, 2, 'the snapshot was requested again after the junk');
  t.same(
    e.listDocuments().map((d) => d.content).sort((x, y) => String(x.title).localeCompare(String(y.title))),
    [{ title: 'a' }, { title: 'b' }],
    'both documents are there',
  );
});

t.test('auth_error unavailable is retried like a lost connection, not held back like bad credentials', async (t) => {
  // Bad credentials wait at least 60% of maxMs (6 s here) between attempts; a lost connection starts at minMs.
  const reconnect = { minMs: 50, maxMs: 10_000 };
  const server = await fakeServer(t, 0, (n) => (n <= 3 ? 'unavailable' : null));
  const started = Date.now();
  const e = engineFor(t, server.url, reconnect);
  const events = record(e);
  await nextEvent(e, EventType.ConnectionSucceeded, () => true, 5000);
  t.ok(Date.now() - started < 3000, `connected after three refusals within ${Date.now() - started} ms`);
  t.same(
    events.filter((x) => x.type === EventType.SyncError).map((x) => x.error),
    ['unavailable', 'unavailable', 'unavailable'],
    'each refusal is reported',
  );

  const refusing = await fakeServer(t, 0, () => 'bad_signature');
  const bad = engineFor(t, refusing.url, reconnect);
  await nextEvent(bad, EventType.SyncError, () => true, 5000);
  const refused = Date.now();
  await nextEvent(bad, EventType.ConnectionAttempted, (x) => x.numericData === 2, 12_000);
  t.ok(Date.now() - refused >= 5900, `bad credentials: the second attempt waited ${Date.now() - refused} ms (at least 60% of maxMs)`);
});
