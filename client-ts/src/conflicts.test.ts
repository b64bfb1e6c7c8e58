import t from 'tap';
import type { JsonObject } from '@json-sync/core';
import type { SyncEngine } from './engine.js';
import { SyncError } from './errors.js';
import { EventType } from './events.js';
import { harness, nextEvent, record, serverDoc } from './test-support/harness.js';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return err instanceof SyncError ? err.code : `not a SyncError: ${String(err)}`;
  }
  return 'no error';
}

/** Resolves when `engine` fires a remote event for `id` whose content satisfies `pred`. */
function remote(engine: SyncEngine, type: EventType, id: string, pred: (c: JsonObject | null) => boolean = () => true) {
  return nextEvent(engine, type, (e) => e.documentId === id && e.booleanData === false && pred(e.content));
}

t.test('same field edited on two offline clients: both converge to the server, the loser records the conflict', async (t) => {
  const h = await harness();
  t.teardown(() => h.teardown());
  const a = h.engine('a', 'same@example.com');
  const b = h.engine('b', 'same@example.com');
  await Promise.all([a.whenSynced(), b.whenSynced()]);
  const created = nextEvent(b, EventType.DocumentCreated);
  const id = a.createDocument({ title: 'Shared', status: 'todo', note: 'n' });
  t.equal((await created).documentId, id);

  a.setOnline(false);
  b.setOnline(false);
  a.mergeDocument(id, { status: 'done' });
  b.mergeDocument(id, { status: 'blocked' });
  const bMutation = b.history(id).at(-1)!.mutationId;

  a.setOnline(true);
  await a.whenSynced();
  const winner = await serverDoc(h, id);
  t.same(winner, { id, title: 'Shared', content: { title: 'Shared', status: 'done', note: 'n' }, syncRevision: 2, deleted: false });

  const bEvents = record(b);
  const aEvents = record(a);
  b.setOnline(true);
  await b.whenSynced();
  await a.whenSynced();

  const docEvents = bEvents.filter((e) => e.documentId === id);
  const at = docEvents.findIndex((e) => e.type === EventType.ConflictDetected);
  t.equal(docEvents.filter((e) => e.type === EventType.ConflictDetected).length, 1, 'ConflictDetected fires once on the loser');
  t.same(docEvents[at]?.content, winner!.content, "ConflictDetected carries the server's version");
  t.equal(docEvents[at + 1]?.type, EventType.DocumentUpdated, 'followed by DocumentUpdated');
  t.same(docEvents[at + 1]?.content, winner!.content);
  t.same(b.getDocument(id)?.content, winner!.content, "the loser's view is the server's version");
  t.same(a.getDocument(id)?.content, winner!.content);
  t.equal(b.getDocument(id)?.syncRevision, 2);
  t.equal(a.getDocument(id)?.syncRevision, 2);
  t.equal(b.getDocument(id)?.pending, 0);
  t.same(await serverDoc(h, id), winner, 'the losing edit did not reach the server');

  const conflicts = b.conflicts();
  t.equal(conflicts.length, 1);
  t.match(conflicts[0], {
    documentId: id,
    mutationId: bMutation,
    kind: 'update',
    reason: 'conflict',
    rejected: [{ op: 'replace', path: '/status', value: 'blocked' }],
    serverDocument: { id, content: winner!.content, sync_revision: 2 },
  });
  t.same(a.conflicts(), [], 'the winner records nothing');
  t.same(aEvents.filter((e) => e.type === EventType.ConflictDetected), [], 'the winner sees no conflict');
});

t.test('a permanently rejected entry does not stall the entries behind it', async (t) => {
  const h = await harness();
  t.teardown(() => h.teardown());
  const eve = h.engine('eve', 'eve@example.com');
  const bob = h.engine('bob', 'bob@example.com');
  const owned = eve.createDocument({ title: "Eve's", secret: 1 });
  await Promise.all([eve.whenSynced(), bob.whenSynced()]);

  bob.setOnline(false);
  const stolen = bob.createDocument({ title: 'Mine now' }, { id: owned });
  bob.mergeDocument(stolen, { more: true });
  const createMutation = bob.history(stolen)[0]!.mutationId;
  const updateMutation = bob.history(stolen)[1]!.mutationId;
  const before = bob.createDocument({ title: 'queued behind', n: 0 });
  bob.mergeDocument(before, { n: 1 });
  t.equal(bob.pendingCount(), 4);

  const error = nextEvent(bob, EventType.SyncError, (e) => e.documentId === owned);
  const gone = nextEvent(bob, EventType.DocumentDeleted, (e) => e.documentId === owned);
  bob.setOnline(true);
  const e = await error;
  t.match(e.error, /^document_exists\b/, 'SyncError names the reason');
  await gone;
  await bob.whenSynced(10_000);
  t.equal(bob.pendingCount(), 0, 'the rejected entry left the outbox and nothing behind it is stuck');
  t.equal(bob.getDocument(owned), null, 'the refused create leaves no local document');
  t.same(await serverDoc(h, before), { id: before, title: 'queued behind', content: { title: 'queued behind', n: 1 }, syncRevision: 2, deleted: false });
  t.same(await serverDoc(h, owned), { id: owned, title: "Eve's", content: { title: "Eve's", secret: 1 }, syncRevision: 1, deleted: false }, "Eve's document is untouched");

  const conflicts = bob.conflicts();
  t.match(conflicts, [
    { documentId: owned, mutationId: createMutation, kind: 'create', reason: 'document_exists', rejected: { title: 'Mine now' }, serverDocument: null },
    { documentId: owned, mutationId: updateMutation, kind: 'update', reason: 'rebase' },
  ]);
  t.equal(conflicts.length, 2);

  const later = bob.createDocument({ title: 'later' });
  bob.updateDocument(later, { title: 'later, edited' });
  bob.mergeDocument(before, { n: 2 });
  await bob.whenSynced(10_000);
  t.equal(bob.pendingCount(), 0);
  t.same(await serverDoc(h, later), { id: later, title: 'later, edited', content: { title: 'later, edited' }, syncRevision: 2, deleted: false });
  t.same(await serverDoc(h, before), { id: before, title: 'queued behind', content: { title: 'queued behind', n: 2 }, syncRevision: 3, deleted: false });
  t.same(eve.getDocument(owned)?.content, { title: "Eve's", secret: 1 });
});

t.test('undo/redo are changes the other client sees', async (t) => {
  const h = await harness();
  t.teardown(() => h.teardown());
  const a = h.engine('a', 'undo@example.com');
  const b = h.engine('b', 'undo@example.com');
  await Promise.all([a.whenSynced(), b.whenSynced()]);

  /** A document A created and B has, at revision 1. */
  async function shared(content: JsonObject): Promise<string> {
    const id = a.createDocument(content);
    await nextEvent(b, EventType.DocumentCreated, (e) => e.documentId === id);
    return id;
  }

  t.test('undo reverts an update, redo re-applies it', async (t) => {
    const id = await shared({ title: 'U', field: 'old' });
    let seen = remote(b, EventType.DocumentUpdated, id);
    a.mergeDocument(id, { field: 'new' });
    t.same((await seen).content, { title: 'U', field: 'new' });

    seen = remote(b, EventType.DocumentUpdated, id);
    a.undo(id);
    t.same(a.getDocument(id)?.content, { title: 'U', field: 'old' });
    t.same((await seen).content, { title: 'U', field: 'old' }, 'B sees the old value');

    seen = remote(b, EventType.DocumentUpdated, id);
    a.redo(id);
    t.same((await seen).content, { title: 'U', field: 'new' }, 'B sees the new value again');
    await a.whenSynced();
    t.same(await serverDoc(h, id), { id, title: 'U', content: { title: 'U', field: 'new' }, syncRevision: 4, deleted: false });
    t.same(
      a.history(id).map((e) => [e.origin, e.kind]),
      [
        ['local', 'create'],
        ['local', 'update'],
        ['undo', 'update'],
        ['redo', 'update'],
      ],
    );
  });

  t.test('undo of a create deletes it on B', async (t) => {
    const id = await shared({ title: 'created' });
    const deleted = remote(b, EventType.DocumentDeleted, id);
    a.undo(id);
    t.equal(a.getDocument(id)?.deletedAt !== null, true);
    await deleted;
    t.not(b.getDocument(id)?.deletedAt, null);
    await a.whenSynced();
    t.same(await serverDoc(h, id), { id, title: 'created', content: { title: 'created' }, syncRevision: 2, deleted: true });
  });

  t.test('undo of a delete revives it on B', async (t) => {
    const id = await shared({ title: 'to revive', n: 7 });
    const deleted = remote(b, EventType.DocumentDeleted, id);
    a.deleteDocument(id);
    await deleted;
    const revived = remote(b, EventType.DocumentCreated, id);
    a.undo(id);
    t.same(a.getDocument(id)?.content, { title: 'to revive', n: 7 });
    t.same((await revived).content, { title: 'to revive', n: 7 });
    t.equal(b.getDocument(id)?.deletedAt, null);
    await a.whenSynced();
    t.same(await serverDoc(h, id), { id, title: 'to revive', content: { title: 'to revive', n: 7 }, syncRevision: 3, deleted: false });
  });

  t.test('a new local change clears redo', async (t) => {
    const id = await shared({ title: 'R', field: 1, other: 1 });
    a.mergeDocument(id, { field: 2 });
    a.undo(id);
    a.mergeDocument(id, { other: 2 });
    const pending = a.pendingCount();
    t.equal(codeOf(() => a.redo(id)), 'not_found');
    t.equal(a.pendingCount(), pending, 'the failed redo queued nothing');
    t.same(a.getDocument(id)?.content, { title: 'R', field: 1, other: 2 });
  });

  t.test('undo fails with conflict and writes nothing when B later changed the same path', async (t) => {
    const id = await shared({ title: 'C', field: 'a', other: 'x' });
    const seen = remote(b, EventType.DocumentUpdated, id);
    a.mergeDocument(id, { field: 'mine' });
    await seen;
    const back = remote(a, EventType.DocumentUpdated, id);
    b.mergeDocument(id, { field: 'theirs' });
    await back;
    await a.whenSynced();
    const content = a.getDocument(id)?.content;
    const history = a.history(id);
    const pending = a.pendingCount();
    t.same(content, { title: 'C', field: 'theirs', other: 'x' });

    t.equal(codeOf(() => a.undo(id)), 'conflict');
    t.equal(a.pendingCount(), pending, 'no outbox entry');
    t.same(a.getDocument(id)?.content, content, 'content unchanged');
    t.same(a.history(id), history, 'no history entry, nothing marked undone');
    t.equal(codeOf(() => a.redo(id)), 'not_found', 'the failed undo left nothing to redo');
  });

  t.test('undo succeeds when B changed a different path', async (t) => {
    const id = await shared({ title: 'D', field: 'a', other: 'x' });
    let seen = remote(b, EventType.DocumentUpdated, id);
    a.mergeDocument(id, { field: 'mine' });
    await seen;
    const back = remote(a, EventType.DocumentUpdated, id);
    b.mergeDocument(id, { other: 'theirs' });
    await back;

    seen = remote(b, EventType.DocumentUpdated, id);
    a.undo(id);
    t.same(a.getDocument(id)?.content, { title: 'D', field: 'a', other: 'theirs' });
    t.same((await seen).content, { title: 'D', field: 'a', other: 'theirs' }, "B sees the undo, its own change kept");
    await a.whenSynced();
    await b.whenSynced();
    t.same(await serverDoc(h, id), { id, title: 'D', content: { title: 'D', field: 'a', other: 'theirs' }, syncRevision: 4, deleted: false });
    t.same(b.getDocument(id)?.content, a.getDocument(id)?.content);
  });
});
