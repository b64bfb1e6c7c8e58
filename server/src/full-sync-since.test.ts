import t from 'tap';
import { type ServerMessage, type ServerMessageOf } from '@json-sync/core';
import { pruneLog } from './changes.js';
import { fileServer } from './test-support/file-server.js';

const fs = await fileServer(t, 'full_sync_since');

/** Sends request_full_sync and collects its answer: the documents, then sync_complete (or an error). */
async function fullSync(c: Awaited<ReturnType<typeof fs.connect>>, since?: number): Promise<{ docs: ServerMessageOf<'sync_document'>['document'][]; done: ServerMessage }> {
  c.received.length = 0;
  const done = await c.request({ type: 'request_full_sync', ...(since !== undefined ? { since_sequence: since } : {}) }, (m) => m.type === 'sync_complete' || m.type === 'error', 30_000);
  return { docs: c.all('sync_document').map((m) => m.document), done };
}

t.test('since_sequence: every document changed after it, deleted ones included, read in one snapshot', async (t) => {
  const c = await fs.connect('since@example.com');
  const ids: string[] = [];
  for (let i = 0; i < 300; i++) ids.push((await c.create({ i, n: 0 })).document_id);
  const cut = 300;
  // 5,000 updates spread over the first 100 documents, in flight 50 at a time.
  const touched = ids.slice(0, 100);
  for (let k = 0; k < 5000; k += 50) {
    await Promise.all(
      range(k, k + 49).map((j) => c.mutate({ type: 'update_document', patch: { document_id: touched[j % 100]!, patch: [{ op: 'replace', path: '/n', value: j }] } }, 30_000)),
    );
  }
  const deleted = touched.slice(0, 5);
  for (const id of deleted) t.match(await c.mutate({ type: 'delete_document', document_id: id }), { type: 'document_deleted_response' });
  const latest = cut + 5000 + deleted.length;

  const { docs, done } = await fullSync(c, cut);
  t.same(docs.map((d) => d.id).sort(), [...touched].sort(), 'exactly the 100 documents changed after the cursor');
  t.same(done, { type: 'sync_complete', synced_count: 100, latest_sequence: latest, since_sequence: cut }, 'sync_complete carries the latest sequence and echoes since_sequence');
  const gone = docs.filter((d) => d.deleted_at !== null).map((d) => d.id);
  t.same(gone.sort(), [...deleted].sort(), 'deleted documents come back with deleted_at set');
  const rows = await fs.tdb.db.query<{ id: string; sync_revision: number; content_hash: string }>('SELECT id, sync_revision, content_hash FROM documents WHERE id = ANY($1::uuid[])', [touched]);
  const stored = new Map(rows.rows.map((r) => [r.id, r]));
  t.ok(
    docs.every((d) => stored.get(d.id)!.sync_revision === d.sync_revision && stored.get(d.id)!.content_hash === d.content_hash),
    'each at its latest revision: the snapshot matches latest_sequence',
  );

  const recent = await fullSync(c, latest - 3);
  t.same(recent.docs.map((d) => d.id).sort(), [...deleted.slice(2)].sort(), 'a later cursor: only what changed after it');
  const nothing = await fullSync(c, latest);
  t.same(nothing.docs, [], 'at the latest sequence: nothing');
  t.match(nothing.done, { synced_count: 0, latest_sequence: latest, since_sequence: latest });
  const plain = await fullSync(c);
  t.equal(plain.docs.length, 295, 'without since_sequence: every live document, as before');
  t.notOk('since_sequence' in plain.done, 'and no since_sequence in its sync_complete');
});

t.test('since_sequence outside the kept log is cursor_expired', async (t) => {
  const c = await fs.connect('since-pruned@example.com');
  for (let i = 0; i < 10; i++) await c.create({ i });
  await fs.tdb.db.query("UPDATE change_events SET created_at = now() - interval '3 days' WHERE user_id = $1 AND sequence <= 6", [c.userId]);
  t.equal(await pruneLog(fs.tdb.db, 1), 6, 'the log is cut at 6');
  t.match((await fullSync(c, 5)).done, { type: 'error', code: 'cursor_expired' }, 'below the pruned log');
  t.match((await fullSync(c, 11)).done, { type: 'error', code: 'cursor_expired' }, 'ahead of the latest sequence');
  const ok = await fullSync(c, 6);
  t.equal(ok.docs.length, 4, 'at the cut itself: the documents changed after it');
});

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}
