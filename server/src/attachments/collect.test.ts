import t from 'tap';
import { randomBytes } from 'node:crypto';
import { attachmentRef } from '@json-sync/core';
import { attachmentIdOf, downloadAttachment, runCli, startTestServer, TestClient, uploadAttachment, type Identity } from '@json-sync/test-support';

// Collection (docs/protocol.md, Collection) with `sync-server gc-attachments` beside a running
// server on PostgreSQL: what is referenced stays, what is not goes after the grace period.

const ts = await startTestServer({ prefix: 'att_collect' });
t.teardown(() => ts.teardown());
const alice: Identity = { email: 'alice@example.com', apiKey: ts.apiKey, secret: ts.secret };
const bob: Identity = { email: 'bob@example.com', apiKey: ts.apiKey, secret: ts.secret };
const a = await TestClient.connect(ts.url, alice);
const b = await TestClient.connect(ts.url, bob);
t.teardown(() => {
  a.close();
  b.close();
});

function gc(...args: string[]) {
  return runCli(['gc-attachments', ...args], { databaseUrl: ts.tdb.url });
}

async function upload(c: TestClient, size = 3000): Promise<{ bytes: Buffer; id: string; ref: ReturnType<typeof attachmentRef> }> {
  const bytes = randomBytes(size);
  const r = await uploadAttachment(c, bytes);
  if (r.end?.type !== 'attachment_uploaded') throw new Error(JSON.stringify(r.end));
  const id = attachmentIdOf(bytes);
  return { bytes, id, ref: attachmentRef(id, size) };
}

async function owners(id: string): Promise<string[]> {
  const r = await ts.tdb.db.query<{ email: string }>('SELECT u.email FROM attachment_owners o JOIN users u ON u.id = o.user_id WHERE o.attachment = $1 ORDER BY 1', [id]);
  return r.rows.map((x) => x.email);
}

async function stored(id: string): Promise<boolean> {
  return (await ts.tdb.db.query('SELECT 1 FROM attachments a JOIN attachment_chunks c ON c.blob_id = a.blob_id WHERE a.id = $1', [id])).rowCount > 0;
}

t.test('referenced stays; unreferenced goes after the grace period; shared bytes stay while anyone owns them', async (t) => {
  const live = await upload(a);
  await a.create({ nested: { list: [{ sample: live.ref }] } });
  const inLog = await upload(a);
  const logged = await a.create({ sample: inLog.ref });
  await a.mutate({ type: 'update_document', patch: { document_id: logged.document_id, patch: [{ op: 'remove', path: '/sample' }] }, base_revision: 1 });
  const ofDeleted = await upload(a);
  const deleted = await a.create({ sample: ofDeleted.ref });
  await a.mutate({ type: 'delete_document', document_id: deleted.document_id, base_revision: 1 });
  // A reference changed in place (the diff of two references): the old id lives on in the
  // change's reverse patch, where an undo would take it back from.
  const replaced = await upload(a);
  const replacing = await upload(a);
  const swapped = await a.create({ sample: replaced.ref });
  await a.mutate({
    type: 'update_document',
    patch: { document_id: swapped.document_id, patch: [{ op: 'replace', path: '/sample/$attachment', value: replacing.id }] },
    base_revision: 1,
  });
  const loose = await upload(a);
  const shared = await upload(a);
  await uploadAttachment(b, shared.bytes);
  await b.create({ mine: shared.ref });
  // Looks like a reference but has a key too many: ordinary data, keeps nothing alive.
  const fake = await upload(a);
  await a.create({ x: { ...fake.ref, note: 'not a reference' } });
  const inProgress = randomBytes(5000);
  await uploadAttachment(a, inProgress, { stopAfter: 1000 });
  await a.next((m) => m.type === 'upload_progress' && m.received === 1000);

  const kept = await gc();
  t.equal(kept.code, 0, kept.stderr);
  t.match(kept.stdout, /^Collected 0 attachments \(0 bytes\), 0 owner claims, 0 unfinished uploads\.$/m, 'nothing inside the default grace period of 24 hours');

  const r = await gc('--grace-hours', '0');
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, new RegExp(`deleted: ${loose.id} \\(3000 bytes\\)`));
  t.match(r.stdout, new RegExp(`deleted: ${fake.id}`));
  t.match(r.stdout, new RegExp(`released: user [0-9a-f-]+ ${shared.id}`));
  t.match(r.stdout, /Collected 2 attachments \(6000 bytes\), 3 owner claims, 0 unfinished uploads\./);
  t.same(await owners(live.id), ['alice@example.com'], 'referenced by live content');
  t.same(await owners(inLog.id), ['alice@example.com'], 'referenced by a change the server keeps');
  t.same(await owners(replaced.id), ['alice@example.com'], 'an id a kept patch wrote over is still referenced');
  t.same(await owners(replacing.id), ['alice@example.com'], 'and so is the one it wrote');
  t.same(await owners(ofDeleted.id), ['alice@example.com'], "referenced by a deleted document's last content");
  t.same(await owners(shared.id), ['bob@example.com'], "alice's claim went, bob's stays");
  t.ok(await stored(shared.id), 'and so do the bytes');
  t.notOk(await stored(loose.id));
  t.match((await downloadAttachment(a, loose.id)).first, { code: 'attachment_not_found' });
  t.ok((await downloadAttachment(b, shared.id)).bytes.equals(shared.bytes));
  const upl = await ts.tdb.db.query<{ received: number }>('SELECT received FROM attachment_uploads WHERE attachment = $1', [attachmentIdOf(inProgress)]);
  t.same(upl.rows, [{ received: 1000 }], 'an upload in progress is never collected');

  t.test('once the change log is pruned, a reference only it held is gone', async (t) => {
    t.equal((await runCli(['prune-log', '--older-than-days', '0'], { databaseUrl: ts.tdb.url })).code, 0);
    const again = await gc('--grace-hours', '0');
    t.match(again.stdout, new RegExp(`deleted: ${inLog.id}`));
    t.match(again.stdout, new RegExp(`deleted: ${replaced.id}`), 'the overwritten id, once its change is pruned');
    t.same(await owners(replacing.id), ['alice@example.com'], 'the id in the live content stays');
    t.same(await owners(live.id), ['alice@example.com']);
    t.same(await owners(ofDeleted.id), ['alice@example.com']);
  });

  t.test('stale uploads go after their expiry, bytes and all', async (t) => {
    const dropped = await gc('--grace-hours', '0', '--upload-expiry-hours', '0');
    t.match(dropped.stdout, new RegExp(`dropped unfinished upload: user [0-9a-f-]+ ${attachmentIdOf(inProgress)} \\(1000 bytes stored\\)`));
    t.equal((await ts.tdb.db.query('SELECT 1 FROM attachment_uploads')).rowCount, 0);
    const orphans = await ts.tdb.db.query('SELECT 1 FROM attachment_chunks c WHERE NOT EXISTS (SELECT 1 FROM attachments a WHERE a.blob_id = c.blob_id)');
    t.equal(orphans.rowCount, 0, 'no chunk without an attachment');
    const resumed = await uploadAttachment(a, inProgress);
    t.match(resumed.first, { type: 'upload_ready', offset: 0 }, 'the client starts over');
  });
});

t.test('a reference committed while collection waits for the user survives', async (t) => {
  const late = await upload(a);
  const doc = await a.create({ title: 'will refer' });
  const pg = await import('pg');
  const holder = new pg.default.Client({ connectionString: ts.tdb.url });
  await holder.connect();
  t.teardown(() => holder.end());
  // What a mutation does: lock the user's row, then write the document.
  await holder.query('BEGIN');
  await holder.query('SELECT 1 FROM users WHERE email = $1 FOR UPDATE', ['alice@example.com']);
  const running = gc('--grace-hours', '0');
  const waiting = async () =>
    (await ts.tdb.db.query("SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%FROM users WHERE id%FOR UPDATE%'")).rowCount > 0;
  while (!(await waiting())) await new Promise((r) => setTimeout(r, 20));
  await holder.query('UPDATE documents SET content = $2 WHERE id = $1', [doc.document_id, JSON.stringify({ title: 'refers', sample: late.ref })]);
  await holder.query('COMMIT');
  const r = await running;
  t.equal(r.code, 0, r.stderr);
  t.notMatch(r.stdout, late.id);
  t.same(await owners(late.id), ['alice@example.com']);
});

t.test('serve collects on its schedule', async (t) => {
  const scheduled = await ts.startAnother({ args: ['--attachment-gc-interval-seconds', '1', '--attachment-grace-hours', '0'] });
  t.ok(scheduled.port);
  const gone = await upload(a);
  const keep = await upload(a);
  await a.create({ keep: keep.ref });
  while (await stored(gone.id)) await new Promise((r) => setTimeout(r, 100));
  t.ok(await stored(keep.id));
  t.same(await owners(keep.id), ['alice@example.com']);
});
