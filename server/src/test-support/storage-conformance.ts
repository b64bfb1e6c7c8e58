import type { Test } from 'tap';
import {
  applyPatch,
  contentHash,
  DEFAULT_LIMITS,
  newUuid,
  type ChangeEvent,
  type JsonObject,
  type MutationMessage,
  type PatchOp,
  type ServerMessage,
} from '@json-sync/core';
import { acknowledge, changesSince, fullSync, pruneLog } from '../changes.js';
import type { Database } from '../db/database.js';
import { MIGRATIONS, migrate } from '../db/migrations.js';
import { createLogger } from '../logger.js';
import { createMetrics } from '../metrics.js';
import { MutationBatcher, type BatchResult } from '../mutations/batcher.js';
import { DOCUMENT_COLUMNS, toWireDocument, type DocumentRow } from '../store/documents.js';
import { checkReplies, coverageGaps, makeHistories, verifyHistory, type EventRow } from './change-log-histories.js';

/**
 * The storage conformance suite: what the server stores and reads back, through its own write path
 * (the mutation batcher) and read paths (catch-up, full sync, acknowledgements, pruning), held the
 * same on every `Database` implementation. db/storage-postgres.test.ts and db/storage-pglite.test.ts
 * run it on PostgreSQL (pg) and on embedded PGlite.
 */
export interface StorageBackend {
  /** For the test names. */
  name: string;
  /** A fresh database holding the server's schema, closed and removed when `t` ends. */
  migrated(t: Test): Promise<Database>;
  /** A fresh database with nothing in it, closed and removed when `t` ends. */
  empty(t: Test): Promise<Database>;
}

interface User {
  id: string;
  /** The client the user writes from unless a mutation names another. */
  clientId: string;
}

/** A database with the server's write path over it, as one server process runs it, and users to write as. */
class Storage {
  private readonly batcher: MutationBatcher<(r: BatchResult) => void>;
  private application: Promise<string> | undefined;

  constructor(readonly db: Database) {
    this.batcher = new MutationBatcher(db, DEFAULT_LIMITS, newUuid(), createMetrics(), createLogger('silent'), (item, result) => item.owner(result));
  }

  /** A new user (of this writer's application) and a client of its own. */
  async user(): Promise<User> {
    this.application ??= (async () => {
      const id = newUuid();
      await this.db.query('INSERT INTO applications (id, name) VALUES ($1, $2)', [id, 'storage conformance']);
      return id;
    })();
    const id = newUuid();
    await this.db.query('INSERT INTO users (id, application_id, email, email_normalized) VALUES ($1, $2, $3, $3)', [id, await this.application, `${id}@example.com`]);
    return { id, clientId: newUuid() };
  }

  /** Commits one mutation of `user`, sent from `clientId`, as the server does: batched with whatever else is submitted meanwhile. */
  mutate(user: User, message: MutationMessage, clientId = user.clientId): Promise<BatchResult> {
    return new Promise((resolve) => this.batcher.submit({ userId: user.id, clientId, message, bytes: JSON.stringify(message).length, owner: resolve }));
  }

  /** Commits a mutation that must apply; its reply. */
  async applied(user: User, message: MutationMessage, clientId = user.clientId): Promise<ServerMessage> {
    const r = await this.mutate(user, message, clientId);
    if (r.kind !== 'applied') throw new Error(`expected the mutation to apply, got ${JSON.stringify(r.reply)}`);
    return r.reply;
  }

  async document(id: string): Promise<DocumentRow | undefined> {
    return (await this.db.query<DocumentRow>(`SELECT ${DOCUMENT_COLUMNS} FROM documents WHERE id = $1`, [id])).rows[0];
  }

  /** What a user has written: change events, stored replies, conflicts, and the user's last sequence. */
  async counts(user: User): Promise<{ events: number; mutations: number; conflicts: number; lastSequence: number }> {
    const r = await this.db.query<{ events: number; mutations: number; conflicts: number; last_sequence: number }>(
      `SELECT (SELECT count(*) FROM change_events WHERE user_id = $1)::int AS events,
              (SELECT count(*) FROM mutations WHERE user_id = $1)::int AS mutations,
              (SELECT count(*) FROM conflicts WHERE user_id = $1)::int AS conflicts,
              (SELECT last_sequence FROM users WHERE id = $1) AS last_sequence`,
      [user.id],
    );
    const row = r.rows[0]!;
    return { events: row.events, mutations: row.mutations, conflicts: row.conflicts, lastSequence: row.last_sequence };
  }

  /** The user's whole kept change log, read through catch-up. */
  async log(user: User): Promise<ChangeEvent[]> {
    return (await changesSince(this.db, user.id, await this.prunedThrough(user), DEFAULT_LIMITS.max_changes_page)).events;
  }

  async prunedThrough(user: User): Promise<number> {
    return (await this.db.query<{ n: number }>('SELECT pruned_through AS n FROM users WHERE id = $1', [user.id])).rows[0]!.n;
  }
}

const create = (id: string, content: JsonObject, extra: { base_revision?: number; title?: string } = {}): MutationMessage => {
  const { title, ...rest } = extra;
  return { type: 'create_document', document: { id, content, ...(title !== undefined ? { title } : {}) }, ...rest, mutation_id: newUuid() };
};
const update = (id: string, patch: PatchOp[], base?: number, contentHashOf?: JsonObject): MutationMessage => ({
  type: 'update_document',
  patch: { document_id: id, patch, ...(contentHashOf ? { content_hash: contentHash(contentHashOf) } : {}) },
  ...(base !== undefined ? { base_revision: base } : {}),
  mutation_id: newUuid(),
});
const remove = (id: string, base?: number): MutationMessage => ({ type: 'delete_document', document_id: id, ...(base !== undefined ? { base_revision: base } : {}), mutation_id: newUuid() });
const replace = (path: string, value: unknown): PatchOp => ({ op: 'replace', path, value }) as PatchOp;
const add = (path: string, value: unknown): PatchOp => ({ op: 'add', path, value }) as PatchOp;

/** An event without its creation time (checked on its own), to compare whole. */
const withoutTime = ({ created_at: _, ...e }: ChangeEvent) => e;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const EXPIRED = { code: 'cursor_expired' };

/** `SEED=<n>` replays one run of the change-log property exactly. */
const SEED = Number(process.env.SEED ?? 20240611);
const HISTORIES = 240;
const WRITERS = 4;

export function storageConformance(t: Test, backend: StorageBackend): void {
  t.test(`${backend.name}: migrations apply every step once, in order, and a second run applies nothing`, async (t) => {
    const db = await backend.empty(t);
    const tables = async () => (await db.query<{ t: string }>("SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1")).rows.map((r) => r.t);
    t.same(await tables(), [], 'starts empty');
    t.same(await migrate(db), MIGRATIONS.map((m) => m.version), 'every step applied, in order');
    const schema = await tables();
    t.same(
      schema,
      [
        'api_credentials',
        'applications',
        'attachment_chunks',
        'attachment_owners',
        'attachment_uploads',
        'attachments',
        'auth_replays',
        'change_events',
        'client_acks',
        'conflicts',
        'documents',
        'mutations',
        'schema_migrations',
        'users',
      ],
      'the server’s tables',
    );
    const columns = await db.query<{ c: string }>("SELECT column_name AS c FROM information_schema.columns WHERE table_name = 'documents' AND column_name = 'given_title'");
    t.equal(columns.rowCount, 1, 'an earlier step too (documents.given_title)');
    const recorded = (await db.query<{ version: number; name: string }>('SELECT version, name FROM schema_migrations ORDER BY version')).rows;
    t.same(recorded, MIGRATIONS.map(({ version, name }) => ({ version, name })), 'each step recorded');
    t.same(await migrate(db), [], 'a second run applies nothing');
    t.same(await tables(), schema, 'and changes no tables');
  });

  t.test(`${backend.name}: mutations, catch-up, full sync and acknowledgements`, async (t) => {
    const s = new Storage(await backend.migrated(t));

    t.test('create: the row, its change event, the stored reply and the user’s sequence', async (t) => {
      const u = await s.user();
      const id = newUuid();
      const content = { title: 'hello', n: 1, nested: { list: [1, 'two', null] } };
      const m = create(id, content);
      const r = await s.mutate(u, m);
      t.equal(r.kind, 'applied', 'applied');
      t.strictSame(r.reply, { type: 'document_created_response', document_id: id, success: true, sync_revision: 1, content_hash: contentHash(content), sequence: 1, mutation_id: m.mutation_id }, 'at revision 1, sequence 1');
      const row = (await s.document(id))!;
      t.match(row, { id, user_id: u.id, sync_revision: 1, content_hash: contentHash(content), title: 'hello', given_title: null, deleted_at: null }, 'the row: owner, revision, hash, title');
      t.strictSame(row.content, content, 'the content as sent');
      t.ok(row.created_at instanceof Date && row.updated_at.getTime() === row.created_at.getTime(), 'created_at = updated_at, as timestamps');
      const log = await changesSince(s.db, u.id, 0, 10);
      t.strictSame(
        log.events.map(withoutTime),
        [
          {
            sequence: 1,
            document_id: id,
            event_type: 'create',
            forward_patch: content,
            reverse_patch: null,
            sync_revision: 1,
            content_hash: contentHash(content),
            client_id: u.clientId,
            mutation_id: m.mutation_id,
            title: 'hello',
          },
        ],
        "one event: forward is the content, reverse null, the document's title",
      );
      t.match(log.events[0]!.created_at, RFC3339, 'its time in RFC 3339');
      t.same(await s.counts(u), { events: 1, mutations: 1, conflicts: 0, lastSequence: 1 }, 'one event, one stored reply; the user’s last sequence 1');

      const given = newUuid();
      await s.applied(u, create(given, { body: 'no title here' }, { title: 'Given' }));
      t.match(await s.document(given), { title: 'Given', given_title: 'Given', content: { body: 'no title here' } }, 'a title given beside the content is stored beside it');
    });

    t.test('update: revision and sequence advance; the event holds the patch as sent and a reverse that restores the content', async (t) => {
      const u = await s.user();
      const id = newUuid();
      const v1: JsonObject = { title: 'first', tags: ['a', 'b'], nested: { x: 1, y: [1, 2, 3] } };
      await s.applied(u, create(id, v1));
      const created = (await s.document(id))!;
      const ops = [replace('/title', 'second'), { op: 'remove', path: '/tags/0' }, add('/nested/z', { deep: true }), { op: 'move', from: '/nested/x', path: '/moved' }] as PatchOp[];
      const v2 = applyPatch(v1, ops);
      const m = update(id, ops, 1);
      t.strictSame(
        await s.applied(u, m),
        { type: 'document_updated_response', document_id: id, success: true, sync_revision: 2, content_hash: contentHash(v2), sequence: 2, merged: false, mutation_id: m.mutation_id },
        'at revision 2, sequence 2',
      );
      const row = (await s.document(id))!;
      t.match(row, { sync_revision: 2, content_hash: contentHash(v2), title: 'second', deleted_at: null }, 'the row: revision, hash, title');
      t.strictSame(row.content, v2, 'the patched content');
      t.equal(row.created_at.getTime(), created.created_at.getTime(), 'created_at stays');
      const [, event] = await s.log(u);
      t.match(event, { sequence: 2, event_type: 'update', sync_revision: 2, content_hash: contentHash(v2), client_id: u.clientId, mutation_id: m.mutation_id }, 'the event');
      t.strictSame(event!.forward_patch, ops, 'forward: the patch as sent');
      t.strictSame(applyPatch(v2, event!.reverse_patch as PatchOp[]), v1, 'reverse: restores the previous content exactly');

      const blind = await s.applied(u, update(id, [replace('/title', 'third')]));
      t.match(blind, { sync_revision: 3, sequence: 3, merged: false }, 'without a base revision it applies to the latest');
    });

    t.test('delete is soft: the row stays, marked deleted; a create at its revision revives it', async (t) => {
      const u = await s.user();
      const id = newUuid();
      const content = { title: 'Old', n: 1 };
      await s.applied(u, create(id, content));
      const m = remove(id, 1);
      t.strictSame(await s.applied(u, m), { type: 'document_deleted_response', document_id: id, success: true, sync_revision: 2, sequence: 2, mutation_id: m.mutation_id }, 'at revision 2, sequence 2');
      const row = (await s.document(id))!;
      t.ok(row.deleted_at instanceof Date, 'deleted_at set');
      t.match(row, { sync_revision: 2, content_hash: contentHash(content), title: 'Old' }, 'the row keeps its hash and title');
      t.strictSame(row.content, content, 'the content stays');
      const [, event] = await s.log(u);
      t.match(event, { sequence: 2, event_type: 'delete', forward_patch: null, sync_revision: 2, content_hash: contentHash(content), mutation_id: m.mutation_id }, 'the event: forward null, the hash of what it removed');
      t.strictSame(event!.reverse_patch, content, 'reverse: the full content before the delete');

      const revived = { title: 'New', n: 2 };
      const again = create(id, revived, { base_revision: 2 });
      t.strictSame(
        await s.applied(u, again),
        { type: 'document_created_response', document_id: id, success: true, sync_revision: 3, content_hash: contentHash(revived), sequence: 3, mutation_id: again.mutation_id },
        'revived at revision 3',
      );
      const live = (await s.document(id))!;
      t.match(live, { deleted_at: null, sync_revision: 3, title: 'New' }, 'live again, with the new title');
      t.strictSame(live.content, revived, 'and the new content');
      t.equal(live.created_at.getTime(), row.created_at.getTime(), 'the same document, created when it first was');
      t.match((await s.log(u))[2], { sequence: 3, event_type: 'create', sync_revision: 3, forward_patch: revived, reverse_patch: null }, 'logged as a create');
    });

    t.test('merge: disjoint edits from two clients on one base both apply', async (t) => {
      const u = await s.user();
      const other = newUuid();
      const id = newUuid();
      await s.applied(u, create(id, { title: 'Doc', left: 0, right: 0 }));
      await s.applied(u, update(id, [replace('/left', 1)], 1));
      const m = update(id, [replace('/right', 1)], 1);
      const r = await s.applied(u, m, other);
      const row = (await s.document(id))!;
      const merged = { title: 'Doc', left: 1, right: 1 };
      t.strictSame(row.content, merged, 'both edits stored');
      t.match(r, { merged: true, sync_revision: 3, sequence: 3, content_hash: contentHash(merged) }, 'answered as a merge');
      t.strictSame((r as { document?: unknown }).document, toWireDocument(row), 'carrying the document as stored');
      const event = (await s.log(u))[2]!;
      t.match(event, { sequence: 3, event_type: 'update', client_id: other, forward_patch: [replace('/right', 1)] }, 'the event: the merged edit as sent, by its client');
      t.strictSame(applyPatch(merged, event.reverse_patch as PatchOp[]), { title: 'Doc', left: 1, right: 0 }, 'the reverse undoes the merged edit only');
    });

    t.test('conflicts: the loser is stored in conflicts, and nothing else changes', async (t) => {
      const u = await s.user();
      const loser = newUuid();
      const id = newUuid();
      await s.applied(u, create(id, { v: 0 }));
      await s.applied(u, update(id, [replace('/v', 'a')], 1));
      const conflicts = async (m: MutationMessage) =>
        (
          await s.db.query('SELECT document_id, mutation_type, client_id, base_revision, lost_to_revision, rejected_patch FROM conflicts WHERE mutation_id = $1', [m.mutation_id])
        ).rows;
      const cases: [string, MutationMessage, unknown][] = [
        ['the same path edited on a stale base', update(id, [replace('/v', 'b')], 1), [replace('/v', 'b')]],
        ['a delete on a stale base', remove(id, 1), null],
        ['a base revision from the future', update(id, [replace('/v', 'c')], 3), [replace('/v', 'c')]],
        ['a stale content_hash without a base revision', update(id, [add('/w', 1)], undefined, { v: 0 }), [add('/w', 1)]],
        ['a create of a live id', create(id, { v: 9 }), [{ op: 'add', path: '', value: { v: 9 } }]],
      ];
      for (const [what, m, rejected] of cases) {
        const before = await s.counts(u);
        const row = (await s.document(id))!;
        const r = await s.mutate(u, m, loser);
        t.equal(r.kind, 'conflict', what);
        t.strictSame(
          r.reply,
          { type: 'conflict_detected', document_id: id, resolution_strategy: 'server_wins', server_document: toWireDocument(row), rejected_patch: rejected, mutation_id: m.mutation_id },
          `${what}: conflict_detected with the current document`,
        );
        t.strictSame(await s.counts(u), { ...before, mutations: before.mutations + 1, conflicts: before.conflicts + 1 }, `${what}: a conflicts row and the reply, no event, no sequence`);
        t.strictSame(await s.document(id), row, `${what}: the document untouched`);
        t.strictSame(
          await conflicts(m),
          [{ document_id: id, mutation_type: m.type, client_id: loser, base_revision: m.base_revision ?? null, lost_to_revision: 2, rejected_patch: rejected }],
          `${what}: stored with its base and the revision it lost to`,
        );
      }
      t.match(await s.applied(u, update(id, [add('/w', 1)], undefined, { v: 'a' })), { sync_revision: 3, sequence: 3 }, 'the current content_hash applies');
    });

    t.test('replays: a mutation id sent again returns the stored reply and writes nothing', async (t) => {
      const u = await s.user();
      const other = newUuid();
      const id = newUuid();
      const sent: [string, MutationMessage, string][] = [
        ['create', create(id, { n: 1 }), u.clientId],
        ['update', update(id, [replace('/n', 2)], 1), u.clientId],
        ['conflicted update', update(id, [replace('/n', 99)], 1), other],
        ['blind update', update(id, [replace('/n', 3)]), u.clientId],
        ['delete', remove(id, 3), u.clientId],
      ];
      const originals: ServerMessage[] = [];
      for (const [, m, client] of sent) originals.push((await s.mutate(u, m, client)).reply);
      t.same(originals.map((r) => r.type), ['document_created_response', 'document_updated_response', 'conflict_detected', 'document_updated_response', 'document_deleted_response'], 'the first sends');
      const before = await s.counts(u);
      const row = await s.document(id);
      for (const [i, [what, m, client]] of sent.entries()) {
        const r = await s.mutate(u, m, client);
        t.equal(r.kind, 'replay', `${what}: a replay`);
        t.strictSame(r.reply, originals[i], `${what}: the original reply, though the document has moved on`);
      }
      t.match(await s.mutate(u, sent[0]![1], other), { kind: 'replay', reply: originals[0] }, 'from another client of the user: still a replay');
      t.strictSame(await s.counts(u), before, 'no event, stored reply or conflict written');
      t.strictSame(await s.document(id), row, 'the document untouched');

      const twice = create(newUuid(), { n: 1 });
      const [first, second] = await Promise.all([s.mutate(u, twice), s.mutate(u, twice)]);
      t.equal(first.kind, 'applied', 'a mutation sent twice without waiting');
      t.match(second, { kind: 'replay', reply: first.reply }, 'sent twice without waiting: applied once, then replayed');
      t.equal((await s.counts(u)).events, before.events + 1, 'one event for it');

      const reused: [string, MutationMessage][] = [
        ['create with other content', { ...sent[0]![1], document: { id, content: { n: 7 } } } as MutationMessage],
        ['update with another patch', { ...sent[1]![1], patch: { document_id: id, patch: [replace('/n', 3)] } } as MutationMessage],
        ['update with another base', { ...sent[1]![1], base_revision: 2 } as MutationMessage],
        ['delete reusing an update’s id', { type: 'delete_document', document_id: id, mutation_id: sent[1]![1].mutation_id }],
      ];
      const unchanged = await s.counts(u);
      for (const [what, m] of reused) t.match(await s.mutate(u, m), { kind: 'error', reply: { type: 'error', code: 'invalid_message', mutation_id: m.mutation_id } }, `a reused mutation id: ${what}`);
      t.strictSame(await s.counts(u), unchanged, 'a reused id writes nothing');
    });

    t.test('ids: another user’s document is not found, and its id cannot be created again', async (t) => {
      const u = await s.user();
      const owner = await s.user();
      const theirs = newUuid();
      await s.applied(owner, create(theirs, { secret: 1 }));
      const row = await s.document(theirs);
      for (const [what, id] of [
        ['an unknown id', newUuid()],
        ['another user’s id', theirs],
      ] as const) {
        t.match(await s.mutate(u, update(id, [replace('/n', 1)], 1)), { kind: 'error', reply: { code: 'document_not_found' } }, `update of ${what}`);
        t.match(await s.mutate(u, remove(id)), { kind: 'error', reply: { code: 'document_not_found' } }, `delete of ${what}`);
      }
      t.match(await s.mutate(u, create(theirs, { mine: true })), { kind: 'error', reply: { code: 'document_exists' } }, 'create of another user’s id');
      t.strictSame(await s.document(theirs), row, 'their document untouched');
      t.same(await s.counts(u), { events: 0, mutations: 0, conflicts: 0, lastSequence: 0 }, 'nothing written for the refused user');
    });

    t.test('two writers (server processes) creating the same ids for two users at once: one owner each, never an error', async (t) => {
      const [a, b] = [await s.user(), await s.user()];
      const elsewhere = new Storage(s.db);
      const ids = range(1, 100).map(() => newUuid());
      const results = await Promise.all(ids.flatMap((id, i) => [s.mutate(a, create(id, { by: 'a', i })), elsewhere.mutate(b, create(id, { by: 'b', i }))]));
      const outcomes = results.map((r) => (r.kind === 'error' ? (r.reply as { code: string }).code : r.kind));
      const pairs = ids.map((_, i) => [outcomes[2 * i], outcomes[2 * i + 1]].sort());
      t.same(new Set(pairs.map((p) => p.join())), new Set(['applied,document_exists']), 'each id: applied once, document_exists once');
      const owners = await s.db.query<{ n: number }>('SELECT count(*)::int AS n FROM documents WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb)::uuid)', [JSON.stringify(ids)]);
      t.equal(owners.rows[0]!.n, ids.length, 'one document per id');
      for (const user of [a, b]) {
        const log = await s.log(user);
        t.same(log.map((e) => e.sequence), range(1, log.length), 'each user’s sequences dense from 1');
        t.equal((await s.counts(user)).lastSequence, log.length, 'and its last sequence the last of them');
      }
    });

    t.test('sequences are 1, 2, 3 … per user, independent between users, across batches', async (t) => {
      const x = await s.user();
      const y = await s.user();
      const xDoc = newUuid();
      const yDoc = newUuid();
      // All submitted at once and interleaved: a user's mutations still apply in the order sent.
      const xs = [create(xDoc, { n: 0 }), ...range(1, 3).flatMap((i) => [update(xDoc, [replace('/n', i)]), create(newUuid(), { i })]), remove(xDoc)];
      const ys = [create(yDoc, { n: 0 }), update(yDoc, [replace('/n', 1)]), update(yDoc, [replace('/n', 2)])];
      const [rx, ry] = await Promise.all([Promise.all(xs.map((m) => s.mutate(x, m))), Promise.all(ys.map((m) => s.mutate(y, m)))]);
      t.same(rx.map((r) => (r.reply as { sequence?: number }).sequence), range(1, 8), 'one user: 1 … 8');
      t.same(ry.map((r) => (r.reply as { sequence?: number }).sequence), range(1, 3), 'the other: 1 … 3');
      t.same((await s.log(x)).map((e) => [e.sequence, e.mutation_id]), xs.map((m, i) => [i + 1, m.mutation_id]), 'the log holds them in that order');
      t.same([(await s.counts(x)).lastSequence, (await s.counts(y)).lastSequence], [8, 3], 'each user’s last sequence');
      t.equal((await s.document(xDoc))!.sync_revision, 5, 'a revision per update and per delete');
    });

    t.test('catch-up: changesSince pages the log in order and refuses a cursor ahead of it', async (t) => {
      const u = await s.user();
      const docs = await Promise.all(range(1, 25).map((i) => s.applied(u, create(newUuid(), { i })) as Promise<{ document_id: string; sequence: number }>));
      const byDoc = new Map(docs.map((d) => [d.document_id, d.sequence]));
      const p1 = await changesSince(s.db, u.id, 0, 10);
      const p2 = await changesSince(s.db, u.id, 10, 10);
      const p3 = await changesSince(s.db, u.id, 20, 10);
      t.same(
        [p1, p2, p3].map((p) => [p.type, p.events.length, p.has_more, p.latest_sequence]),
        [
          ['changes', 10, true, 25],
          ['changes', 10, true, 25],
          ['changes', 5, false, 25],
        ],
        '25 changes in pages of 10: 10, 10, 5, each with the latest sequence',
      );
      const events = [...p1.events, ...p2.events, ...p3.events];
      t.same(events.map((e) => e.sequence), range(1, 25), 'contiguous, in order, without repeats');
      t.ok(events.every((e) => byDoc.get(e.document_id) === e.sequence && e.event_type === 'create'), 'each event is the create that took its sequence');
      t.strictSame(await changesSince(s.db, u.id, 25, 10), { type: 'changes', events: [], latest_sequence: 25, has_more: false }, 'past the end: an empty last page');

      const [a, b] = [docs[2]!.document_id, docs[3]!.document_id];
      await s.applied(u, remove(a));
      await s.applied(u, update(b, [add('/k', 1)]));
      const tail = await changesSince(s.db, u.id, 25, 10);
      t.same(tail.events.map((e) => [e.sequence, e.document_id, e.event_type]), [[26, a, 'delete'], [27, b, 'update']], 'deletes take their place in the log');

      await t.rejects(changesSince(s.db, u.id, 28, 10), EXPIRED, 'a cursor ahead of the latest sequence is cursor_expired');
      const stranger = await s.user();
      await s.applied(stranger, create(newUuid(), { not: 'yours' }));
      t.equal((await changesSince(s.db, u.id, 27, 10)).latest_sequence, 27, 'another user’s changes are not in this log');
      const fresh = await s.user();
      await t.rejects(changesSince(s.db, fresh.id, 1, 10), EXPIRED, 'a new user: anything above 0 is ahead');
      t.strictSame(await changesSince(s.db, fresh.id, 0, 10), { type: 'changes', events: [], latest_sequence: 0, has_more: false }, 'and 0 is an empty log');
    });

    t.test('full sync: every live document of the user at its latest revision, and the sequence it reflects', async (t) => {
      const u = await s.user();
      const ids = range(1, 4).map(() => newUuid());
      for (const [i, id] of ids.entries()) await s.applied(u, create(id, i === 3 ? { n: 4 } : { title: `doc ${i}`, n: i }));
      await s.applied(u, remove(ids[1]!));
      await s.applied(u, update(ids[0]!, [replace('/title', 'doc 0 v2')]));
      const stranger = await s.user();
      await s.applied(stranger, create(newUuid(), { title: 'not yours' }));

      const live = [ids[0]!, ids[2]!, ids[3]!].sort();
      const synced = await fullSync(s.db, u.id);
      t.equal(synced.latestSequence, 6, 'the sequence it reflects');
      t.strictSame(synced.documents, await Promise.all(live.map(async (id) => toWireDocument((await s.document(id))!))), 'the live documents, by id, exactly as stored');
      t.match(synced.documents.find((d) => d.id === ids[0]), { sync_revision: 2, title: 'doc 0 v2' }, 'an updated one at its latest revision');
      t.match(synced.documents.find((d) => d.id === ids[3]), { title: null, content: { n: 4 } }, 'an untitled one');
      t.strictSame(await fullSync(s.db, (await s.user()).id), { documents: [], latestSequence: 0 }, 'a user without documents');
    });

    t.test('compacted full sync: every document changed after the cursor, deleted ones included', async (t) => {
      const u = await s.user();
      const ids = await Promise.all(range(1, 30).map(async (i) => ((await s.applied(u, create(newUuid(), { i, n: 0 }))) as { document_id: string }).document_id));
      const touched = ids.slice(0, 10);
      await Promise.all(range(1, 300).map((j) => s.applied(u, update(touched[j % 10]!, [replace('/n', j)]))));
      const deleted = touched.slice(0, 3);
      for (const id of deleted) await s.applied(u, remove(id));
      const latest = 30 + 300 + 3;

      const since = await fullSync(s.db, u.id, 30);
      t.equal(since.latestSequence, latest, 'the sequence it reflects');
      t.same(since.documents.map((d) => d.id), [...touched].sort(), 'exactly the documents changed after the cursor, by id');
      t.same(since.documents.filter((d) => d.deleted_at !== null).map((d) => d.id), [...deleted].sort(), 'deleted ones with deleted_at set');
      t.strictSame(since.documents, await Promise.all(since.documents.map(async (d) => toWireDocument((await s.document(d.id))!))), 'each exactly as stored, at its latest revision');
      t.same((await fullSync(s.db, u.id, latest - 2)).documents.map((d) => d.id), deleted.slice(1).sort(), 'a later cursor: only what changed after it');
      t.same((await fullSync(s.db, u.id, latest)).documents, [], 'at the latest sequence: nothing');
      await t.rejects(fullSync(s.db, u.id, latest + 1), EXPIRED, 'a cursor ahead of the log is cursor_expired');
      t.equal((await fullSync(s.db, u.id)).documents.length, 27, 'without a cursor: every live document');
    });

    t.test('acknowledgements: the highest per client, never moved back, never beyond the log', async (t) => {
      const u = await s.user();
      for (const i of range(1, 5)) await s.applied(u, create(newUuid(), { i }));
      const [c1, c2] = [newUuid(), newUuid()];
      const rows = async () => (await s.db.query('SELECT client_id, acked_sequence FROM client_acks WHERE user_id = $1 ORDER BY acked_sequence', [u.id])).rows;
      t.same(await rows(), [], 'nothing before the first');
      t.same(await acknowledge(s.db, u.id, c1, 3), { sequence: 3, lag: 2 }, 'stored, 2 behind the latest');
      t.same(await acknowledge(s.db, u.id, c1, 5), { sequence: 5, lag: 0 }, 'moved up');
      t.same(await acknowledge(s.db, u.id, c1, 2), { sequence: 5, lag: 0 }, 'an older one answers the stored, higher sequence');
      await t.rejects(acknowledge(s.db, u.id, c1, 6), { code: 'invalid_message' }, 'one beyond the latest sequence is refused');
      t.same(await acknowledge(s.db, u.id, c2, 1), { sequence: 1, lag: 4 }, 'per client: another one starts from nothing');
      t.same(
        await rows(),
        [
          { client_id: c2, acked_sequence: 1 },
          { client_id: c1, acked_sequence: 5 },
        ],
        'one row per client',
      );
    });

    t.test(`change-log property: ${HISTORIES} random histories from ${WRITERS} writers round-trip (seed ${SEED})`, async (t) => {
      const writers = await Promise.all(range(1, WRITERS).map(() => s.user()));
      const histories = makeHistories(SEED, HISTORIES, WRITERS);
      t.same(coverageGaps(histories), [], 'the generator exercised every kind of operation, arrays, escaped tokens and deletes');
      // Everything submitted at once: batches mix the writers, each writer's mutations apply in the order sent.
      const replies = await Promise.all(histories.map((h) => Promise.all(h.messages.map(async (m) => (await s.mutate(writers[h.writer]!, m)).reply))));
      const users = JSON.stringify(writers.map((w) => w.id));
      const events = await s.db.query<EventRow>(
        `SELECT user_id, sequence, document_id, event_type, forward_patch, reverse_patch, sync_revision, content_hash, client_id, mutation_id
         FROM change_events WHERE user_id IN (SELECT jsonb_array_elements_text($1::jsonb)::uuid) ORDER BY document_id, sync_revision`,
        [users],
      );
      const docs = await s.db.query<DocumentRow>(`SELECT ${DOCUMENT_COLUMNS} FROM documents WHERE user_id IN (SELECT jsonb_array_elements_text($1::jsonb)::uuid)`, [users]);
      const byDoc = new Map<string, EventRow[]>();
      for (const e of events.rows) byDoc.set(e.document_id, [...(byDoc.get(e.document_id) ?? []), e]);
      const docById = new Map(docs.rows.map((d) => [d.id, d]));
      const failures = histories.flatMap((h, i) => {
        const writer = writers[h.writer]!;
        const { problems, sequences } = checkReplies(h, replies[i]!);
        return [...problems, ...verifyHistory(h, { userId: writer.id, clientId: writer.clientId }, sequences, byDoc.get(h.id) ?? [], docById.get(h.id))]
          .slice(0, 5)
          .map((x) => `seed ${SEED} history ${i} (${h.id}): ${x}`);
      });
      t.same(failures.slice(0, 40), [], 'every history: replies, events, the row, and both walks through the patches');
      t.equal(failures.length, 0, 'number of problems');
      t.equal(docs.rows.length, HISTORIES, 'one document per history, nothing else');
      t.equal(events.rows.length, histories.reduce((n, h) => n + h.messages.length, 0), 'one event per mutation');
      for (const [i, w] of writers.entries()) {
        const seqs = events.rows.filter((e) => e.user_id === w.id).map((e) => e.sequence).sort((x, y) => x - y);
        t.same(seqs, range(1, seqs.length), `writer ${i}: sequences dense from 1`);
        t.equal((await s.counts(w)).lastSequence, seqs.length, `writer ${i}: users.last_sequence is the last one`);
      }
    });
  });

  t.test(`${backend.name}: pruning cuts aged events, remembers the cut, and cursors behind it expire`, async (t) => {
    const s = new Storage(await backend.migrated(t));
    const u = await s.user();
    const bystander = await s.user();
    const other = newUuid();
    const d0 = newUuid();
    await s.applied(u, create(d0, { a: 0, b: 0 }));
    await s.applied(u, update(d0, [replace('/a', 1)], 1), other);
    for (const i of range(3, 15)) await s.applied(u, create(newUuid(), { i }));
    await s.applied(bystander, create(newUuid(), { kept: true }));
    // Age the first 10 of u's events: a 1-day retention cuts exactly there.
    await s.db.query(`UPDATE change_events SET created_at = now() - interval '2 days' WHERE user_id = $1 AND sequence <= 10`, [u.id]);
    t.equal(await pruneLog(s.db, 1), 10, 'the 10 aged events removed');
    t.equal(await s.prunedThrough(u), 10, 'the cut remembered');
    t.equal(await s.prunedThrough(bystander), 0, 'a user with nothing aged is untouched');
    t.equal((await s.log(bystander)).length, 1, 'nor is its log');

    for (const stale of [0, 5, 9]) await t.rejects(changesSince(s.db, u.id, stale, 10), EXPIRED, `catch-up from ${stale}, behind the cut, is cursor_expired`);
    await t.rejects(fullSync(s.db, u.id, 9), EXPIRED, 'so is a compacted full sync from behind it');
    t.same((await changesSince(s.db, u.id, 10, 100)).events.map((e) => e.sequence), range(11, 15), 'from the cut itself: the rest of the log');
    t.equal((await fullSync(s.db, u.id, 10)).documents.length, 5, 'a compacted full sync from the cut: the documents changed after it');
    t.equal((await fullSync(s.db, u.id)).documents.length, 14, 'a full sync still has every document');
    const blind = update(d0, [replace('/b', 1)], 1);
    t.match(await s.mutate(u, blind), { kind: 'conflict' }, 'an edit based before the cut cannot be proven disjoint: it conflicts');
    t.match(await s.applied(u, update(d0, [replace('/b', 1)], 2)), { sync_revision: 3, sequence: 16 }, 'on the current revision it applies, at the next sequence');

    // Everything aged: a cut at the latest sequence leaves only the current cursor usable.
    await s.db.query(`UPDATE change_events SET created_at = created_at - interval '1 hour'`);
    t.equal(await pruneLog(s.db, 0), 7, 'the rest of both users’ logs removed');
    t.equal(await s.prunedThrough(u), 16, 'cut at the latest sequence');
    await t.rejects(changesSince(s.db, u.id, 15, 10), EXPIRED, 'a cursor one behind it is cursor_expired');
    t.strictSame(await changesSince(s.db, u.id, 16, 10), { type: 'changes', events: [], latest_sequence: 16, has_more: false }, 'the current cursor still works');
    t.match(await s.applied(u, create(newUuid(), { after: 'the prune' })), { sequence: 17 }, 'new changes continue the sequence');
    t.same((await changesSince(s.db, u.id, 16, 10)).events.map((e) => e.sequence), [17], 'and are read from the current cursor');
  });
}
