import t, { type Test } from 'tap';
import { newUuid, type JsonObject } from '@json-sync/core';
import { EventType } from '../events.js';
import { engineParts, type Parts } from '../test-support/parts.js';
import { created, creationEvent, deleted, serverWins } from '../test-support/stream.js';
import { createPlan } from './local-changes.js';

/** An item of LocalChanges.createMany: the content with its JSON text. */
const item = (id: string, content: JsonObject) => ({ id, content, text: JSON.stringify(content) });

/** The kept count against a scan of the views table, and the pending count against the outbox rows. */
function agrees(t: Test, p: Parts, what: string): void {
  const { counts, store, outbox } = p.ctx;
  t.equal(counts.documents, store.countLive(), `${what}: live documents`);
  const queued = store.listViews(true).reduce((n, v) => n + v.pending, 0);
  t.equal(outbox.pending, queued, `${what}: pending`);
}

t.test('local changes: the count follows every create, delete and re-create, and listeners hear each commit before its event', async (t) => {
  const p = engineParts(t);
  const { counts, store } = p.ctx;
  const heard: string[] = [];
  counts.onCommitted(() => {
    t.notOk(store.inTransaction, 'told after the commit');
    heard.push(`counts ${counts.documents} (events so far: ${p.events.length})`);
  });
  const a = newUuid();
  const b = newUuid();
  p.local.change(a, 'local', createPlan(a, { title: 'a' }));
  p.local.change(b, 'local', createPlan(b, { title: 'b' }));
  agrees(t, p, 'two creates');
  p.local.change(a, 'local', (c) => ({ kind: 'delete', content: null, forward: null, reverse: c.content }));
  agrees(t, p, 'a deleted');
  t.equal(counts.documents, 1);
  p.local.change(a, 'local', createPlan(a, { title: 'a again' }));
  agrees(t, p, 'a created again');
  t.equal(counts.documents, 2);
  p.local.change(b, 'local', () => null);
  t.same(heard, ['counts 1 (events so far: 0)', 'counts 2 (events so far: 1)', 'counts 1 (events so far: 2)', 'counts 2 (events so far: 3)'], 'one call per commit, none for a change that wrote nothing');
});

t.test('a bulk create that fails is rolled back with its count, and nobody is told', async (t) => {
  const p = engineParts(t);
  const { counts } = p.ctx;
  let told = 0;
  counts.onCommitted(() => told++);
  const taken = newUuid();
  p.local.change(taken, 'local', createPlan(taken, { title: 'taken' }));
  const fresh = newUuid();
  t.throws(() => p.local.createMany([item(fresh, { title: 'fresh' }), item(taken, { title: 'again' })]));
  agrees(t, p, 'after the rollback');
  t.equal(counts.documents, 1);
  t.equal(told, 1, 'only the first create was told');
  p.local.createMany([item(fresh, { title: 'fresh' }), item(newUuid(), {})]);
  agrees(t, p, 'after a bulk create');
  t.equal(told, 2, 'one call for the whole bulk create');
});

t.test('remote changes, rebases, conflicts and a full snapshot keep the count', async (t) => {
  const p = engineParts(t);
  const { replica, outbox, counts } = p.ctx;
  const remote = newUuid();
  p.apply(() => replica.receive(created(1, remote, { title: 'theirs' })));
  agrees(t, p, 'remote create');
  // Our create of an id someone else created first: it no longer applies, but it may be on its
  // way to the server, so it waits for the server's answer — which refuses it.
  const contested = newUuid();
  p.local.change(contested, 'local', createPlan(contested, { title: 'ours' }));
  p.apply(() => replica.receive(created(2, contested, { title: 'theirs too' })));
  agrees(t, p, 'contested create');
  p.apply(() => replica.onConflict(serverWins(contested, { title: 'theirs too' }, 1, outbox.at(outbox.rowsOf(contested)[0]!.seq)!.mutationId)));
  agrees(t, p, 'refused create');
  p.apply(() => replica.receive(deleted(3, remote, 2)));
  agrees(t, p, 'remote delete');
  t.equal(counts.documents, 1);
  // Our delete loses against the server's version: the document is back.
  p.local.change(contested, 'local', (c) => ({ kind: 'delete', content: null, forward: null, reverse: c.content }));
  agrees(t, p, 'local delete');
  p.apply(() => replica.onConflict(serverWins(contested, { title: 'kept' }, 2, outbox.at(outbox.rowsOf(contested)[0]!.seq)!.mutationId)));
  agrees(t, p, 'lost delete');
  t.equal(counts.documents, 1);
  // A full snapshot that no longer lists it drops it.
  p.apply(() => replica.completeSnapshot(true, new Set(), 3));
  agrees(t, p, 'dropped by a snapshot');
  t.equal(counts.documents, 0);
});

t.test('the inbox tells listeners once per slice, after it committed and before its events', async (t) => {
  const p = engineParts(t);
  const { counts } = p.ctx;
  const { inbox } = p.ctx;
  const order: string[] = [];
  counts.onCommitted(() => order.push(`counts ${counts.documents}`));
  p.ctx.events.onEvent((e) => order.push(`event ${e.type}`), EventType.DocumentCreated);
  inbox.push({ type: 'change', change: creationEvent(1, { title: 'pushed' }) });
  await new Promise((resolve) => setImmediate(resolve));
  t.same(order, ['counts 1', `event ${EventType.DocumentCreated}`]);
  agrees(t, p, 'after the slice');
});

t.test('a listener that throws is logged and does not stop the others', async (t) => {
  const p = engineParts(t);
  let second = 0;
  p.ctx.counts.onCommitted(() => {
    throw new Error('boom');
  });
  const off = p.ctx.counts.onCommitted(() => second++);
  const id = newUuid();
  p.local.change(id, 'local', createPlan(id, {}));
  t.equal(second, 1);
  off();
  const other = newUuid();
  p.local.change(other, 'local', createPlan(other, {}));
  t.equal(second, 1, 'unsubscribed');
});
