import t from 'tap';
import { contentHash, newUuid } from '@json-sync/core';
import { EventType } from '../events.js';
import { engineParts } from '../test-support/parts.js';
import { created, serverWins, updated } from '../test-support/stream.js';
import { createPlan } from './local-changes.js';

t.test('stream changes apply in sequence order: the view follows the server, remote events and history record them', async (t) => {
  const p = engineParts(t);
  const { replica, store, cursor } = p.ctx;
  const id = newUuid();
  p.apply(() => replica.receive(created(1, id, { title: 'A', n: 1 })));
  p.apply(() => replica.receive(updated(2, id, [{ op: 'replace', path: '/n', value: 2 }], 2, { title: 'A', n: 2 })));
  t.equal(cursor.value, 2);
  t.match(store.getView(id), { content: JSON.stringify({ title: 'A', n: 2 }), deleted: 0, title: 'A', revision: 2, pending: 0 });
  t.match(store.getBase(id), { revision: 2, deleted: 0 });
  t.same(
    p.events.map((e) => [e.type, e.documentId, e.booleanData]),
    [
      [EventType.DocumentCreated, id, false],
      [EventType.DocumentUpdated, id, false],
    ],
  );
  t.same(store.history(id).map((h) => [h.origin, h.kind, h.sequence, h.sync_revision]), [
    ['remote', 'create', 1, 1],
    ['remote', 'update', 2, 2],
  ]);
});

t.test('a change past a gap is not applied; an old one is ignored', async (t) => {
  const p = engineParts(t);
  const { replica, store, cursor } = p.ctx;
  const id = newUuid();
  p.apply(() => replica.receive(created(2, id, { title: 'skipped ahead' })));
  t.equal(cursor.value, 0, 'the cursor stays: sequence 1 is missing');
  t.equal(store.getView(id), undefined);
  p.apply(() => replica.receive(created(1, id, { title: 'first' })));
  p.apply(() => replica.receive(created(1, id, { title: 'first, again' })));
  t.equal(store.getView(id)?.title, 'first');
  t.equal(p.events.length, 1, 'one event for the one change applied');
});

t.test("an answer to our own change: the entry waits answered until the stream reaches it, with no remote event", async (t) => {
  const p = engineParts(t);
  const { replica, store, outbox, cursor } = p.ctx;
  const id = newUuid();
  p.local.change(id, 'local', createPlan(id, { title: 'mine' }));
  const entry = outbox.at(outbox.rowsOf(id)[0]!.seq)!;
  t.equal(store.getView(id)?.pending, 1);
  // The server answers with sequence 2: sequence 1 (someone else's) is not here yet.
  p.apply(() =>
    replica.onReply({ type: 'document_created_response', document_id: id, success: true, sync_revision: 1, content_hash: contentHash({ title: 'mine' }), sequence: 2, mutation_id: entry.mutationId }),
  );
  t.equal(outbox.pending, 0, 'answered');
  t.equal(outbox.size, 1, 'but still in the outbox');
  t.match(store.getView(id), { revision: 1, pending: 0 });
  const other = newUuid();
  p.apply(() => replica.receive(created(1, other, { title: 'theirs' })));
  p.apply(() => replica.receive({ ...created(2, id, { title: 'mine' }), mutationId: entry.mutationId, clientId: p.ctx.clientId }));
  t.equal(cursor.value, 2);
  t.equal(outbox.size, 0, 'the stream reached it');
  t.same(store.history(id).map((h) => [h.origin, h.sequence]), [['local', 2]], 'its history entry has its sequence now');
  t.same(
    p.events.filter((e) => e.documentId === id).map((e) => [e.type, e.booleanData]),
    [[EventType.DocumentCreated, true]],
    'only the local event: the answer raises none',
  );
});

t.test('a pending edit that no longer applies on the new server version becomes a recorded conflict', async (t) => {
  const p = engineParts(t);
  const { replica, store, outbox } = p.ctx;
  const id = newUuid();
  p.apply(() => replica.receive(created(1, id, { title: 'T', note: 'n' })));
  p.local.change(id, 'local', ({ content }) => ({ kind: 'update', content: { ...content!, note: 'mine' }, forward: [{ op: 'replace', path: '/note', value: 'mine' }], reverse: [] }));
  t.equal(JSON.parse(store.getView(id)!.content).note, 'mine');
  // Someone removed the field the pending edit replaces.
  p.apply(() => replica.receive(updated(2, id, [{ op: 'remove', path: '/note' }], 2, { title: 'T' })));
  t.same(JSON.parse(store.getView(id)!.content), { title: 'T' }, "the view is the server's");
  t.equal(outbox.size, 0, 'the edit left the outbox');
  t.match(store.conflicts(), [{ document_id: id, reason: 'rebase', kind: 'update' }]);
  t.same(
    p.events.filter((e) => e.type === EventType.ConflictDetected).map((e) => [e.documentId, e.error, e.content]),
    [[id, 'rebase', { title: 'T' }]],
  );
});

t.test("a change that does not reproduce the server's hash leaves the base alone and says it diverged", async (t) => {
  const p = engineParts(t);
  const { replica, store } = p.ctx;
  const id = newUuid();
  p.apply(() => replica.receive(created(1, id, { n: 1 })));
  const outcome = p.apply(() => replica.receive({ ...updated(2, id, [{ op: 'replace', path: '/n', value: 2 }], 2, { n: 2 }), contentHash: contentHash({ n: 3 }) }));
  t.equal(outcome, 'diverged');
  t.match(store.getBase(id), { revision: 1, content: JSON.stringify({ n: 1 }) });
});

t.test("a conflict answer adopts the server's version and records what we lost", async (t) => {
  const p = engineParts(t);
  const { replica, store, outbox } = p.ctx;
  const id = newUuid();
  p.apply(() => replica.receive(created(1, id, { title: 'T', v: 1 })));
  p.local.change(id, 'local', ({ content }) => ({ kind: 'update', content: { ...content!, v: 'mine' }, forward: [{ op: 'replace', path: '/v', value: 'mine' }], reverse: [] }));
  const entry = outbox.at(outbox.rowsOf(id)[0]!.seq)!;
  const server = { title: 'T', v: 'theirs' };
  p.apply(() => replica.onConflict(serverWins(id, server, 2, entry.mutationId, [{ op: 'replace', path: '/v', value: 'mine' }])));
  t.same(JSON.parse(store.getView(id)!.content), server);
  t.match(store.getView(id), { revision: 2, pending: 0 });
  t.match(store.conflicts(), [{ document_id: id, reason: 'conflict', mutation_id: entry.mutationId }]);
  t.same(
    store.history(id).map((h) => [h.origin, h.kind]),
    [
      ['remote', 'create'],
      ['local', 'update'],
      ['remote', 'update'],
    ],
    "the server's difference is in history, so undo sees it",
  );
  t.same(p.events.slice(-2).map((e) => e.type), [EventType.ConflictDetected, EventType.DocumentUpdated]);
});

t.test('a document created with a title beside its content keeps it while the content has none', async (t) => {
  const p = engineParts(t);
  const { replica, store } = p.ctx;
  const id = newUuid();
  p.apply(() => replica.receive(created(1, id, { text: 'hello' }, { givenTitle: 'Given' })));
  t.equal(store.getView(id)?.title, 'Given');
  p.local.change(id, 'local', ({ content }) => ({ kind: 'update', content: { ...content!, text: 'bye' }, forward: [{ op: 'replace', path: '/text', value: 'bye' }], reverse: [] }));
  t.equal(store.getView(id)?.title, 'Given', 'after a local edit too');
  p.local.change(id, 'local', ({ content }) => ({ kind: 'update', content: { ...content!, title: 'Own' }, forward: [{ op: 'add', path: '/title', value: 'Own' }], reverse: [] }));
  t.equal(store.getView(id)?.title, 'Own', "the content's own title wins");
});
