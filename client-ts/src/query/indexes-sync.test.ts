import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseQuery, runQuery, type JsonObject, type QueryableDocument } from '@json-sync/core';
import type { SyncEngine } from '../engine.js';
import { EventType } from '../events.js';
import { eventually, harness, nextEvent, syncedPair, type Harness } from '../test-support/harness.js';

/**
 * Indexes stay in step with the views through every write path — remote changes, a full sync,
 * undo and redo, a conflict's rebase — and after a crash between a write and its commit: the
 * rows equal those of the same index built afresh, and indexed queries answer as the reference.
 */

const QUERIES: JsonObject[] = [
  { where: { status: 'open' }, sort: [{ n: 'desc' }] },
  { where: { tags: 'synth' } },
  { where: { n: { $gte: 2, $lt: 5 } }, sort: [{ n: 'asc' }] },
  { search: 'synth*', sort: [{ $title: 'asc' }] },
];

function declare(e: SyncEngine): void {
  e.createIndex({ name: 'status', fields: ['status', 'n'] });
  e.createIndex({ name: 'tags', fields: ['tags'] });
  e.createIndex({ name: 'n', fields: ['n'] });
  e.createTextIndex({ name: 'text', fields: ['title', 'tags'] });
}

/** Rows of an index table by document, as hex, sorted: comparable between two tables. */
function rows(e: SyncEngine, name: string): string[] {
  const db = e['store'].db;
  const { catalog } = e['indexes'].catalog();
  const table = [...catalog.values, ...catalog.texts].find((v) => v.name === name)!.table;
  const all = db.prepare(`SELECT * FROM ${table}`).raw().all() as unknown[][];
  return all.map((r) => r.map((c) => (Buffer.isBuffer(c) ? c.toString('hex') : String(c))).join('|')).sort();
}

/** Each index's rows equal a fresh build's, and every query answers as the reference over the engine's documents. */
function consistent(t: Test, e: SyncEngine, what: string): void {
  for (const spec of e.listIndexes()) {
    const fresh = `${spec.name}_rebuilt`;
    if (spec.kind === 'value') e.createIndex({ name: fresh, fields: spec.fields });
    else e.createTextIndex({ name: fresh, fields: spec.fields });
    t.same(rows(e, spec.name), rows(e, fresh), `${what}: ${spec.name} holds what a fresh build holds`);
    e.dropIndex(fresh);
  }
  const docs: QueryableDocument[] = e.listDocuments().map((d) => ({ id: d.id, revision: d.syncRevision, title: d.title, createdAt: d.createdAt, updatedAt: d.updatedAt, content: d.content }));
  for (const q of QUERIES) {
    const reference = runQuery(docs, parseQuery(q), (d) => [String(d.content.title ?? ''), ...((d.content.tags as string[] | undefined) ?? [])]);
    const device = e.query(q);
    t.same('documents' in device ? device.documents.map((d) => d.id) : device, 'documents' in reference ? reference.documents.map((d) => d.id) : reference, `${what}: ${JSON.stringify(q)}`);
  }
}

t.test('remote changes, a full sync, undo and redo, and a conflict rebase keep every index in step', async (t) => {
  const { h, a, b } = await syncedPair(t, 'indexes@example.com');
  declare(a);
  const made = b.createDocuments([
    { title: 'synth pad', status: 'open', n: 3, tags: ['synth', 'audio'] },
    { title: 'drums', status: 'done', n: 1, tags: ['audio'] },
    { title: 'synthwave', status: 'open', n: 4, tags: [] },
  ]);
  await b.whenSynced();
  await a.whenSynced();
  await eventually(() => a.countDocuments() === 3);
  consistent(t, a, 'after remote creates');

  b.mergeDocument(made[0]!, { n: 9, tags: ['pad'] });
  b.deleteDocument(made[1]!);
  await b.whenSynced();
  await eventually(() => a.countDocuments() === 2 && a.getDocument(made[0]!)?.content.n === 9);
  consistent(t, a, 'after a remote update and delete');

  a.mergeDocument(made[2]!, { status: 'done', n: 2 });
  a.undo(made[2]!);
  a.redo(made[2]!);
  a.undo(made[2]!);
  await a.whenSynced();
  consistent(t, a, 'after undo and redo');

  // Both edit the same field offline (B having seen A's last change): A's loses and is rebased on B's version.
  t.ok(await eventually(() => b.getDocument(made[2]!)?.syncRevision === a.getDocument(made[2]!)?.syncRevision), "B has A's last change");
  a.setOnline(false);
  b.mergeDocument(made[2]!, { n: 7 });
  await b.whenSynced();
  a.mergeDocument(made[2]!, { n: 1, status: 'open' });
  const conflict = nextEvent(a, EventType.ConflictDetected);
  a.setOnline(true);
  await conflict;
  await a.whenSynced();
  t.equal(a.getDocument(made[2]!)?.content.n, 7, "the server's version won");
  consistent(t, a, 'after a conflict');

  // A fresh engine with its indexes declared before it ever synced: everything arrives by full sync.
  const c = h.engine('c', 'indexes@example.com', { online: false });
  declare(c);
  c.setOnline(true);
  await c.whenSynced();
  t.equal(c.countDocuments(), 2);
  consistent(t, c, 'after a full sync');
});

t.test('an engine killed while writing reopens with every index equal to a fresh build', async (t) => {
  const h: Harness = await harness();
  t.teardown(() => h.teardown());
  const options = h.options('killed', 'killed@example.com', { online: false });
  const first = h.engine('first', 'killed@example.com');
  await first.whenSynced();
  const script = `
    const { SyncEngine } = await import(${JSON.stringify(join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', 'dist', 'src', 'index.js'))});
    const e = SyncEngine.open(${JSON.stringify(options)});
    e.createIndex({ name: 'status', fields: ['status', 'n'] });
    e.createTextIndex({ name: 'text', fields: ['title', 'tags'] });
    console.log('ready');
    for (let i = 0; ; i++) {
      const id = e.createDocument({ title: 'synth ' + i, status: i % 3 ? 'open' : 'done', n: i % 7, tags: ['synth'] });
      if (i % 4 === 0) e.mergeDocument(id, { n: i });
      if (i % 5 === 0) e.deleteDocument(id);
    }`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  await new Promise((r) => setTimeout(r, 400));
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  const reopened = h.engine('killed', 'killed@example.com', { databasePath: options.databasePath, online: false });
  t.ok(reopened.countDocuments() > 10, `${reopened.countDocuments()} documents were committed before the kill`);
  consistent(t, reopened, 'after SIGKILL');
});
