import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { applyPatch, contentHash, type JsonObject, type ServerMessage, type ServerMessageOf } from '@json-sync/core';
import { createTestDatabase } from './test-support/database.js';
import { CLI, startServer } from './test-support/server-process.js';
import { TestClient, type Identity } from './test-support/ws-client.js';

const run = promisify(execFile);

const tdb = await createTestDatabase('sync_catchup');
t.teardown(() => tdb.drop());
const creds = await tdb.credentials();
const server = await startServer({ databaseUrl: tdb.url });
t.teardown(() => server.stop());

const clients: TestClient[] = [];
t.teardown(() => clients.forEach((c) => c.close()));

function identity(name: string, clientId?: string): Identity {
  return { email: `${name}@example.com`, apiKey: creds.apiKey, secret: creds.secret, ...(clientId ? { clientId } : {}) };
}

async function connect(name: string, clientId?: string): Promise<TestClient> {
  const c = await TestClient.connect(server.url, identity(name, clientId));
  clients.push(c);
  return c;
}

type Changes = ServerMessageOf<'changes'>;
type ErrorMessage = ServerMessageOf<'error'>;

function changesSince(c: TestClient, last_sequence: number, limit?: number): Promise<Changes | ErrorMessage> {
  return c.request({ type: 'get_changes_since', last_sequence, ...(limit === undefined ? {} : { limit }) }, (m) => m.type === 'changes' || m.type === 'error') as Promise<
    Changes | ErrorMessage
  >;
}

async function page(c: TestClient, last_sequence: number, limit?: number): Promise<Changes> {
  const r = await changesSince(c, last_sequence, limit);
  if (r.type !== 'changes') throw new Error(`expected changes, got ${JSON.stringify(r)}`);
  return r;
}

/** Fires `n` creates at once (pipelined on one socket) and returns their responses. */
function createMany(c: TestClient, n: number): Promise<ServerMessageOf<'document_created_response'>[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => c.create({ title: `doc ${i}`, i })));
}

function update(c: TestClient, document_id: string, patch: unknown[], base_revision?: number): Promise<ServerMessage> {
  return c.mutate({ type: 'update_document', patch: { document_id, patch }, ...(base_revision === undefined ? {} : { base_revision }) });
}

function remove(c: TestClient, document_id: string, base_revision?: number): Promise<ServerMessage> {
  return c.mutate({ type: 'delete_document', document_id, ...(base_revision === undefined ? {} : { base_revision }) });
}

t.test('get_changes_since pages 25 changes as 10/10/5 with contiguous sequences', async (t) => {
  const c = await connect('pager');
  const created = await createMany(c, 25);
  t.same(
    created.map((r) => r.sequence).sort((a, b) => a - b),
    Array.from({ length: 25 }, (_, i) => i + 1),
    'the 25 creates took sequences 1..25',
  );
  const p1 = await page(c, 0, 10);
  const p2 = await page(c, p1.events.at(-1)!.sequence, 10);
  const p3 = await page(c, p2.events.at(-1)!.sequence, 10);
  t.same([p1.events.length, p2.events.length, p3.events.length], [10, 10, 5]);
  t.same([p1.has_more, p2.has_more, p3.has_more], [true, true, false]);
  t.same([p1.latest_sequence, p2.latest_sequence, p3.latest_sequence], [25, 25, 25]);
  const seqs = [...p1.events, ...p2.events, ...p3.events].map((e) => e.sequence);
  t.same(seqs, Array.from({ length: 25 }, (_, i) => i + 1), 'pages are contiguous, in order, without repeats');
  // Each event is the create that produced it.
  const byDoc = new Map(created.map((r) => [r.document_id, r]));
  for (const e of [...p1.events, ...p2.events, ...p3.events]) {
    const r = byDoc.get(e.document_id);
    t.ok(r, `event ${e.sequence} names a created document`);
    t.equal(e.sequence, r!.sequence);
    t.equal(e.event_type, 'create');
    t.equal(e.sync_revision, 1);
    t.equal(e.content_hash, r!.content_hash);
    t.equal(e.client_id, c.clientId);
    t.equal(e.mutation_id, r!.mutation_id);
  }
  // Past the end: an empty final page.
  const end = await page(c, 25, 10);
  t.same(end.events, []);
  t.equal(end.has_more, false);
  t.equal(end.latest_sequence, 25);
});

t.test('a limit above max_changes_page is capped to it', async (t) => {
  const c = await TestClient.open(server.url);
  clients.push(c);
  const auth = await c.authenticate(identity('capped'));
  if (auth.type !== 'auth_success') throw new Error(JSON.stringify(auth));
  const max = auth.limits.max_changes_page;
  await createMany(c, max + 5);
  const p = await page(c, 0, max * 10);
  t.equal(p.events.length, max, `a page holds at most max_changes_page (${max}) events`);
  t.equal(p.has_more, true);
  t.equal(p.latest_sequence, max + 5);
  t.equal(p.events.at(-1)!.sequence, max);
  // No limit at all means the same cap.
  const q = await page(c, 0);
  t.equal(q.events.length, max);
  const rest = await page(c, max, max * 10);
  t.same(rest.events.map((e) => e.sequence), [max + 1, max + 2, max + 3, max + 4, max + 5]);
  t.equal(rest.has_more, false);
});

t.test('change events carry forward and reverse patches per event type', async (t) => {
  const c = await connect('patches');
  const v1: JsonObject = { title: 'first', tags: ['a', 'b'], nested: { x: 1, y: [1, 2, 3] } };
  const created = await c.create(v1);
  const id = created.document_id;
  const ops1 = [
    { op: 'replace', path: '/title', value: 'second' },
    { op: 'remove', path: '/tags/0' },
    { op: 'add', path: '/nested/z', value: { deep: true } },
    { op: 'move', from: '/nested/x', path: '/moved' },
  ];
  const u1 = await update(c, id, ops1, 1);
  t.match(u1, { type: 'document_updated_response', sync_revision: 2, sequence: 2, merged: false });
  const v2 = applyPatch(v1, ops1 as never);
  const ops2 = [{ op: 'copy', from: '/nested/y', path: '/copied' }, { op: 'remove', path: '/nested/y/1' }];
  const u2 = await update(c, id, ops2, 2);
  t.match(u2, { type: 'document_updated_response', sync_revision: 3, sequence: 3 });
  const v3 = applyPatch(v2, ops2 as never);
  const d = await remove(c, id, 3);
  t.match(d, { type: 'document_deleted_response', document_id: id, sync_revision: 4, sequence: 4 });

  const p = await page(c, 0);
  t.same(p.events.map((e) => [e.sequence, e.event_type, e.sync_revision]), [
    [1, 'create', 1],
    [2, 'update', 2],
    [3, 'update', 3],
    [4, 'delete', 4],
  ]);
  const [create, up1, up2, del] = p.events as [Changes['events'][number], Changes['events'][number], Changes['events'][number], Changes['events'][number]];

  t.same(create.forward_patch, v1, 'create: forward is the full content');
  t.equal(create.reverse_patch, null, 'create: reverse is null');
  t.equal(create.content_hash, contentHash(v1));

  t.same(up1.forward_patch, ops1, 'update: forward is the patch as sent');
  t.same(applyPatch(v2, up1.reverse_patch as never), v1, 'update: reverse restores the previous content exactly');
  t.equal(up1.content_hash, contentHash(v2));
  t.same(up2.forward_patch, ops2);
  t.same(applyPatch(v3, up2.reverse_patch as never), v2);
  t.equal(up2.content_hash, contentHash(v3));

  t.equal(del.forward_patch, null, 'delete: forward is null');
  t.same(del.reverse_patch, v3, 'delete: reverse is the full content before the delete');
  t.equal(del.document_id, id);
  for (const e of p.events) t.equal(e.client_id, c.clientId);
  t.same(p.events.map((e) => e.mutation_id), [created.mutation_id, (u1 as { mutation_id: string }).mutation_id, (u2 as { mutation_id: string }).mutation_id, (d as { mutation_id: string }).mutation_id]);
});

t.test('deletes appear in the change log between other changes', async (t) => {
  const c = await connect('deleter');
  const a = await c.create({ title: 'a' });
  const b = await c.create({ title: 'b', keep: true });
  t.match(await remove(c, a.document_id), { type: 'document_deleted_response', sync_revision: 2, sequence: 3 });
  t.match(await update(c, b.document_id, [{ op: 'add', path: '/n', value: 1 }]), { type: 'document_updated_response', sequence: 4 });
  const p = await page(c, 2);
  t.same(
    p.events.map((e) => [e.sequence, e.document_id, e.event_type]),
    [
      [3, a.document_id, 'delete'],
      [4, b.document_id, 'update'],
    ],
  );
  t.equal(p.events[0]!.forward_patch, null);
  t.same(p.events[0]!.reverse_patch, { title: 'a' });
  t.equal(p.latest_sequence, 4);
  t.equal(p.has_more, false);
});

t.test('a cursor ahead of the latest sequence is cursor_expired', async (t) => {
  const c = await connect('ahead');
  await createMany(c, 3);
  const r = await changesSince(c, 4);
  t.equal(r.type, 'error');
  t.equal((r as ErrorMessage).code, 'cursor_expired');
  t.equal((r as ErrorMessage).mutation_id, undefined);
  // The connection stays usable and the exact latest cursor is fine.
  const ok = await page(c, 3);
  t.same(ok.events, []);
  t.equal(ok.latest_sequence, 3);
  // A brand-new user: anything above 0 is ahead.
  const fresh = await connect('ahead-fresh');
  t.match(await changesSince(fresh, 1), { type: 'error', code: 'cursor_expired' });
  t.match(await page(fresh, 0), { type: 'changes', events: [], latest_sequence: 0, has_more: false });
});

t.test('request_full_sync sends each live document then sync_complete', async (t) => {
  const c = await connect('fullsync');
  const docs = await Promise.all([c.create({ title: 'one', n: 1 }), c.create({ title: 'two', n: 2 }), c.create({ title: 'three', n: 3 }), c.create({ n: 4 })]);
  const sorted = [...docs].sort((a, b) => a.sequence - b.sequence);
  t.match(await remove(c, sorted[1]!.document_id), { type: 'document_deleted_response', sequence: 5 });
  t.match(await update(c, sorted[0]!.document_id, [{ op: 'replace', path: '/title', value: 'one v2' }]), { type: 'document_updated_response', sync_revision: 2, sequence: 6 });
  // Another user's documents never appear.
  const other = await connect('fullsync-other');
  await other.create({ title: 'not yours' });

  const complete = await c.request({ type: 'request_full_sync' }, (m) => m.type === 'sync_complete');
  t.same(complete, { type: 'sync_complete', synced_count: 3, latest_sequence: 6 });
  const synced = c.all('sync_document');
  // Every sync_document arrived before sync_complete (they were already buffered when it came).
  t.equal(synced.length, 3);
  const live = new Set([sorted[0]!.document_id, sorted[2]!.document_id, sorted[3]!.document_id]);
  t.same(new Set(synced.map((s) => s.document.id)), live, 'the deleted document is excluded');
  for (const s of synced) {
    t.equal(s.document.user_id, c.userId);
    t.equal(s.document.deleted_at, null);
    t.equal(s.document.content_hash, contentHash(s.document.content));
  }
  const first = synced.find((s) => s.document.id === sorted[0]!.document_id)!.document;
  t.equal(first.sync_revision, 2);
  t.equal(first.title, 'one v2');
  t.same(first.content, { title: 'one v2', n: 1 });
  const untitled = synced.find((s) => s.document.id === sorted[3]!.document_id)!.document;
  t.equal(untitled.title, null);
  t.same(untitled.content, { n: 4 });
});

t.test('request_full_sync for a user without documents', async (t) => {
  const c = await connect('fullsync-empty');
  t.same(await c.request({ type: 'request_full_sync' }, (m) => m.type === 'sync_complete'), { type: 'sync_complete', synced_count: 0, latest_sequence: 0 });
  t.same(c.all('sync_document'), []);
});

t.test('ack_changes stores the acknowledged sequence and never moves it back', async (t) => {
  const c = await connect('acker');
  await createMany(c, 5);
  const ackRow = async () =>
    (await tdb.db.query<{ acked_sequence: number }>('SELECT acked_sequence FROM client_acks WHERE user_id = $1 AND client_id = $2', [c.userId, c.clientId])).rows.map(
      (r) => r.acked_sequence,
    );
  const ack = (up_to_sequence: number) => c.request({ type: 'ack_changes', up_to_sequence }, (m) => m.type === 'changes_acknowledged' || m.type === 'error');

  t.same(await ackRow(), [], 'no row before the first ack');
  t.same(await ack(3), { type: 'changes_acknowledged', sequence: 3 });
  t.same(await ackRow(), [3]);
  t.same(await ack(5), { type: 'changes_acknowledged', sequence: 5 });
  t.same(await ackRow(), [5]);
  t.same(await ack(2), { type: 'changes_acknowledged', sequence: 5 }, 'an older ack answers the stored, higher sequence');
  t.same(await ackRow(), [5], 'the stored ack did not go back');
  const beyond = await ack(6);
  t.equal(beyond.type, 'error');
  t.equal((beyond as ErrorMessage).code, 'invalid_message');
  t.same(await ackRow(), [5], 'an ack beyond the latest sequence stores nothing');
  t.same(await ack(0), { type: 'changes_acknowledged', sequence: 5 });

  // Acks are per client: another client of the same user starts from nothing.
  const d = await connect('acker');
  t.same(await d.request({ type: 'ack_changes', up_to_sequence: 1 }, (m) => m.type === 'changes_acknowledged'), { type: 'changes_acknowledged', sequence: 1 });
  const rows = await tdb.db.query<{ client_id: string; acked_sequence: number }>('SELECT client_id, acked_sequence FROM client_acks WHERE user_id = $1 ORDER BY acked_sequence', [
    c.userId,
  ]);
  t.same(rows.rows, [
    { client_id: d.clientId, acked_sequence: 1 },
    { client_id: c.clientId, acked_sequence: 5 },
  ]);
});

// Pruning touches every user's log, so these come last.
t.test('after prune-log, a cursor older than the kept log is cursor_expired', async (t) => {
  const prune = async (days: number) => {
    const r = await run(process.execPath, [CLI, 'prune-log', '--older-than-days', String(days)], { env: { ...process.env, DATABASE_URL: tdb.url, LOG_LEVEL: 'warn' } });
    return r.stdout;
  };
  const c = await connect('pruned');
  await createMany(c, 15);
  // Age the first 10 events so a 1-day retention cuts exactly there.
  await tdb.db.query(`UPDATE change_events SET created_at = now() - interval '2 days' WHERE user_id = $1 AND sequence <= 10`, [c.userId]);
  t.match(await prune(1), /Removed 10 change-log entries/);
  t.same((await tdb.db.query('SELECT pruned_through FROM users WHERE id = $1', [c.userId])).rows, [{ pruned_through: 10 }]);

  for (const stale of [0, 5, 9]) t.match(await changesSince(c, stale), { type: 'error', code: 'cursor_expired' }, `cursor ${stale} is behind the log`);
  const kept = await page(c, 10);
  t.same(kept.events.map((e) => e.sequence), [11, 12, 13, 14, 15], 'the cursor at the cut reads the rest');
  t.equal(kept.latest_sequence, 15);

  // --older-than-days 0 cuts everything: only a current cursor still works.
  const out = await prune(0);
  t.match(out, /Removed \d+ change-log entries/);
  t.same((await tdb.db.query('SELECT count(*)::int AS n FROM change_events WHERE user_id = $1', [c.userId])).rows, [{ n: 0 }]);
  t.match(await changesSince(c, 10), { type: 'error', code: 'cursor_expired' });
  t.match(await changesSince(c, 14), { type: 'error', code: 'cursor_expired' });
  t.same(await page(c, 15), { type: 'changes', events: [], latest_sequence: 15, has_more: false }, 'a current cursor still works');

  // New changes after the prune continue the sequence and are readable from the current cursor.
  const next = await c.create({ title: 'after prune' });
  t.equal(next.sequence, 16);
  const after = await page(c, 15);
  t.same(after.events.map((e) => [e.sequence, e.document_id]), [[16, next.document_id]]);
  t.match(await changesSince(c, 14), { type: 'error', code: 'cursor_expired' });
  // Full sync is the way back for a client whose cursor expired.
  t.match(await c.request({ type: 'request_full_sync' }, (m) => m.type === 'sync_complete'), { synced_count: 16, latest_sequence: 16 });
});
