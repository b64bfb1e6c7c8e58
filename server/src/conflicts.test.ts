import tap from 'tap';
import { contentHash, newUuid, type PatchOp, type ServerMessage, type ServerMessageOf, type WireDocument } from '@json-sync/core';
import type { TestClient } from '@json-sync/test-support';
import { DOCUMENT_COLUMNS, toWireDocument, type DocumentRow } from './store/documents.js';
import { fileServer } from './test-support/file-server.js';

const t = tap;

// Every subtest is its own user (own email) with two clients.
const { tdb, connect } = await fileServer(t, 'conflicts_test');

/** Two connections of one user with different client_ids: the two sides of every conflict below. */
async function pair(email: string): Promise<{ a: TestClient; b: TestClient }> {
  const a = await connect(email);
  const b = await connect(email);
  if (a.clientId === b.clientId || a.userId !== b.userId) throw new Error('pair is not two clients of one user');
  return { a, b };
}

async function docRow(id: string): Promise<DocumentRow> {
  const r = await tdb.db.query<DocumentRow>(
    `SELECT ${DOCUMENT_COLUMNS} FROM documents WHERE id = $1`,
    [id],
  );
  if (!r.rows[0]) throw new Error(`no document ${id}`);
  return r.rows[0];
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function normalizeWire(d: WireDocument): WireDocument {
  for (const v of [d.created_at, d.updated_at, d.deleted_at]) if (v !== null && !RFC3339.test(v)) throw new Error(`not RFC 3339: ${v}`);
  const iso = (s: string) => new Date(s).toISOString();
  return { ...d, created_at: iso(d.created_at), updated_at: iso(d.updated_at), deleted_at: d.deleted_at === null ? null : iso(d.deleted_at) };
}

interface State {
  revision: number;
  events: number;
  lastSequence: number;
  conflicts: number;
}

async function state(userId: string, docId: string): Promise<State> {
  const r = await tdb.db.query<{ revision: number; events: number; last_sequence: number; conflicts: number }>(
    `SELECT (SELECT sync_revision FROM documents WHERE id = $2) AS revision,
            (SELECT count(*) FROM change_events WHERE user_id = $1)::int AS events,
            (SELECT last_sequence FROM users WHERE id = $1) AS last_sequence,
            (SELECT count(*) FROM conflicts WHERE user_id = $1)::int AS conflicts`,
    [userId, docId],
  );
  const row = r.rows[0]!;
  return { revision: row.revision, events: row.events, lastSequence: row.last_sequence, conflicts: row.conflicts };
}

const replace = (path: string, value: unknown): PatchOp => ({ op: 'replace', path, value }) as PatchOp;

function update(documentId: string, patch: PatchOp[], baseRevision?: number): Record<string, unknown> & { mutation_id: string } {
  return { type: 'update_document', patch: { document_id: documentId, patch }, ...(baseRevision !== undefined ? { base_revision: baseRevision } : {}), mutation_id: newUuid() };
}

function del(documentId: string, baseRevision?: number): Record<string, unknown> & { mutation_id: string } {
  return { type: 'delete_document', document_id: documentId, ...(baseRevision !== undefined ? { base_revision: baseRevision } : {}), mutation_id: newUuid() };
}

async function applied(c: TestClient, message: Record<string, unknown>): Promise<ServerMessageOf<'document_updated_response'>> {
  const r = await c.mutate(message);
  if (r.type !== 'document_updated_response') throw new Error(`expected document_updated_response, got ${JSON.stringify(r)}`);
  return r;
}

/**
 * Sends a mutation expected to lose and checks everything a conflict promises: the exact
 * conflict_detected reply (server_document = the current row), one conflicts row, and an
 * unchanged revision, log and sequence.
 */
async function expectConflict(
  t: Tap,
  c: TestClient,
  docId: string,
  message: Record<string, unknown> & { mutation_id: string },
  rejected: unknown,
  what: string,
): Promise<ServerMessageOf<'conflict_detected'>> {
  const before = await state(c.userId, docId);
  const rowBefore = await docRow(docId);
  const r = await c.mutate(message);
  if (r.type !== 'conflict_detected') {
    t.fail(`${what}: expected conflict_detected, got ${JSON.stringify(r)}`);
    return r as never;
  }
  const expected: Record<string, unknown> = {
    type: 'conflict_detected',
    document_id: docId,
    resolution_strategy: 'server_wins',
    server_document: toWireDocument(rowBefore),
    rejected_patch: rejected,
    mutation_id: message.mutation_id,
  };
  const got: Record<string, unknown> = { ...r, server_document: normalizeWire(r.server_document) };
  if (rejected === undefined) {
    // Only the presence of rejected_patch is specified here, not its form.
    t.ok('rejected_patch' in r, `${what}: rejected_patch present`);
    delete expected.rejected_patch;
    delete got.rejected_patch;
  }
  t.strictSame(got, expected, `${what}: conflict_detected with the current document`);
  const after = await state(c.userId, docId);
  t.strictSame(after, { ...before, conflicts: before.conflicts + 1 }, `${what}: revision, log and sequence unchanged; one conflicts row`);
  t.strictSame(await docRow(docId), rowBefore, `${what}: document untouched`);
  const stored = await tdb.db.query<{ document_id: string; base_revision: number | null; lost_to_revision: number; client_id: string }>(
    'SELECT document_id, base_revision, lost_to_revision, client_id FROM conflicts WHERE user_id = $1 AND mutation_id = $2',
    [c.userId, message.mutation_id],
  );
  t.strictSame(
    stored.rows,
    [{ document_id: docId, base_revision: (message.base_revision as number | undefined) ?? null, lost_to_revision: rowBefore.sync_revision, client_id: c.clientId }],
    `${what}: conflicts row stores base and winning revision`,
  );
  return r;
}

type Tap = Pick<typeof tap, 'fail' | 'ok' | 'strictSame'>;

const PUSH_TYPES = new Set(['document_created', 'document_updated', 'document_deleted']);
const pushesIn = (c: TestClient) => c.received.filter((m: ServerMessage) => PUSH_TYPES.has(m.type));

t.test("a client's own earlier edits never conflict with its later ones", async (t) => {
  const { a, b } = await pair('own@example.com');
  const id = newUuid();
  await a.create({ n: 0, s: 'x' }, id);
  t.match(await applied(a, update(id, [replace('/n', 1)], 1)), { sync_revision: 2, merged: false, sequence: 2 });
  const again = await applied(a, update(id, [replace('/n', 2)], 1));
  t.match(again, { sync_revision: 3, merged: false, sequence: 3 }, 'same path, still base 1: applies, not a merge');
  t.notOk('document' in again, 'no merged document');
  const third = await applied(a, update(id, [{ op: 'remove', path: '/n' } as PatchOp, replace('/s', 'y')], 2));
  t.match(third, { sync_revision: 4, merged: false, sequence: 4 });
  t.strictSame((await docRow(id)).content, { s: 'y' });
  t.equal((await state(a.userId, id)).conflicts, 0);
  // The other client saw every step.
  await b.next((m) => m.type === 'document_updated' && m.sequence === 4);
});

t.test('disjoint edits from two clients on the same base merge', async (t) => {
  const { a, b } = await pair('disjoint@example.com');
  const id = newUuid();
  await a.create({ title: 'Doc', left: 0, right: 0 }, id);
  t.match(await applied(a, update(id, [replace('/left', 1)], 1)), { sync_revision: 2, merged: false });
  const m = update(id, [replace('/right', 1)], 1);
  const r = await applied(b, m);
  const row = await docRow(id);
  const merged = { title: 'Doc', left: 1, right: 1 };
  t.strictSame(row.content, merged);
  t.strictSame(
    { ...r, document: r.document && normalizeWire(r.document) },
    {
      type: 'document_updated_response',
      document_id: id,
      success: true,
      sync_revision: 3,
      content_hash: contentHash(merged),
      sequence: 3,
      merged: true,
      document: toWireDocument(row),
      mutation_id: m.mutation_id,
    },
    'merged: true with the full result carrying both changes',
  );
  const push = await a.next((x) => x.type === 'document_updated' && x.sequence === 3);
  t.match(push, { document_id: id, patch: [replace('/right', 1)], sync_revision: 3, content_hash: contentHash(merged), client_id: b.clientId, mutation_id: m.mutation_id });
});

t.test('the same path edited by two clients: the server wins and the loser is stored', async (t) => {
  const { a, b } = await pair('same-path@example.com');
  const id = newUuid();
  await a.create({ title: 'T', v: 0 }, id);
  await applied(a, update(id, [replace('/v', 'a')], 1));
  const losing = update(id, [replace('/v', 'b')], 1);
  const r = await expectConflict(t, b, id, losing, [replace('/v', 'b')], 'same path');
  t.match(r.server_document, { sync_revision: 2, content: { title: 'T', v: 'a' } });
  const stored = await tdb.db.query('SELECT mutation_type, rejected_patch FROM conflicts WHERE mutation_id = $1', [losing.mutation_id]);
  t.strictSame(stored.rows, [{ mutation_type: 'update_document', rejected_patch: [replace('/v', 'b')] }]);
  // A conflict is no change: nothing is pushed to the other client, and the next change takes the next sequence.
  await a.ping();
  await b.ping();
  t.strictSame(pushesIn(a), [], 'no push for a conflict');
  t.match(await applied(b, update(id, [replace('/v', 'c')], 2)), { sync_revision: 3, sequence: 3, merged: false });
});

t.test('arrays: edits inside one array conflict, an array and a sibling key merge', async (t) => {
  const { a, b } = await pair('arrays@example.com');
  const id = newUuid();
  await a.create({ list: [1, 2, 3], other: 0 }, id);
  await applied(a, update(id, [replace('/list/0', 10)], 1));
  await expectConflict(t, b, id, update(id, [replace('/list/2', 30)], 1), [replace('/list/2', 30)], 'different indexes of one array');
  const append = [{ op: 'add', path: '/list/-', value: 4 } as PatchOp];
  await expectConflict(t, b, id, update(id, append, 1), append, 'append to an array another client changed');
  const whole = [replace('/list', [])];
  await expectConflict(t, b, id, update(id, whole, 1), whole, 'replace of the whole array');

  const sibling = await applied(b, update(id, [replace('/other', 1)], 1));
  t.match(sibling, { merged: true, sync_revision: 3, sequence: 3 });
  t.strictSame((await docRow(id)).content, { list: [10, 2, 3], other: 1 });

  // The other way round: a sibling key changed first, then an element edit on the old base merges.
  const id2 = newUuid();
  await a.create({ list: [{ x: 1 }], other: 0 }, id2);
  await applied(a, update(id2, [replace('/other', 5)], 1));
  t.match(await applied(b, update(id2, [replace('/list/0/x', 2)], 1)), { merged: true, sync_revision: 3 });
  t.strictSame((await docRow(id2)).content, { list: [{ x: 2 }], other: 5 });
});

t.test('move and copy touch their from path', async (t) => {
  const { a, b } = await pair('move-copy@example.com');
  const id = newUuid();
  await a.create({ src: { x: 1 }, quiet: 'q' }, id);
  await applied(a, update(id, [replace('/src/x', 2)], 1));
  const copy = [{ op: 'copy', from: '/src/x', path: '/dst' } as PatchOp];
  await expectConflict(t, b, id, update(id, copy, 1), copy, 'copy from a changed path');
  const move = [{ op: 'move', from: '/src', path: '/moved' } as PatchOp];
  await expectConflict(t, b, id, update(id, move, 1), move, 'move from a parent of a changed path');
  // Copying from an untouched path to a fresh key is disjoint.
  const quietCopy = [{ op: 'copy', from: '/quiet', path: '/q2' } as PatchOp];
  t.match(await applied(b, update(id, quietCopy, 1)), { merged: true, sync_revision: 3 });

  // The winner's move touched its from: an edit under it loses.
  const id2 = newUuid();
  await a.create({ box: { k: 1 }, keep: 0 }, id2);
  await applied(a, update(id2, [{ op: 'move', from: '/box', path: '/crate' } as PatchOp], 1));
  await expectConflict(t, b, id2, update(id2, [replace('/box/k', 2)], 1), [replace('/box/k', 2)], "edit under the other client's move source");
  t.match(await applied(b, update(id2, [replace('/keep', 1)], 1)), { merged: true, sync_revision: 3 });
  t.strictSame((await docRow(id2)).content, { crate: { k: 1 }, keep: 1 });
});

t.test('a test op on a path another client changed conflicts', async (t) => {
  const { a, b } = await pair('test-op@example.com');
  const id = newUuid();
  await a.create({ guard: 1, target: 0, free: 0 }, id);
  await applied(a, update(id, [replace('/guard', 2)], 1));
  const guarded = [{ op: 'test', path: '/guard', value: 1 } as PatchOp, replace('/target', 1)];
  await expectConflict(t, b, id, update(id, guarded, 1), guarded, 'test on a changed path');
  // The same shape with a test on an unchanged path merges.
  const fine = [{ op: 'test', path: '/free', value: 0 } as PatchOp, replace('/target', 1)];
  t.match(await applied(b, update(id, fine, 1)), { merged: true, sync_revision: 3 });
  t.strictSame((await docRow(id)).content, { guard: 2, target: 1, free: 0 });
});

t.test('a parent and its child overlap, in both directions', async (t) => {
  const { a, b } = await pair('parent-child@example.com');
  const id = newUuid();
  await a.create({ a: { b: 1, c: 1 }, z: 0 }, id);
  await applied(a, update(id, [replace('/a', { b: 5 })], 1));
  await expectConflict(t, b, id, update(id, [replace('/a/c', 2)], 1), [replace('/a/c', 2)], 'child of a replaced parent');

  const id2 = newUuid();
  await a.create({ a: { b: 1 }, z: 0 }, id2);
  await applied(a, update(id2, [replace('/a/b', 2)], 1));
  await expectConflict(t, b, id2, update(id2, [replace('/a', {})], 1), [replace('/a', {})], 'parent of a changed child');
  const removeParent = [{ op: 'remove', path: '/a' } as PatchOp];
  await expectConflict(t, b, id2, update(id2, removeParent, 1), removeParent, 'removal of the parent');
  t.match(await applied(b, update(id2, [replace('/z', 1)], 1)), { merged: true, sync_revision: 3 }, 'a sibling still merges');

  // A key that merely shares leading characters (/ab vs /a) is a different path.
  const id3 = newUuid();
  await a.create({ a: 1, ab: 1 }, id3);
  await applied(a, update(id3, [replace('/ab', 2)], 1));
  t.match(await applied(b, update(id3, [replace('/a', 2)], 1)), { merged: true, sync_revision: 3 });
  t.strictSame((await docRow(id3)).content, { a: 2, ab: 2 });
});

t.test('a stale delete conflicts; an own-client stale delete does not', async (t) => {
  const { a, b } = await pair('stale-delete@example.com');
  const id = newUuid();
  await a.create({ n: 0 }, id);
  await applied(a, update(id, [replace('/n', 1)], 1));
  const r = await expectConflict(t, b, id, del(id, 1), null, 'delete based before another client\'s update');
  t.equal(r.server_document.deleted_at, null, 'the document stays live');
  const stored = await tdb.db.query('SELECT mutation_type FROM conflicts WHERE mutation_id = $1', [r.mutation_id]);
  t.strictSame(stored.rows, [{ mutation_type: 'delete_document' }]);

  // a's own update since its base does not count against it.
  const own = await a.mutate(del(id, 1));
  t.match(own, { type: 'document_deleted_response', sync_revision: 3, sequence: 3 });
  t.not((await docRow(id)).deleted_at, null);
  await b.next((m) => m.type === 'document_deleted' && m.document_id === id && m.sequence === 3);
});

t.test('an update of a deleted document conflicts', async (t) => {
  const { a, b } = await pair('update-deleted@example.com');
  const id = newUuid();
  await a.create({ n: 0 }, id);
  t.match(await a.mutate(del(id, 1)), { type: 'document_deleted_response', sync_revision: 2 });
  const stale = await expectConflict(t, b, id, update(id, [replace('/n', 1)], 1), [replace('/n', 1)], 'update based before the delete');
  t.not(stale.server_document.deleted_at, null, 'server_document shows the deletion');
  t.equal(stale.server_document.sync_revision, 2);
  await expectConflict(t, a, id, update(id, [replace('/n', 1)], 2), [replace('/n', 1)], 'update at the deleted revision');
  await expectConflict(t, b, id, del(id, 1), null, 'a second, stale delete');
});

t.test('create_document with the current revision revives a deleted document', async (t) => {
  const { a, b } = await pair('revive@example.com');
  const id = newUuid();
  await a.create({ title: 'Old', v: 1 }, id);
  t.match(await a.mutate(del(id, 1)), { type: 'document_deleted_response', sync_revision: 2, sequence: 2 });

  const reviveContent = { title: 'New', v: 2 };
  const revive = { type: 'create_document', document: { id, content: reviveContent }, base_revision: 2, mutation_id: newUuid() };
  const r = await b.mutate(revive);
  t.strictSame(r, {
    type: 'document_created_response',
    document_id: id,
    success: true,
    sync_revision: 3,
    content_hash: contentHash(reviveContent),
    sequence: 3,
    mutation_id: revive.mutation_id,
  });
  const row = await docRow(id);
  t.equal(row.deleted_at, null);
  t.equal(row.sync_revision, 3);
  t.equal(row.title, 'New');
  t.strictSame(row.content, reviveContent);
  const push = await a.next((m) => m.type === 'document_created' && m.sequence === 3);
  if (push.type !== 'document_created') throw new Error('unreachable');
  t.strictSame(
    { ...push, document: normalizeWire(push.document) },
    { type: 'document_created', document: toWireDocument(row), sequence: 3, client_id: b.clientId, mutation_id: revive.mutation_id },
    'the other client is told the document exists again',
  );
  t.equal(push.document.deleted_at, null);
  const ev = await tdb.db.query('SELECT event_type, sync_revision FROM change_events WHERE user_id = $1 AND sequence = 3', [a.userId]);
  t.strictSame(ev.rows, [{ event_type: 'create', sync_revision: 3 }]);
  await b.ping();
  t.strictSame(pushesIn(b).filter((m) => (m as { mutation_id?: string }).mutation_id === revive.mutation_id), [], 'no echo of the revive');
  t.equal(pushesIn(b).length, 2, "b got only a's create and delete");
});

t.test('create_document for a live id or with a wrong base_revision conflicts', async (t) => {
  const { a, b } = await pair('revive-wrong@example.com');
  const id = newUuid();
  await a.create({ v: 1 }, id);
  const createMsg = (base?: number) => ({
    type: 'create_document',
    document: { id, content: { v: 9 } },
    ...(base !== undefined ? { base_revision: base } : {}),
    mutation_id: newUuid(),
  });
  await expectConflict(t, b, id, createMsg(), undefined, 'create for a live id');
  await expectConflict(t, b, id, createMsg(1), undefined, 'create for a live id at its revision');
  t.match(await a.mutate(del(id, 1)), { type: 'document_deleted_response', sync_revision: 2 });
  await expectConflict(t, b, id, createMsg(1), undefined, 'revive with an older base_revision');
  await expectConflict(t, b, id, createMsg(3), undefined, 'revive with a future base_revision');
  await expectConflict(t, b, id, createMsg(), undefined, 'revive without base_revision');
  const row = await docRow(id);
  t.not(row.deleted_at, null, 'still deleted');
  t.strictSame(row.content, { v: 1 });
});
