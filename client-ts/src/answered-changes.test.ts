import t, { type Test } from 'tap';
import type { ClientMessage, JsonObject } from '@json-sync/core';
import type { SyncEngine } from './engine.js';
import { EventType, type SyncEvent } from './events.js';
import { eventually, harness, record, serverDocs, type Harness } from './test-support/harness.js';

/**
 * A conflict record is a change that lost. These are the paths where a change the server accepted
 * (answered, not yet reached by the change stream) meets a snapshot or a catch-up page — creates,
 * updates that cannot apply twice (array inserts and removals, moves), deletes, undo and redo, and
 * an engine closed with such a change answered. On each: the engine reports a conflict only for a
 * change the server refused, and its views equal the server's.
 */

const USER = 'answered@example.com';

/** The engine's live documents equal the server's (content and revision), and it recorded no conflict. */
async function agreesWithServer(t: Test, h: Harness, engine: SyncEngine, events: SyncEvent[]): Promise<void> {
  const server = new Map(
    [...(await serverDocs(h))].filter(([, d]) => !d.deleted).map(([id, d]) => [id, { title: d.title, content: d.content, syncRevision: d.syncRevision }]),
  );
  const local = new Map(engine.listDocuments().map((d) => [d.id, { title: d.title, content: d.content, syncRevision: d.syncRevision }]));
  t.same(local, server, "the engine's documents equal the server's");
  t.same(engine.conflicts(), [], 'no conflict is recorded for changes the server accepted');
  t.same(
    events.filter((e) => e.type === EventType.ConflictDetected),
    [],
    'no ConflictDetected fires',
  );
  t.equal(engine.pendingCount(), 0);
}

/** A user with one document already on the server, written by another engine. */
async function userWithHistory(t: Test): Promise<Harness> {
  const h = await harness();
  t.teardown(() => h.teardown());
  const x = h.engine('x', USER);
  x.createDocument({ title: 'from x' });
  await x.whenSynced();
  await x.close();
  return h;
}

/** An engine on a fresh file that makes its changes offline, then connects: a full sync that waits until they are answered. */
async function freshEngineWithOfflineChanges(t: Test, write: (y: SyncEngine) => void): Promise<{ h: Harness; y: SyncEngine; events: SyncEvent[] }> {
  const h = await userWithHistory(t);
  const y = h.engine('y', USER, { online: false });
  const events = record(y);
  write(y);
  y.setOnline(true);
  await y.whenSynced();
  return { h, y, events };
}

/** Messages of these types are dropped on their way out (as if the connection died right after sending them). */
function swallow(engine: SyncEngine, types: ClientMessage['type'][]): void {
  const transport = engine['transport'];
  const send = transport.send.bind(transport);
  transport.send = (m: ClientMessage) => (types.includes(m.type) ? transport.live : send(m));
}

t.test('an offline create on a fresh engine, accepted by the server, is not reported as a conflict', async (t) => {
  let id = '';
  const { h, y, events } = await freshEngineWithOfflineChanges(t, (y) => {
    id = y.createDocument({ title: 'from y' });
  });
  const log = await h.tdb.db.query<{ event_type: string; sync_revision: number }>('SELECT event_type, sync_revision FROM change_events WHERE document_id = $1', [id]);
  t.same(log.rows, [{ event_type: 'create', sync_revision: 1 }], "the server applied y's create");
  t.match(y.getDocument(id), { title: 'from y', syncRevision: 1, pending: 0 });
  t.equal(y.listDocuments().length, 2, "x's document arrived through the full sync");
  await agreesWithServer(t, h, y, events);
});

t.test('answered updates that cannot apply twice (array insert and removal, move) are not applied again on the snapshot', async (t) => {
  let id = '';
  const { h, y, events } = await freshEngineWithOfflineChanges(t, (y) => {
    id = y.createDocument({ title: 'list', items: ['a'], from: 1 });
    y.patchDocument(id, [{ op: 'add', path: '/items/-', value: 'b' }]);
    y.patchDocument(id, [{ op: 'add', path: '/items/0', value: 'first' }]);
    y.patchDocument(id, [{ op: 'remove', path: '/items/1' }]);
    y.patchDocument(id, [{ op: 'move', from: '/from', path: '/to' }]);
  });
  t.same(y.getDocument(id)?.content, { title: 'list', items: ['first', 'b'], to: 1 });
  await agreesWithServer(t, h, y, events);
});

t.test('an answered delete is not undone by the full sync that no longer lists the document', async (t) => {
  let id = '';
  const { h, y, events } = await freshEngineWithOfflineChanges(t, (y) => {
    id = y.createDocument({ title: 'short-lived' });
    y.deleteDocument(id);
  });
  const here = y.getDocument(id);
  t.ok(here === null || here.deletedAt !== null, 'not live here');
  t.equal((await serverDocs(h)).get(id)?.deleted, true, 'and on the server');
  await agreesWithServer(t, h, y, events);
});

t.test('answered undo and redo meet the snapshot like any other change', async (t) => {
  let id = '';
  const { h, y, events } = await freshEngineWithOfflineChanges(t, (y) => {
    id = y.createDocument({ title: 'undoable', n: 1, tags: [] });
    y.patchDocument(id, [{ op: 'add', path: '/tags/-', value: 'x' }]);
    y.mergeDocument(id, { n: 2 });
    y.undo(id);
    y.undo(id);
    y.redo(id);
  });
  t.same(y.getDocument(id)?.content, { title: 'undoable', n: 1, tags: ['x'] });
  await agreesWithServer(t, h, y, events);
});

t.test('a create answered ahead of the stream meets a catch-up page that holds it: settled once', async (t) => {
  const h = await userWithHistory(t);
  const y = h.engine('y', USER);
  await y.whenSynced();
  y.setOnline(false);
  const x = h.engine('x2', USER);
  x.createDocument({ title: 'while y was away' });
  await x.whenSynced();
  const events = record(y);
  // y's reply comes with a sequence past its cursor: it waits, answered, until the page brings it.
  const id = y.createDocument({ title: 'from y', tags: [] });
  y.patchDocument(id, [{ op: 'add', path: '/tags/-', value: 1 }]);
  y.setOnline(true);
  await y.whenSynced();
  await x.whenSynced();
  t.same(y.getDocument(id)?.content, { title: 'from y', tags: [1] });
  await agreesWithServer(t, h, y, events);
});

for (const variant of ['full sync', 'compacted catch-up'] as const) {
  t.test(`an engine closed with a change answered but not yet in its stream reopens into a ${variant}: nothing applied twice`, async (t) => {
    const h = await userWithHistory(t);
    const y = h.engine('y', USER, variant === 'full sync' ? { online: false } : {});
    if (variant === 'compacted catch-up') {
      await y.whenSynced();
      y.setOnline(false);
      // One change by another engine while y is away: y's next answer is one past what follows its cursor.
      const x = h.engine('x2', USER);
      x.createDocument({ title: 'gap' });
      await x.whenSynced();
      await x.close();
    }
    // The change is answered, then the connection goes before the stream (a page or the snapshot) brings it.
    swallow(y, ['get_changes_since', 'request_full_sync']);
    const id = y.createDocument({ title: 'answered', items: [] });
    y.patchDocument(id, [{ op: 'add', path: '/items/-', value: 'once' }]);
    y.setOnline(true);
    t.ok(await eventually(() => y.pendingCount() === 0 && y.getDocument(id)?.syncRevision === 2), 'both answered');
    t.equal(y['sync'].outbox.size, 2, 'and still in the outbox: the stream has not reached them');
    await y.close(0);

    if (variant === 'compacted catch-up') {
      // Far behind at the next login, with nothing unanswered: each changed document once, not the log.
      const x = h.engine('x3', USER);
      x.createDocuments(Array.from({ length: 1001 }, (_, i) => ({ title: `bulk ${i}` })));
      await x.whenSynced(30_000);
      await x.close();
    }
    const reopened = h.engine('y', USER);
    const events = record(reopened);
    await reopened.whenSynced(30_000);
    t.same(reopened.getDocument(id)?.content, { title: 'answered', items: ['once'] });
    await agreesWithServer(t, h, reopened, events);
  });
}

t.test('the engine asks for a compacted catch-up after a long absence (the path the test above takes)', async (t) => {
  const h = await userWithHistory(t);
  const y = h.engine('y', USER);
  await y.whenSynced();
  await y.close();
  const x = h.engine('x2', USER);
  x.createDocuments(Array.from({ length: 1001 }, (_, i) => ({ title: `bulk ${i}` })) as JsonObject[]);
  await x.whenSynced(30_000);
  const reopened = h.engine('y', USER);
  const asked: ClientMessage[] = [];
  const transport = reopened['transport'];
  const send = transport.send.bind(transport);
  transport.send = (m: ClientMessage) => (asked.push(m), send(m));
  await reopened.whenSynced(30_000);
  t.match(
    asked.find((m) => m.type === 'request_full_sync'),
    { type: 'request_full_sync', since_sequence: 1 },
  );
});
