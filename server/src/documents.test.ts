import tap from 'tap';

const t = tap;
import { contentHash, newUuid, titleOf, type PatchOp, type WireDocument } from '@json-sync/core';
import type { TestClient } from '@json-sync/test-support';
import { DOCUMENT_COLUMNS, toWireDocument, type DocumentRow } from './store/documents.js';
import { fileServer } from './test-support/file-server.js';

// The wire's part of documents: exact replies, pushes, titles. What each mutation stores (rows,
// change log, sequences, replays, refusals) is held on both databases by the storage conformance
// suite (test-support/storage-conformance.ts). Every subtest works as its own user (own email).
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

t.test('a replay is answered with the original reply, on any connection of the user, and pushes nothing', async (t) => {
  // What a replay stores and writes (nothing) is the storage conformance suite's; this is the wire's part.
  const a = await connect('replay@example.com');
  const b = await connect('replay@example.com');
  const id = newUuid();
  const createM = { type: 'create_document', document: { id, content: { n: 1 } }, mutation_id: newUuid() };
  const created = await a.mutate(createM);
  const updateM = updateMsg(id, [replace('/n', 2)], { base_revision: 1 });
  const updated = await a.mutate(updateM);
  await b.next((m) => m.type === 'document_updated');
  await a.ping();
  await b.ping();
  const pushesBefore = pushesIn(b).length;

  t.strictSame(await a.mutate(createM), created, 'create replay: the original reply');
  t.strictSame(await a.mutate(updateM), updated, 'update replay: the original reply');
  t.strictSame(await b.mutate(createM), created, 'through another connection of the user: still the original reply');
  await a.ping();
  await b.ping();
  t.strictSame(pushesIn(a), [], 'replays push nothing');
  t.equal(pushesIn(b).length, pushesBefore, 'replays push nothing');
});

/** Runs request_full_sync and returns the synced documents, checking sync_complete's count. */
async function fullSyncOf(c: TestClient): Promise<WireDocument[]> {
  const complete = await c.request({ type: 'request_full_sync' }, (m) => m.type === 'sync_complete');
  const docs = c.all('sync_document').map((m) => m.document);
  if (complete.type !== 'sync_complete' || complete.synced_count !== docs.length) throw new Error(`sync_complete does not match: ${JSON.stringify(complete)}, ${docs.length} documents`);
  return docs;
}

