import tap from 'tap';

const t = tap;
import { applyPatch, contentHash, newUuid, titleOf, type PatchOp, type ServerMessage, type WireDocument } from '@json-sync/core';
import { DOCUMENT_COLUMNS, toWireDocument, type DocumentRow } from './store/documents.js';
import { fileServer } from './test-support/file-server.js';
import type { TestClient } from './test-support/ws-client.js';

// Every subtest works as its own user (own email).
const { tdb, connect } = await fileServer(t, 'documents_test');

const PUSH_TYPES = new Set(['document_created', 'document_updated', 'document_deleted']);
const pushesIn = (c: TestClient) => c.received.filter((m) => PUSH_TYPES.has(m.type));
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

async function docRow(id: string): Promise<DocumentRow | undefined> {
  const r = await tdb.db.query<DocumentRow>(
    `SELECT ${DOCUMENT_COLUMNS} FROM documents WHERE id = $1`,
    [id],
  );
  return r.rows[0];
}

/** Checks the wire times are RFC 3339, then rewrites them in ISO form so they compare with `toWireDocument`. */
function normalizeWire(t: Pick<typeof tap, 'match'>, d: WireDocument): WireDocument {
  for (const k of ['created_at', 'updated_at'] as const) t.match(d[k], RFC3339, `${k} is RFC 3339`);
  if (d.deleted_at !== null) t.match(d.deleted_at, RFC3339, 'deleted_at is RFC 3339');
  const iso = (s: string) => new Date(s).toISOString();
  return { ...d, created_at: iso(d.created_at), updated_at: iso(d.updated_at), deleted_at: d.deleted_at === null ? null : iso(d.deleted_at) };
}

async function counts(userId: string): Promise<{ events: number; mutations: number; conflicts: number; last_sequence: number }> {
  const r = await tdb.db.query<{ events: number; mutations: number; conflicts: number; last_sequence: number }>(
    `SELECT (SELECT count(*) FROM change_events WHERE user_id = $1)::int AS events,
            (SELECT count(*) FROM mutations WHERE user_id = $1)::int AS mutations,
            (SELECT count(*) FROM conflicts WHERE user_id = $1)::int AS conflicts,
            (SELECT last_sequence FROM users WHERE id = $1) AS last_sequence`,
    [userId],
  );
  return r.rows[0]!;
}

const replace = (path: string, value: unknown): PatchOp => ({ op: 'replace', path, value }) as PatchOp;

function updateMsg(documentId: string, patch: PatchOp[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: 'update_document', patch: { document_id: documentId, patch }, mutation_id: newUuid(), ...extra };
}

t.test('create, update and delete replies carry exactly the specified fields', async (t) => {
  const a = await connect('replies@example.com');
  const id = newUuid();
  const content = { title: 'hello', n: 1, nested: { list: [1, 'two', null] } };
  const createId = newUuid();
  const created = await a.mutate({ type: 'create_document', document: { id, content }, mutation_id: createId });
  t.strictSame(created, {
    type: 'document_created_response',
    document_id: id,
    success: true,
    sync_revision: 1,
    content_hash: contentHash(content),
    sequence: 1,
    mutation_id: createId,
  });

  const updateId = newUuid();
  const updated = await a.mutate(updateMsg(id, [replace('/n', 2)], { base_revision: 1, mutation_id: updateId }));
  t.strictSame(updated, {
    type: 'document_updated_response',
    document_id: id,
    success: true,
    sync_revision: 2,
    content_hash: contentHash({ ...content, n: 2 }),
    sequence: 2,
    merged: false,
    mutation_id: updateId,
  }, 'an unmerged update carries no document');

  const deleteId = newUuid();
  const deleted = await a.mutate({ type: 'delete_document', document_id: id, base_revision: 2, mutation_id: deleteId });
  t.strictSame(deleted, {
    type: 'document_deleted_response',
    document_id: id,
    success: true,
    sync_revision: 3,
    sequence: 3,
    mutation_id: deleteId,
  });

  const row = (await docRow(id))!;
  t.equal(row.sync_revision, 3);
  t.not(row.deleted_at, null, 'delete is soft: the row stays, marked deleted');
  t.strictSame(row.content, { ...content, n: 2 });
});

t.test('pushes reach the user\'s other connection only: no echo, nothing to another user', async (t) => {
  const a = await connect('pushes@example.com');
  const b = await connect('pushes@example.com');
  const stranger = await connect('pushes-stranger@example.com');
  t.not(a.clientId, b.clientId);
  t.equal(a.userId, b.userId);
  t.not(stranger.userId, a.userId);

  const id = newUuid();
  const content = { title: 'Pushed', body: 'x' };
  const createId = newUuid();
  await a.mutate({ type: 'create_document', document: { id, content }, mutation_id: createId });
  const pushCreated = await b.next((m) => m.type === 'document_created');
  if (pushCreated.type !== 'document_created') throw new Error('unreachable');
  const afterCreate = (await docRow(id))!;
  t.strictSame(
    { ...pushCreated, document: normalizeWire(t, pushCreated.document) },
    { type: 'document_created', document: toWireDocument(afterCreate), sequence: 1, client_id: a.clientId, mutation_id: createId },
    'document_created carries the full wire document',
  );
  t.strictSame(pushCreated.document.content, content);
  t.equal(pushCreated.document.title, 'Pushed');
  t.equal(pushCreated.document.user_id, a.userId);
  t.equal(pushCreated.document.deleted_at, null);

  const patch = [replace('/body', 'y'), { op: 'add', path: '/extra', value: [1] } as PatchOp];
  const updateId = newUuid();
  await a.mutate(updateMsg(id, patch, { base_revision: 1, mutation_id: updateId }));
  const pushUpdated = await b.next((m) => m.type === 'document_updated');
  t.strictSame(pushUpdated, {
    type: 'document_updated',
    document_id: id,
    patch,
    sync_revision: 2,
    content_hash: contentHash({ title: 'Pushed', body: 'y', extra: [1] }),
    sequence: 2,
    client_id: a.clientId,
    mutation_id: updateId,
  });

  const deleteId = newUuid();
  await a.mutate({ type: 'delete_document', document_id: id, base_revision: 2, mutation_id: deleteId });
  const pushDeleted = await b.next((m) => m.type === 'document_deleted');
  t.strictSame(pushDeleted, { type: 'document_deleted', document_id: id, sync_revision: 3, sequence: 3, client_id: a.clientId, mutation_id: deleteId });

  // The pushes have arrived at b; a pong proves everything sent earlier to a and the stranger was delivered too.
  await a.ping();
  await stranger.ping();
  await b.ping();
  t.strictSame(pushesIn(a), [], 'no echo to the sender');
  t.strictSame(pushesIn(stranger), [], 'nothing pushed to another user');
  t.strictSame(pushesIn(b), [], 'exactly one push per change');
});

t.test('title follows content.title through create, update and removal', async (t) => {
  const a = await connect('titles@example.com');
  const b = await connect('titles@example.com');
  const id = newUuid();
  await a.create({ title: 'First', body: 'x' }, id);
  const pushed = await b.next((m) => m.type === 'document_created');
  t.equal(pushed.type === 'document_created' && pushed.document.title, 'First');
  t.equal((await docRow(id))!.title, 'First');

  const r1 = await a.mutate(updateMsg(id, [replace('/title', 'Second')], { base_revision: 1 }));
  t.equal(r1.type, 'document_updated_response');
  t.equal((await docRow(id))!.title, 'Second');

  const r2 = await a.mutate(updateMsg(id, [{ op: 'remove', path: '/title' } as PatchOp], { base_revision: 2 }));
  t.equal(r2.type, 'document_updated_response');
  t.equal((await docRow(id))!.title, null, 'no content.title → null');

  const r3 = await a.mutate(updateMsg(id, [{ op: 'add', path: '/title', value: 42 } as PatchOp], { base_revision: 3 }));
  t.equal(r3.type, 'document_updated_response');
  t.equal((await docRow(id))!.title, null, 'a non-string title → null');

  const r4 = await a.mutate(updateMsg(id, [replace('/title', 'Back')], { base_revision: 4 }));
  t.equal(r4.type, 'document_updated_response');
  const synced = await fullSyncOf(a);
  t.equal(synced.find((d) => d.id === id)?.title, 'Back', 'full sync shows the current title');
});

t.test('a title longer than 128 code points is cut without splitting a surrogate pair', async (t) => {
  const a = await connect('long-title@example.com');
  // 127 ASCII then astral characters: code point 128 is an emoji of two UTF-16 units.
  const long = 'a'.repeat(127) + '😀'.repeat(5) + 'tail';
  const expected = 'a'.repeat(127) + '😀';
  t.equal(titleOf({ title: long }), expected, 'core agrees on the cut');
  const id = newUuid();
  await a.create({ title: long }, id);
  const row = (await docRow(id))!;
  t.equal(row.title, expected);
  t.equal([...row.title!].length, 128);
  t.strictSame(row.content, { title: long }, 'the content keeps the full title');

  const emojiOnly = '😀'.repeat(200);
  const id2 = newUuid();
  await a.create({ title: 'short' }, id2);
  await a.mutate(updateMsg(id2, [replace('/title', emojiOnly)], { base_revision: 1 }));
  t.equal((await docRow(id2))!.title, '😀'.repeat(128), 'an update cuts the same way');
});

t.test('a title sent beside content in create_document is the title while the content has none', async (t) => {
  const a = await connect('side-title@example.com');
  const b = await connect('side-title@example.com');
  const id = newUuid();
  const r = await a.mutate({ type: 'create_document', document: { id, content: { body: 'no title here' }, title: 'Given' } });
  t.equal(r.type, 'document_created_response');
  t.equal((await docRow(id))!.title, 'Given');
  const push = await b.next((m) => m.type === 'document_created' && m.document.id === id);
  t.equal(push.type === 'document_created' && push.document.title, 'Given', 'pushed with it');
  t.strictSame(push.type === 'document_created' && push.document.content, { body: 'no title here' }, 'the given title does not leak into content');

  await a.mutate({ type: 'update_document', patch: { document_id: id, patch: [{ op: 'add', path: '/title', value: 'From content' }] } });
  t.equal((await docRow(id))!.title, 'From content', "once the content has a title, it is the content's");
  await a.mutate({ type: 'update_document', patch: { document_id: id, patch: [{ op: 'remove', path: '/title' }] } });
  t.equal((await docRow(id))!.title, 'Given', 'and without it, the given one again');

  const id2 = newUuid();
  const r2 = await a.mutate({ type: 'create_document', document: { id: id2, content: { title: 'Real' }, title: 'Fake' } });
  t.equal(r2.type, 'document_created_response');
  t.equal((await docRow(id2))!.title, 'Real', 'content.title wins over a given title');

  const id3 = newUuid();
  await a.mutate({ type: 'create_document', document: { id: id3, content: {}, title: '😀'.repeat(200) } });
  t.equal((await docRow(id3))!.title, '😀'.repeat(128), 'a given title is cut like every title');
  const bad = await a.mutate(JSON.parse(`{"type":"create_document","document":{"id":"${newUuid()}","content":{},"title":"a\\u0000b"}}`));
  t.match(bad, { type: 'error', code: 'invalid_message' }, 'and refused when it holds U+0000');
});

t.test('sequences are 1, 2, 3 … per user and independent between users', async (t) => {
  const x = await connect('seq-x@example.com');
  const y = await connect('seq-y@example.com');
  const xs: number[] = [];
  const ys: number[] = [];
  const xDoc = newUuid();
  const yDoc = newUuid();
  xs.push((await x.create({ n: 0 }, xDoc)).sequence);
  ys.push((await y.create({ n: 0 }, yDoc)).sequence);
  for (let i = 1; i <= 3; i++) {
    const rx = await x.mutate(updateMsg(xDoc, [replace('/n', i)]));
    if (rx.type !== 'document_updated_response') throw new Error(JSON.stringify(rx));
    xs.push(rx.sequence);
    xs.push((await x.create({ i })).sequence);
    if (i < 3) {
      const ry = await y.mutate(updateMsg(yDoc, [replace('/n', i)]));
      if (ry.type !== 'document_updated_response') throw new Error(JSON.stringify(ry));
      ys.push(ry.sequence);
    }
  }
  const rd = await x.mutate({ type: 'delete_document', document_id: xDoc, mutation_id: newUuid() });
  t.equal(rd.type, 'document_deleted_response');
  if (rd.type === 'document_deleted_response') xs.push(rd.sequence);
  t.strictSame(xs, [1, 2, 3, 4, 5, 6, 7, 8]);
  t.strictSame(ys, [1, 2, 3]);
  const stored = await tdb.db.query<{ sequence: number }>('SELECT sequence FROM change_events WHERE user_id = $1 ORDER BY sequence', [x.userId]);
  t.strictSame(stored.rows.map((r) => r.sequence), xs, 'the log holds the same dense sequences');
  t.equal((await counts(x.userId)).last_sequence, 8);
  t.equal((await counts(y.userId)).last_sequence, 3);
});

t.test('sync_revision goes up by one per update and per delete', async (t) => {
  const a = await connect('revisions@example.com');
  const id = newUuid();
  t.equal((await a.create({ n: 0 }, id)).sync_revision, 1);
  const revisions: number[] = [];
  for (let i = 1; i <= 4; i++) {
    const r = await a.mutate(updateMsg(id, [replace('/n', i)], { base_revision: i }));
    if (r.type !== 'document_updated_response') throw new Error(JSON.stringify(r));
    revisions.push(r.sync_revision);
  }
  t.strictSame(revisions, [2, 3, 4, 5]);
  const d = await a.mutate({ type: 'delete_document', document_id: id, base_revision: 5, mutation_id: newUuid() });
  t.match(d, { type: 'document_deleted_response', sync_revision: 6 });
  t.equal((await docRow(id))!.sync_revision, 6);
});

t.test('replays of every mutation kind return the original reply and write nothing', async (t) => {
  const a = await connect('replay@example.com');
  const b = await connect('replay@example.com');
  const id = newUuid();
  const createM = { type: 'create_document', document: { id, content: { n: 1 } }, mutation_id: newUuid() };
  const created = await a.mutate(createM);
  const updateM = updateMsg(id, [replace('/n', 2)], { base_revision: 1 });
  const updated = await a.mutate(updateM);
  // b still believes revision 1 and edits the same path: it loses.
  const conflictM = updateMsg(id, [replace('/n', 99)], { base_revision: 1 });
  const conflicted = await b.mutate(conflictM);
  t.equal(conflicted.type, 'conflict_detected');
  // Move on, so a replay recomputed from the current state would differ from the stored reply.
  t.match(await a.mutate(updateMsg(id, [replace('/n', 3)])), { type: 'document_updated_response', sync_revision: 3 });
  const deleteM = { type: 'delete_document', document_id: id, base_revision: 3, mutation_id: newUuid() };
  const deleted = await a.mutate(deleteM);
  t.match(created, { type: 'document_created_response', sequence: 1 });
  t.match(updated, { type: 'document_updated_response', sequence: 2 });
  t.match(deleted, { type: 'document_deleted_response', sync_revision: 4, sequence: 4 });
  await b.next((m) => m.type === 'document_deleted');
  await a.ping();
  await b.ping();
  const pushesBefore = pushesIn(b).length;
  t.strictSame(pushesIn(a), []);

  const before = await counts(a.userId);
  t.match(before, { events: 4, conflicts: 1, last_sequence: 4 });
  const rowBefore = (await docRow(id))!;

  const cases: [string, TestClient, Record<string, unknown>, ServerMessage][] = [
    ['create', a, createM, created],
    ['update', a, updateM, updated],
    ['conflicted update', b, conflictM, conflicted],
    ['delete', a, deleteM, deleted],
  ];
  for (const [kind, sender, message, original] of cases) {
    t.strictSame(await sender.mutate(message), original, `${kind} replay returns the original reply`);
  }
  // The same replays from the other connection of the user are still replays.
  t.strictSame(await b.mutate(createM), created, 'a replay through another connection is still a replay');

  t.strictSame(await counts(a.userId), before, 'no change_events, mutations or conflicts rows written');
  t.strictSame(await docRow(id), rowBefore, 'the document is untouched');
  await a.ping();
  await b.ping();
  t.strictSame(pushesIn(a), [], 'replays push nothing');
  t.equal(pushesIn(b).length, pushesBefore, 'replays push nothing');
});

t.test('a reused mutation_id with a different payload is invalid_message', async (t) => {
  const a = await connect('reuse@example.com');
  const id = newUuid();
  const createM = { type: 'create_document', document: { id, content: { n: 1 } }, mutation_id: newUuid() };
  await a.mutate(createM);
  const updateM = updateMsg(id, [replace('/n', 2)], { base_revision: 1 });
  await a.mutate(updateM);
  const before = await counts(a.userId);
  const rowBefore = (await docRow(id))!;

  const attempts: [string, Record<string, unknown>][] = [
    ['create with other content', { ...createM, document: { id, content: { n: 7 } } }],
    ['create for another id', { ...createM, document: { id: newUuid(), content: { n: 1 } } }],
    ['update with another patch', { ...updateM, patch: { document_id: id, patch: [replace('/n', 3)] } }],
    ['update with another base', { ...updateM, base_revision: 2 }],
    ['delete reusing an update id', { type: 'delete_document', document_id: id, mutation_id: updateM.mutation_id }],
  ];
  for (const [what, message] of attempts) {
    const r = await a.mutate(message);
    t.match(r, { type: 'error', code: 'invalid_message', mutation_id: message.mutation_id }, what);
    t.type((r as { message?: unknown }).message, 'string');
  }
  t.strictSame(await counts(a.userId), before, 'nothing written');
  t.strictSame(await docRow(id), rowBefore, 'the document is untouched');
  t.equal(await tdb.db.query('SELECT 1 FROM documents WHERE user_id = $1', [a.userId]).then((r) => r.rowCount), 1, 'no second document');
});

t.test('get_changes_since and request_full_sync reflect the changes', async (t) => {
  const a = await connect('catchup@example.com');
  const d1 = newUuid();
  const d2 = newUuid();
  const c1 = { title: 'one', n: 1 };
  const c2 = { title: 'two', list: [1, 2] };
  const m1 = (await a.create(c1, d1)).mutation_id;
  const m2 = (await a.create(c2, d2)).mutation_id;
  const ops = [replace('/n', 5), { op: 'add', path: '/tags', value: ['x'] } as PatchOp];
  const u = updateMsg(d1, ops, { base_revision: 1 });
  t.match(await a.mutate(u), { type: 'document_updated_response', sequence: 3 });
  const del = { type: 'delete_document', document_id: d2, base_revision: 1, mutation_id: newUuid() };
  t.match(await a.mutate(del), { type: 'document_deleted_response', sequence: 4 });
  const c1After = { title: 'one', n: 5, tags: ['x'] };

  const changes = await a.request({ type: 'get_changes_since', last_sequence: 0 }, (m) => m.type === 'changes');
  if (changes.type !== 'changes') throw new Error('unreachable');
  t.equal(changes.latest_sequence, 4);
  t.equal(changes.has_more, false);
  t.strictSame(changes.events.map((e) => e.sequence), [1, 2, 3, 4]);
  for (const e of changes.events) t.match(e.created_at, RFC3339);
  const [e1, e2, e3, e4] = changes.events;
  t.match(e1, { document_id: d1, event_type: 'create', forward_patch: c1, reverse_patch: null, sync_revision: 1, content_hash: contentHash(c1), client_id: a.clientId, mutation_id: m1 });
  t.strictSame(e1!.forward_patch, c1);
  t.match(e2, { document_id: d2, event_type: 'create', sync_revision: 1, content_hash: contentHash(c2), client_id: a.clientId, mutation_id: m2 });
  t.match(e3, { document_id: d1, event_type: 'update', sync_revision: 2, content_hash: contentHash(c1After), client_id: a.clientId, mutation_id: u.mutation_id });
  t.strictSame(e3!.forward_patch, ops);
  t.strictSame(applyPatch(c1After, e3!.reverse_patch as PatchOp[]), c1, 'the reverse patch restores the previous content');
  t.match(e4, { document_id: d2, event_type: 'delete', forward_patch: null, sync_revision: 2, client_id: a.clientId, mutation_id: del.mutation_id });

  const tail = await a.request({ type: 'get_changes_since', last_sequence: 2 }, (m) => m.type === 'changes');
  t.match(tail, { type: 'changes', latest_sequence: 4, has_more: false });
  t.strictSame(tail.type === 'changes' && tail.events.map((e) => e.sequence), [3, 4]);

  const page = await a.request({ type: 'get_changes_since', last_sequence: 0, limit: 3 }, (m) => m.type === 'changes');
  t.match(page, { type: 'changes', latest_sequence: 4, has_more: true });
  t.strictSame(page.type === 'changes' && page.events.map((e) => e.sequence), [1, 2, 3]);

  const docs = await fullSyncOf(a, 4);
  t.equal(docs.length, 1, 'the deleted document is not synced');
  const row = (await docRow(d1))!;
  t.strictSame(normalizeWire(t, docs[0]!), toWireDocument(row));
  t.match(docs[0], { id: d1, title: 'one', content: c1After, sync_revision: 2, content_hash: contentHash(c1After), deleted_at: null });
});

/** Runs request_full_sync and returns the synced documents, checking sync_complete's count (and sequence when given). */
async function fullSyncOf(c: TestClient, latestSequence?: number): Promise<WireDocument[]> {
  const complete = await c.request({ type: 'request_full_sync' }, (m) => m.type === 'sync_complete');
  const docs = c.all('sync_document').map((m) => m.document);
  // Consume them so a later full sync starts clean.
  for (let i = 0; i < docs.length; i++) await c.next((m) => m.type === 'sync_document');
  if (complete.type !== 'sync_complete' || complete.synced_count !== docs.length) throw new Error(`sync_complete does not match: ${JSON.stringify(complete)}, ${docs.length} documents`);
  if (latestSequence !== undefined && complete.latest_sequence !== latestSequence) throw new Error(`sync_complete.latest_sequence ${complete.latest_sequence}, expected ${latestSequence}`);
  return docs;
}

t.test('content_hash without base_revision guards the update; neither applies to the latest', async (t) => {
  const a = await connect('hash@example.com');
  const id = newUuid();
  const v1 = { n: 1, s: 'a' };
  await a.create(v1, id);
  const v2 = { n: 2, s: 'a' };
  const ok = await a.mutate({ type: 'update_document', patch: { document_id: id, patch: [replace('/n', 2)], content_hash: contentHash(v1) }, mutation_id: newUuid() });
  t.match(ok, { type: 'document_updated_response', sync_revision: 2, merged: false, content_hash: contentHash(v2), sequence: 2 });

  const before = await counts(a.userId);
  const staleM = { type: 'update_document', patch: { document_id: id, patch: [replace('/s', 'b')], content_hash: contentHash(v1) }, mutation_id: newUuid() };
  const stale = await a.mutate(staleM);
  if (stale.type !== 'conflict_detected') throw new Error(`expected conflict_detected, got ${JSON.stringify(stale)}`);
  t.strictSame(
    { ...stale, server_document: normalizeWire(t, stale.server_document) },
    { type: 'conflict_detected', document_id: id, resolution_strategy: 'server_wins', server_document: toWireDocument((await docRow(id))!), rejected_patch: [replace('/s', 'b')], mutation_id: staleM.mutation_id },
  );
  t.equal(stale.server_document.sync_revision, 2);
  t.strictSame(stale.server_document.content, v2);
  const after = await counts(a.userId);
  t.strictSame({ ...after, mutations: 0 }, { ...before, mutations: 0, conflicts: before.conflicts + 1 }, 'a conflict writes no change event, only a conflicts row');

  const blind = await a.mutate(updateMsg(id, [replace('/s', 'c')]));
  t.match(blind, { type: 'document_updated_response', sync_revision: 3, merged: false, sequence: 3, content_hash: contentHash({ n: 2, s: 'c' }) });
  t.strictSame((await docRow(id))!.content, { n: 2, s: 'c' });
});

t.test('update or delete of an unknown id is document_not_found', async (t) => {
  const a = await connect('unknown@example.com');
  const other = await connect('unknown-owner@example.com');
  const theirs = newUuid();
  await other.create({ secret: 1 }, theirs);
  for (const id of [newUuid(), theirs]) {
    const upd = updateMsg(id, [replace('/n', 1)], { base_revision: 1 });
    t.match(await a.mutate(upd), { type: 'error', code: 'document_not_found', mutation_id: upd.mutation_id });
    const delM = { type: 'delete_document', document_id: id, mutation_id: newUuid() };
    t.match(await a.mutate(delM), { type: 'error', code: 'document_not_found', mutation_id: delM.mutation_id });
  }
  t.match(await counts(a.userId), { events: 0, conflicts: 0, last_sequence: 0 });
  t.strictSame((await docRow(theirs))!.content, { secret: 1 }, "another user's document is untouched");
  t.equal((await docRow(theirs))!.sync_revision, 1);
  // The connection stays usable and the sequence starts at 1.
  t.equal((await a.create({ n: 1 })).sequence, 1);
});
