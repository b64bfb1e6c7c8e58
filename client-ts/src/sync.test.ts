import t from 'tap';
import { createServer } from 'node:net';
import { canonicalJson } from '@json-sync/core';
import type { SyncEngine } from './engine.js';
import { EventType, type SyncEvent } from './events.js';
import { harness, nextEvent, record, type Harness, eventually, syncedPair, serverDoc, serverDocs, type ServerDoc } from './test-support/harness.js';

const BOB = 'bob@example.com';
const DOC_EVENTS = new Set([EventType.DocumentCreated, EventType.DocumentUpdated, EventType.DocumentDeleted, EventType.ConflictDetected]);
const CONNECTION_EVENTS = new Set([EventType.ConnectionAttempted, EventType.ConnectionSucceeded, EventType.SyncStarted, EventType.SyncCompleted]);

async function forwardPatch(h: Harness, id: string, revision: number): Promise<unknown> {
  const r = await h.tdb.db.query<{ forward_patch: unknown }>('SELECT forward_patch FROM change_events WHERE document_id = $1 AND sync_revision = $2', [id, revision]);
  return r.rows.length === 1 ? r.rows[0]!.forward_patch : `${r.rows.length} rows`;
}

function docEvents(events: SyncEvent[], id?: string): { type: EventType; documentId: string | null; booleanData: boolean }[] {
  return events.filter((e) => DOC_EVENTS.has(e.type) && (id === undefined || e.documentId === id)).map((e) => ({ type: e.type, documentId: e.documentId, booleanData: e.booleanData }));
}

/** What an engine holds of a document, in the same shape as the server row, for convergence checks. */
function localState(e: SyncEngine, id: string) {
  const d = e.getDocument(id);
  if (!d) return null;
  return { content: d.deletedAt === null ? d.content : null, syncRevision: d.syncRevision, deleted: d.deletedAt !== null, pending: d.pending };
}

function serverState(row: ServerDoc) {
  return { content: row.deleted ? null : row.content, syncRevision: row.syncRevision, deleted: row.deleted, pending: 0 };
}

/** Every way the engines differ from the server: an empty list when all have converged. */
async function divergence(h: Harness, engines: SyncEngine[]): Promise<string[]> {
  const rows = [...(await serverDocs(h)).values()];
  const out: string[] = [];
  for (const [i, e] of engines.entries()) {
    for (const r of rows) {
      // jsonb does not keep key order, so compare canonical forms.
      const local = canonicalJson(localState(e, r.id));
      const server = canonicalJson(serverState(r));
      if (local !== server) out.push(`engine ${i} ${r.id}: ${local} != server ${server}`);
    }
    const live = e.listDocuments().map((d) => d.id).sort();
    const serverLive = rows.filter((r) => !r.deleted).map((r) => r.id).sort();
    if (JSON.stringify(live) !== JSON.stringify(serverLive)) out.push(`engine ${i} lists ${live.join(',')} but the server has ${serverLive.join(',')}`);
  }
  return out;
}

async function converged(h: Harness, engines: SyncEngine[]): Promise<boolean> {
  return (await divergence(h, engines)).length === 0;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen({ port, host: '127.0.0.1' }, () => probe.close(() => resolve(true)));
  });
}

/**
 * Starts the server again on its old port, which the engines keep dialling. Returns how long the
 * port stayed unusable: the old server's sockets in TIME_WAIT can hold it for up to 60 s when the
 * server does not listen with SO_REUSEADDR, and waiting it out keeps the engine checks meaningful.
 */
async function restartOnSamePort(h: Harness): Promise<number> {
  const t0 = Date.now();
  while (!(await portFree(h.server.port)) && Date.now() - t0 < 75_000) await new Promise((r) => setTimeout(r, 250));
  const waited = Date.now() - t0;
  await h.restartServer();
  return waited;
}

/** Stops the server and waits until every engine has noticed. */
async function outage(h: Harness, engines: SyncEngine[]): Promise<void> {
  const lost = engines.map((e) => nextEvent(e, EventType.ConnectionLost));
  await h.server.stop();
  await Promise.all(lost);
}

t.test('create, update and delete propagate; the sender sees one event per change and no echo; a late joiner gets everything', async (t) => {
  const { h, a, b } = await syncedPair(t, BOB);
  const aEvents = record(a);
  const bEvents = record(b);

  let got = nextEvent(b, EventType.DocumentCreated);
  const id = a.createDocument({ title: 'Task', done: false });
  let e = await got;
  t.match(e, { documentId: id, content: { title: 'Task', done: false }, title: 'Task', booleanData: false });
  t.same(b.getDocument(id)?.content, { title: 'Task', done: false });

  got = nextEvent(b, EventType.DocumentUpdated);
  a.updateDocument(id, { title: 'Task 2', done: true });
  e = await got;
  t.same(e.content, { title: 'Task 2', done: true });
  t.equal(e.title, 'Task 2');
  t.equal(b.getDocument(id)?.syncRevision, 2);

  got = nextEvent(b, EventType.DocumentDeleted);
  a.deleteDocument(id);
  e = await got;
  t.equal(e.documentId, id);
  t.equal(e.content, null);
  t.not(b.getDocument(id)?.deletedAt ?? null, null, 'deleted on B');
  t.equal(b.countDocuments(), 0);

  // Documents that stay live, one of them edited several times, for the late joiner.
  const keep1 = a.createDocument({ title: 'Keep 1', n: 0 });
  const keep2 = a.createDocument({ title: 'Keep 2' });
  a.updateDocument(keep1, { title: 'Keep 1', n: 1 });
  const lastSeen = nextEvent(b, EventType.DocumentUpdated, (x) => x.documentId === keep1 && x.content?.n === 2);
  a.updateDocument(keep1, { title: 'Keep 1', n: 2 });
  await lastSeen;
  await Promise.all([a.whenSynced(5000), b.whenSynced(5000)]);

  t.same(
    docEvents(aEvents),
    [
      { type: EventType.DocumentCreated, documentId: id, booleanData: true },
      { type: EventType.DocumentUpdated, documentId: id, booleanData: true },
      { type: EventType.DocumentDeleted, documentId: id, booleanData: true },
      { type: EventType.DocumentCreated, documentId: keep1, booleanData: true },
      { type: EventType.DocumentCreated, documentId: keep2, booleanData: true },
      { type: EventType.DocumentUpdated, documentId: keep1, booleanData: true },
      { type: EventType.DocumentUpdated, documentId: keep1, booleanData: true },
    ],
    'the sender: exactly one event per local change, none for acknowledgements',
  );
  // Different documents are pipelined, so only the order within each document is fixed.
  const seen = (id: string) => docEvents(bEvents, id).map((x) => [x.type, x.booleanData]);
  t.same(seen(id), [[EventType.DocumentCreated, false], [EventType.DocumentUpdated, false], [EventType.DocumentDeleted, false]], 'the receiver: one event per remote change');
  t.same(seen(keep1), [[EventType.DocumentCreated, false], [EventType.DocumentUpdated, false], [EventType.DocumentUpdated, false]]);
  t.same(seen(keep2), [[EventType.DocumentCreated, false]]);
  t.equal(docEvents(bEvents).length, 7);
  t.equal(a.getDocument(id)?.syncRevision, 3);
  t.equal(b.getDocument(id)?.syncRevision, 3);

  // A fresh file: a full sync yields the live documents in their current state only, so the
  // joiner sees one DocumentCreated per live document and none of the history.
  const c = h.engine('c', BOB);
  const cEvents = record(c);
  const done = nextEvent(c, EventType.SyncCompleted);
  await c.whenSynced(10_000);
  const completed = await done;
  t.same(
    docEvents(cEvents).sort((x, y) => String(x.documentId).localeCompare(String(y.documentId))),
    [keep1, keep2].sort().map((d) => ({ type: EventType.DocumentCreated, documentId: d, booleanData: false })),
    'one DocumentCreated per live document',
  );
  t.same(cEvents.find((x) => x.documentId === keep1 && x.type === EventType.DocumentCreated)?.content, { title: 'Keep 1', n: 2 });
  t.equal(completed.numericData, 2, 'SyncCompleted counts the documents applied');
  t.same(c.listDocuments().map((d) => d.id).sort(), [keep1, keep2].sort());
  t.same(c.getDocument(keep1)?.content, { title: 'Keep 1', n: 2 });
  t.equal(c.getDocument(keep1)?.syncRevision, 3);
  t.same(c.getDocument(keep2)?.content, { title: 'Keep 2' });
  t.equal(c.getDocument(keep2)?.syncRevision, 1);
  const gone = c.getDocument(id);
  t.ok(gone === null || gone.deletedAt !== null, 'the deleted document is not live on the joiner');
  t.equal(c.countDocuments(), 2);
});

t.test('updateDocument with a subset of keys removes the others on both sides', async (t) => {
  const { h, a, b } = await syncedPair(t, BOB);
  const created = nextEvent(b, EventType.DocumentCreated);
  const id = a.createDocument({ title: 'Groceries', body: 'milk', tags: ['home'], meta: { x: 1 } });
  await created;
  t.equal(b.getDocument(id)?.title, 'Groceries');

  const updated = nextEvent(b, EventType.DocumentUpdated, (e) => e.documentId === id);
  a.updateDocument(id, { body: 'milk, eggs' });
  t.same(a.getDocument(id)?.content, { body: 'milk, eggs' });
  t.equal(a.getDocument(id)?.title, null, 'title null locally at once');
  const e = await updated;
  t.same(e.content, { body: 'milk, eggs' });
  t.equal(e.title, null);
  t.same(b.getDocument(id)?.content, { body: 'milk, eggs' });
  t.equal(b.getDocument(id)?.title, null);
  await a.whenSynced(5000);
  const row = await serverDoc(h, id);
  t.same(row?.content, { body: 'milk, eggs' });
  t.equal(row?.title, null);
  t.equal(row?.syncRevision, 2);
  const ops = (await forwardPatch(h, id, 2)) as { op: string; path: string }[];
  t.ok(Array.isArray(ops), 'sent as an RFC 6902 patch');
  t.same(ops.filter((o) => o.op === 'remove').map((o) => o.path).sort(), ['/meta', '/tags', '/title']);
});

t.test('offline creates, updates and deletes upload after the server comes back', async (t) => {
  const { h, a, b } = await syncedPair(t, BOB);
  const toUpdate = a.createDocument({ title: 'Update me', v: 1 });
  const toDelete = a.createDocument({ title: 'Delete me' });
  await a.whenSynced(5000);
  await eventually(() => b.countDocuments() === 2);
  t.equal(b.countDocuments(), 2);

  await outage(h, [a, b]);
  t.equal(a.isConnected(), false);
  const bEvents = record(b);

  const c1 = a.createDocument({ title: 'New 1' });
  const c2 = a.createDocument({ title: 'New 2', list: [1, 2] });
  a.updateDocument(toUpdate, { title: 'Updated', v: 2 });
  a.deleteDocument(toDelete);
  const x = a.createDocument({ title: 'Short-lived', step: 1 });
  a.updateDocument(x, { title: 'Short-lived', step: 2 });
  a.deleteDocument(x);
  t.equal(a.pendingCount(), 7);
  t.match(a.getDocument(x), { syncRevision: null, pending: 3 });
  t.not(a.getDocument(x)?.deletedAt ?? null, null);

  const xDeleted = nextEvent(b, EventType.DocumentDeleted, (e) => e.documentId === x, 100_000);
  const waited = await restartOnSamePort(h);
  t.ok(waited < 1000, `the server could listen on its port again at once (waited ${waited} ms)`);
  await a.whenSynced(15_000);
  t.equal(a.pendingCount(), 0);
  await xDeleted;
  await eventually(() => converged(h, [a, b]));

  const xs = await serverDoc(h, x);
  t.equal(xs?.syncRevision, 3, 'create → update → delete ends at revision 3');
  t.equal(xs?.deleted, true, 'and deleted');
  const xEvents = await h.tdb.db.query<{ event_type: string; sync_revision: number }>(
    'SELECT event_type, sync_revision FROM change_events WHERE document_id = $1 ORDER BY sequence',
    [x],
  );
  t.same(xEvents.rows, [
    { event_type: 'create', sync_revision: 1 },
    { event_type: 'update', sync_revision: 2 },
    { event_type: 'delete', sync_revision: 3 },
  ]);
  t.same(
    bEvents.filter((e) => e.documentId === x).map((e) => e.type),
    [EventType.DocumentCreated, EventType.DocumentUpdated, EventType.DocumentDeleted],
    'B sees the three changes in order',
  );
  t.same(bEvents.find((e) => e.documentId === x && e.type === EventType.DocumentUpdated)?.content, { title: 'Short-lived', step: 2 });

  t.same((await serverDoc(h, c1))?.content, { title: 'New 1' });
  t.same((await serverDoc(h, c2))?.content, { title: 'New 2', list: [1, 2] });
  t.match(await serverDoc(h, toUpdate), { content: { title: 'Updated', v: 2 }, syncRevision: 2 });
  t.equal((await serverDoc(h, toDelete))?.deleted, true);
  t.same(b.getDocument(c1)?.content, { title: 'New 1' });
  t.same(b.getDocument(toUpdate)?.content, { title: 'Updated', v: 2 });
  t.not(b.getDocument(toDelete)?.deletedAt ?? null, null);
  t.same(b.listDocuments().map((d) => d.id).sort(), [c1, c2, toUpdate].sort());
  t.same(await divergence(h, [a, b]), [], 'A, B and the server agree');
  t.equal(a.pendingCount(), 0);
});

t.test('two offline edits of one field and a concurrent edit of another field both land without conflict', async (t) => {
  const { h, a, b } = await syncedPair(t, BOB);
  const created = nextEvent(b, EventType.DocumentCreated);
  const id = a.createDocument({ title: 'Shared', status: 'todo', priority: 1 });
  await created;
  await a.whenSynced(5000);
  const aEvents = record(a);
  const bEvents = record(b);

  a.setOnline(false);
  t.equal(a.isConnected(), false);
  a.updateDocument(id, { title: 'Shared', status: 'doing', priority: 1 });
  a.updateDocument(id, { title: 'Shared', status: 'done', priority: 1 });
  t.equal(a.getDocument(id)?.pending, 2);
  b.updateDocument(id, { title: 'Shared', status: 'todo', priority: 5 });
  await b.whenSynced(5000);
  t.equal((await serverDoc(h, id))?.syncRevision, 2);

  const landed = nextEvent(b, EventType.DocumentUpdated, (e) => e.documentId === id && e.content?.status === 'done');
  a.setOnline(true);
  await a.whenSynced(10_000);
  await landed;
  await b.whenSynced(5000);

  const expected = { title: 'Shared', status: 'done', priority: 5 };
  t.match(await serverDoc(h, id), { content: expected, syncRevision: 4 });
  t.same(a.getDocument(id)?.content, expected);
  t.same(b.getDocument(id)?.content, expected);
  t.equal(a.getDocument(id)?.syncRevision, 4);
  t.equal(b.getDocument(id)?.syncRevision, 4);
  t.same(a.conflicts(), []);
  t.same(b.conflicts(), []);
  t.equal(aEvents.filter((e) => e.type === EventType.ConflictDetected).length, 0, 'no ConflictDetected on A');
  t.equal(bEvents.filter((e) => e.type === EventType.ConflictDetected).length, 0, 'no ConflictDetected on B');
  const conflicts = await h.tdb.db.query('SELECT 1 FROM conflicts');
  t.equal(conflicts.rowCount, 0, 'no conflict recorded by the server');
});

t.test('three engines converge after a shared outage', async (t) => {
  const h = await harness();
  t.teardown(() => h.teardown());
  const engines = ['a', 'b', 'c'].map((n) => h.engine(n, BOB));
  const [a, b, c] = engines as [SyncEngine, SyncEngine, SyncEngine];
  await Promise.all(engines.map((e) => e.whenSynced(10_000)));
  const fields = a.createDocument({ title: 'Fields', a: 0, b: 0, c: 0 });
  const contested = a.createDocument({ title: 'Contested', v: 'start' });
  const doomed = a.createDocument({ title: 'Doomed', n: 0 });
  await a.whenSynced(5000);
  await eventually(() => converged(h, engines));
  t.same(await divergence(h, engines), [], 'all three start from the same state');

  await outage(h, engines);
  a.mergeDocument(fields, { a: 1 });
  b.mergeDocument(fields, { b: 2 });
  c.mergeDocument(fields, { c: 3 });
  a.mergeDocument(contested, { v: 'from a' });
  b.mergeDocument(contested, { v: 'from b' });
  c.mergeDocument(contested, { v: 'from c' });
  a.deleteDocument(doomed);
  b.mergeDocument(doomed, { n: 1 });
  const own = engines.map((e, i) => e.createDocument({ title: `own ${i}` }));
  c.updateDocument(own[2]!, { title: 'own 2', edited: true });

  const waited = await restartOnSamePort(h);
  t.ok(waited < 1000, `the server could listen on its port again at once (waited ${waited} ms)`);
  await Promise.all(engines.map((e) => e.whenSynced(20_000)));
  await eventually(() => converged(h, engines), 15_000);

  const rows = [...(await serverDocs(h)).values()];
  t.equal(rows.length, 6);
  for (const row of rows) {
    for (const [i, e] of engines.entries()) t.same(localState(e, row.id), serverState(row), `engine ${i} matches the server on ${String(row.content.title ?? row.id)}`);
  }
  for (const e of engines) t.equal(e.pendingCount(), 0);
  t.match(await serverDoc(h, fields), { content: { title: 'Fields', a: 1, b: 2, c: 3 }, syncRevision: 4 }, 'edits of different fields all land');
  t.match(await serverDoc(h, own[2]!), { content: { title: 'own 2', edited: true }, syncRevision: 2 });
});

t.test('five users are isolated from each other', async (t) => {
  const h = await harness();
  t.teardown(() => h.teardown());
  const users = [0, 1, 2, 3, 4].map((i) => `user${i}@example.com`);
  const engines = users.map((email, i) => h.engine(`u${i}`, email));
  const events = engines.map((e) => record(e));
  await Promise.all(engines.map((e) => e.whenSynced(10_000)));
  const owned = engines.map((e, i) => [e.createDocument({ title: `u${i} first` }), e.createDocument({ title: `u${i} second`, secret: i })]);
  engines.forEach((e, i) => e.updateDocument(owned[i]![0]!, { title: `u${i} first`, edited: true }));
  await Promise.all(engines.map((e) => e.whenSynced(10_000)));

  // Fresh engines of each user fetch the server's view by full sync; meanwhile any push that
  // leaked to another user's live engine would have arrived.
  const joiners = users.map((email, i) => h.engine(`u${i}-joiner`, email));
  await Promise.all(joiners.map((e) => e.whenSynced(10_000)));
  for (const [i, e] of engines.entries()) {
    const mine = [...owned[i]!].sort();
    t.same(e.listDocuments().map((d) => d.id).sort(), mine, `user ${i} lists only its documents`);
    t.same(joiners[i]!.listDocuments().map((d) => d.id).sort(), mine, `user ${i}'s joiner syncs only its documents`);
    t.same([...new Set(events[i]!.filter((x) => x.documentId !== null).map((x) => x.documentId))].sort(), mine, `user ${i} got no events of other users`);
    for (const [j, other] of owned.entries()) if (j !== i) for (const id of other) t.equal(e.getDocument(id), null);
  }
  const perUser = await h.tdb.db.query<{ email: string; n: string }>(
    'SELECT u.email, count(d.id)::text AS n FROM users u JOIN documents d ON d.user_id = u.id GROUP BY u.email ORDER BY u.email',
  );
  t.same(perUser.rows, users.map((email) => ({ email, n: '2' })));
});

t.test('changing one item of a 1000-item document sends at most 3 ops', async (t) => {
  const { h, a, b } = await syncedPair(t, BOB);
  const items = Array.from({ length: 1000 }, (_, i) => ({ id: i, name: `item ${i}`, done: false, tags: ['x'] }));
  const created = nextEvent(b, EventType.DocumentCreated);
  const id = a.createDocument({ title: 'Big', items });
  await created;
  await a.whenSynced(5000);

  const next = structuredClone(items);
  next[617] = { ...next[617]!, name: 'item 617 renamed', done: true };
  const updated = nextEvent(b, EventType.DocumentUpdated, (e) => e.documentId === id);
  a.updateDocument(id, { title: 'Big', items: next });
  const e = await updated;
  await a.whenSynced(5000);

  const ops = (await forwardPatch(h, id, 2)) as { op: string; path: string }[];
  t.ok(Array.isArray(ops), 'the update is stored as an RFC 6902 patch');
  t.ok(ops.length >= 1 && ops.length <= 3, `at most 3 ops (got ${ops.length})`);
  t.ok(
    ops.every((o) => o.path.startsWith('/items/617/')),
    `every op touches only the changed item: ${JSON.stringify(ops)}`,
  );
  t.same((e.content as { items: unknown[] }).items, next);
  t.same(b.getDocument(id)?.content, { title: 'Big', items: next });
  t.match(await serverDoc(h, id), { content: { title: 'Big', items: next }, syncRevision: 2 });
});

t.test('200 rapid updates: both engines and the server end equal at revision 201', async (t) => {
  const { h, a, b } = await syncedPair(t, BOB);
  const id = a.createDocument({ title: 'Counter', n: 0 });
  const last = nextEvent(b, EventType.DocumentUpdated, (e) => e.documentId === id && e.content?.n === 200, 30_000);
  for (let n = 1; n <= 200; n++) a.updateDocument(id, { title: 'Counter', n });
  t.equal(a.getDocument(id)?.pending, 201);
  await a.whenSynced(30_000);
  await last;
  await b.whenSynced(5000);
  const expected = { title: 'Counter', n: 200 };
  t.match(await serverDoc(h, id), { content: expected, syncRevision: 201 });
  t.match(a.getDocument(id), { content: expected, syncRevision: 201, pending: 0 });
  t.match(b.getDocument(id), { content: expected, syncRevision: 201, pending: 0 });
  t.equal(a.pendingCount(), 0);
  const count = await h.tdb.db.query<{ n: string }>('SELECT count(*)::text AS n FROM change_events WHERE document_id = $1', [id]);
  t.equal(count.rows[0]?.n, '201', 'each update applied once');
});

t.test('each connection fires ConnectionAttempted, ConnectionSucceeded, SyncStarted, SyncCompleted in order', async (t) => {
  const h = await harness();
  t.teardown(() => h.teardown());

  const connectionTypes = (events: SyncEvent[]) => events.filter((e) => CONNECTION_EVENTS.has(e.type)).map((e) => e.type);
  const ORDER = [EventType.ConnectionAttempted, EventType.ConnectionSucceeded, EventType.SyncStarted, EventType.SyncCompleted];

  // A fresh engine on an empty account.
  const a = h.engine('a', BOB);
  const aEvents = record(a);
  await nextEvent(a, EventType.SyncCompleted);
  t.same(connectionTypes(aEvents), ORDER, 'the first connection of a new engine is observable from its ConnectionAttempted on');
  t.ok((aEvents.find((e) => e.type === EventType.ConnectionAttempted)?.numericData ?? 0) >= 1, 'ConnectionAttempted carries the attempt number');
  t.equal(aEvents.find((e) => e.type === EventType.SyncCompleted)?.numericData, 0, 'nothing to apply');

  const d1 = a.createDocument({ title: 'one' });
  const d2 = a.createDocument({ title: 'two' });
  a.updateDocument(d1, { title: 'one', edited: true });
  await a.whenSynced(5000);

  // A fresh engine joining an account that has documents: they arrive between SyncStarted and SyncCompleted.
  const b = h.engine('b', BOB);
  const bEvents = record(b);
  const bDone = await nextEvent(b, EventType.SyncCompleted);
  t.same(
    bEvents.map((e) => e.type),
    [EventType.ConnectionAttempted, EventType.ConnectionSucceeded, EventType.SyncStarted, EventType.DocumentCreated, EventType.DocumentCreated, EventType.SyncCompleted],
    'a joining engine: the documents arrive between SyncStarted and SyncCompleted',
  );
  t.equal(bDone.numericData, 2, 'SyncCompleted counts the documents applied');

  // A known engine reconnecting catches up on what happened while it was away.
  b.setOnline(false);
  const away = record(b);
  const d3 = a.createDocument({ title: 'three' });
  a.updateDocument(d3, { title: 'three', edited: true });
  a.deleteDocument(d2);
  await a.whenSynced(5000);
  const back = nextEvent(b, EventType.SyncCompleted);
  b.setOnline(true);
  const completed = await back;
  // Different documents are pipelined, so the server's sequence decides the order B replays.
  const order = await h.tdb.db.query<{ document_id: string; event_type: string }>('SELECT document_id, event_type FROM change_events ORDER BY sequence DESC LIMIT 3');
  const TYPE = { create: EventType.DocumentCreated, update: EventType.DocumentUpdated, delete: EventType.DocumentDeleted } as Record<string, EventType>;
  t.same(
    away.map((e) => [e.type, e.documentId]),
    [
      [EventType.ConnectionAttempted, null],
      [EventType.ConnectionSucceeded, null],
      [EventType.SyncStarted, null],
      ...order.rows.reverse().map((r) => [TYPE[r.event_type], r.document_id]),
      [EventType.SyncCompleted, null],
    ],
  );
  t.same(
    away.filter((e) => e.documentId === d3).map((e) => e.type),
    [EventType.DocumentCreated, EventType.DocumentUpdated],
  );
  t.ok(away[0]!.numericData >= 1);
  t.equal(completed.numericData, 3, 'three remote changes applied during the catch-up');
  t.same(b.getDocument(d3)?.content, { title: 'three', edited: true });
  t.same(b.getDocument(d1)?.content, { title: 'one', edited: true });
});

t.test('mergeDocument (RFC 7386) and patchDocument propagate', async (t) => {
  const { h, a, b } = await syncedPair(t, BOB);
  const created = nextEvent(b, EventType.DocumentCreated);
  const id = a.createDocument({ title: 'Merge', meta: { a: 1, b: { c: 2, d: 3 } }, tags: ['x', 'y'], drop: 'me', flat: { deep: true } });
  await created;

  let updated = nextEvent(b, EventType.DocumentUpdated, (e) => e.documentId === id);
  a.mergeDocument(id, { title: 'Merged', meta: { b: { c: null, e: 5 }, z: true }, drop: null, tags: ['q'], flat: 'now a string', fresh: { n: { m: 1 } } });
  const merged = { title: 'Merged', meta: { a: 1, b: { d: 3, e: 5 }, z: true }, tags: ['q'], flat: 'now a string', fresh: { n: { m: 1 } } };
  t.same(a.getDocument(id)?.content, merged, 'applied locally at once');
  t.same((await updated).content, merged);
  t.same(b.getDocument(id)?.content, merged);
  await a.whenSynced(5000);
  t.match(await serverDoc(h, id), { content: merged, syncRevision: 2, title: 'Merged' });
  const wire = (await forwardPatch(h, id, 2)) as { op: string }[];
  t.ok(Array.isArray(wire) && wire.length > 0 && wire.every((o) => typeof o.op === 'string'), 'sent as RFC 6902 ops');

  updated = nextEvent(b, EventType.DocumentUpdated, (e) => e.documentId === id);
  a.patchDocument(id, [
    { op: 'add', path: '/tags/-', value: 'r' },
    { op: 'replace', path: '/meta/a', value: 2 },
    { op: 'remove', path: '/meta/z' },
    { op: 'move', from: '/fresh', path: '/moved' },
    { op: 'test', path: '/title', value: 'Merged' },
  ]);
  const patched = { title: 'Merged', meta: { a: 2, b: { d: 3, e: 5 } }, tags: ['q', 'r'], flat: 'now a string', moved: { n: { m: 1 } } };
  t.same(a.getDocument(id)?.content, patched);
  t.same((await updated).content, patched);
  t.same(b.getDocument(id)?.content, patched);
  await a.whenSynced(5000);
  t.match(await serverDoc(h, id), { content: patched, syncRevision: 3 });

  // A merge that changes nothing is not a change.
  const before = a.pendingCount();
  const aEvents = record(a);
  a.mergeDocument(id, { title: 'Merged', absent: null });
  t.equal(a.pendingCount(), before);
  t.same(aEvents, []);
  t.equal(a.getDocument(id)?.syncRevision, 3);
});

t.test('getDocument reports syncRevision, pending and timestamps through the life of a document', async (t) => {
  const h = await harness();
  t.teardown(() => h.teardown());
  const a = h.engine('a', BOB);
  a.setOnline(false);
  const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
  const tick = () => new Promise((r) => setTimeout(r, 15));

  const id = a.createDocument({ title: 'Life', v: 1 });
  const other = a.createDocument({ title: 'Other' });
  let d = a.getDocument(id)!;
  t.equal(d.id, id);
  t.equal(d.title, 'Life');
  t.same(d.content, { title: 'Life', v: 1 });
  t.equal(d.syncRevision, null, 'null until the create is acknowledged');
  t.equal(d.pending, 1);
  t.match(d.createdAt, ISO);
  t.match(d.updatedAt, ISO);
  t.equal(d.updatedAt, d.createdAt);
  t.equal(d.deletedAt, null);
  const createdAt = d.createdAt;

  await tick();
  a.updateDocument(id, { title: 'Life', v: 2 });
  d = a.getDocument(id)!;
  t.equal(d.syncRevision, null, 'still unacknowledged');
  t.equal(d.pending, 2);
  t.equal(a.getDocument(other)?.pending, 1);
  t.equal(a.pendingCount(), 3);
  t.equal(d.createdAt, createdAt);
  t.ok(Date.parse(d.updatedAt) > Date.parse(createdAt), 'updatedAt moves on an update');

  a.setOnline(true);
  await a.whenSynced(10_000);
  d = a.getDocument(id)!;
  t.equal(d.syncRevision, 2, 'create and update acknowledged');
  t.equal(d.pending, 0);
  t.equal(a.getDocument(other)?.syncRevision, 1);
  t.equal(a.getDocument(other)?.pending, 0);
  t.equal(a.pendingCount(), 0);
  t.equal(d.deletedAt, null);

  // Acknowledged creates are at revision 1.
  const third = a.createDocument({ title: 'Third' });
  t.equal(a.getDocument(third)?.syncRevision, null);
  await a.whenSynced(5000);
  t.equal(a.getDocument(third)?.syncRevision, 1);

  a.setOnline(false);
  await tick();
  const beforeDelete = Date.now();
  a.deleteDocument(id);
  d = a.getDocument(id)!;
  t.not(d.deletedAt, null);
  t.match(d.deletedAt!, ISO);
  t.ok(Date.parse(d.deletedAt!) >= beforeDelete - 1, 'deletedAt is the time of the delete');
  t.equal(d.syncRevision, 2, 'the server revision the view rests on until the delete is acknowledged');
  t.equal(d.pending, 1);
  t.equal(d.createdAt, createdAt);
  t.equal(a.countDocuments(), 2);
  t.same(a.listDocuments().map((x) => x.id).sort(), [other, third].sort());
  t.same(a.listDocuments({ includeDeleted: true }).map((x) => x.id).sort(), [id, other, third].sort());

  a.setOnline(true);
  await a.whenSynced(10_000);
  d = a.getDocument(id)!;
  t.equal(d.syncRevision, 3);
  t.equal(d.pending, 0);
  t.not(d.deletedAt, null);
  t.match(await serverDoc(h, id), { syncRevision: 3 });
  t.equal((await serverDoc(h, id))?.deleted, true);
  t.equal(a.getDocument('00000000-0000-4000-8000-000000000000'), null);
});
