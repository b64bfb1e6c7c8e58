import t from 'tap';
import type { ServerMessage, ServerMessageOf } from '@json-sync/core';
import { TestClient } from '@json-sync/test-support';
import { fileServer } from './test-support/file-server.js';

// Catch-up as messages: get_changes_since, request_full_sync (with and without since_sequence) and
// ack_changes — their replies, the page cap, the errors, and the connection afterwards. What the log
// and a full sync hold (order, patches, deletes, other users, pruning, cursors outside the log) is
// held on both databases by the storage conformance suite (test-support/storage-conformance.ts).
const { server, creds, connect } = await fileServer(t, 'sync_catchup');

type Changes = ServerMessageOf<'changes'>;

function changesSince(c: TestClient, last_sequence: number, limit?: number): Promise<ServerMessage> {
  return c.request({ type: 'get_changes_since', last_sequence, ...(limit === undefined ? {} : { limit }) }, (m) => m.type === 'changes' || m.type === 'error');
}

async function page(c: TestClient, last_sequence: number, limit?: number): Promise<Changes> {
  const r = await changesSince(c, last_sequence, limit);
  if (r.type !== 'changes') throw new Error(`expected changes, got ${JSON.stringify(r)}`);
  return r;
}

/** Sends request_full_sync and collects its answer: the documents sent before it, then sync_complete (or an error). */
async function fullSync(c: TestClient, since?: number): Promise<{ docs: ServerMessageOf<'sync_document'>['document'][]; done: ServerMessage }> {
  c.received.length = 0;
  const done = await c.request({ type: 'request_full_sync', ...(since !== undefined ? { since_sequence: since } : {}) }, (m) => m.type === 'sync_complete' || m.type === 'error');
  return { docs: c.all('sync_document').map((m) => m.document), done };
}

/** Fires `n` creates at once (pipelined on one socket) and returns their responses. */
function createMany(c: TestClient, n: number): Promise<ServerMessageOf<'document_created_response'>[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => c.create({ title: `doc ${i}`, i })));
}

t.test('a page holds the limit asked for, never more than max_changes_page (also without a limit)', async (t) => {
  const c = await TestClient.open(server.url);
  t.teardown(() => c.close());
  const auth = await c.authenticate({ email: 'capped@example.com', ...creds });
  if (auth.type !== 'auth_success') throw new Error(JSON.stringify(auth));
  const max = auth.limits.max_changes_page;
  await createMany(c, max + 5);
  t.match(await page(c, 0, 10), { events: { length: 10 }, has_more: true, latest_sequence: max + 5 }, 'the limit asked for');
  const p = await page(c, 0, max * 10);
  t.equal(p.events.length, max, `a page holds at most max_changes_page (${max}) events`);
  t.equal(p.has_more, true);
  t.equal(p.latest_sequence, max + 5);
  t.equal(p.events.at(-1)!.sequence, max);
  t.equal((await page(c, 0)).events.length, max, 'no limit at all means the same cap');
  const rest = await page(c, max, max * 10);
  t.same(rest.events.map((e) => e.sequence), [max + 1, max + 2, max + 3, max + 4, max + 5]);
  t.equal(rest.has_more, false);
});

t.test('a cursor ahead of the latest sequence is cursor_expired, and the connection stays usable', async (t) => {
  const c = await connect('ahead@example.com');
  await createMany(c, 3);
  const r = await changesSince(c, 4);
  t.match(r, { type: 'error', code: 'cursor_expired' });
  t.equal((r as ServerMessageOf<'error'>).mutation_id, undefined, 'an error that answers no mutation carries no mutation_id');
  t.match(await page(c, 3), { type: 'changes', events: [], latest_sequence: 3, has_more: false }, 'the exact latest cursor is fine');
});

t.test('request_full_sync sends each live document, then sync_complete', async (t) => {
  const c = await connect('fullsync@example.com');
  const docs = await Promise.all([c.create({ title: 'one', n: 1 }), c.create({ title: 'two', n: 2 }), c.create({ title: 'three', n: 3 })]);
  const sorted = [...docs].sort((a, b) => a.sequence - b.sequence);
  t.match(await c.mutate({ type: 'delete_document', document_id: sorted[1]!.document_id }), { type: 'document_deleted_response', sequence: 4 });

  const { docs: synced, done } = await fullSync(c);
  t.same(done, { type: 'sync_complete', synced_count: 2, latest_sequence: 4 });
  t.same(new Set(synced.map((d) => d.id)), new Set([sorted[0]!.document_id, sorted[2]!.document_id]), 'every sync_document arrived before sync_complete; the deleted document is not among them');
  t.ok(synced.every((d) => d.user_id === c.userId && d.deleted_at === null), 'each is a live document of the user');
});

t.test('request_full_sync for a user without documents', async (t) => {
  const c = await connect('fullsync-empty@example.com');
  t.same(await fullSync(c), { docs: [], done: { type: 'sync_complete', synced_count: 0, latest_sequence: 0 } });
});

t.test('since_sequence: the documents changed after it, deleted ones too, and sync_complete echoes it', async (t) => {
  const c = await connect('since@example.com');
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push((await c.create({ i, n: 0 })).document_id);
  for (const id of ids.slice(0, 2)) await c.mutate({ type: 'update_document', patch: { document_id: id, patch: [{ op: 'replace', path: '/n', value: 1 }] } });
  t.match(await c.mutate({ type: 'delete_document', document_id: ids[4]! }), { type: 'document_deleted_response', sequence: 8 });

  const { docs, done } = await fullSync(c, 5);
  t.same(done, { type: 'sync_complete', synced_count: 3, latest_sequence: 8, since_sequence: 5 });
  t.same(docs.map((d) => d.id).sort(), [ids[0]!, ids[1]!, ids[4]!].sort());
  t.same(docs.filter((d) => d.deleted_at !== null).map((d) => d.id), [ids[4]!], 'the deleted one with deleted_at set');
  t.notOk('since_sequence' in (await fullSync(c)).done, 'a full sync without it has no since_sequence in its sync_complete');
  t.match((await fullSync(c, 9)).done, { type: 'error', code: 'cursor_expired' }, 'one ahead of the log is cursor_expired');
});

t.test('ack_changes answers the stored sequence, which never moves back; one beyond the log is invalid_message', async (t) => {
  const c = await connect('acker@example.com');
  await createMany(c, 5);
  const ack = (up_to_sequence: number) => c.request({ type: 'ack_changes', up_to_sequence }, (m) => m.type === 'changes_acknowledged' || m.type === 'error');
  t.same(await ack(3), { type: 'changes_acknowledged', sequence: 3 });
  t.same(await ack(5), { type: 'changes_acknowledged', sequence: 5 });
  t.same(await ack(2), { type: 'changes_acknowledged', sequence: 5 }, 'an older ack answers the stored, higher sequence');
  t.match(await ack(6), { type: 'error', code: 'invalid_message' });
  t.same(await ack(0), { type: 'changes_acknowledged', sequence: 5 });
  const d = await connect('acker@example.com');
  t.same(await d.request({ type: 'ack_changes', up_to_sequence: 1 }, (m) => m.type === 'changes_acknowledged'), { type: 'changes_acknowledged', sequence: 1 }, 'per client');
});
