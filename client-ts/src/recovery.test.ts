import t from 'tap';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { WebSocketServer } from 'ws';
import { canonicalJson, type ClientMessage, type JsonObject } from '@json-sync/core';
import { CLI, startTcpProxy } from '@json-sync/test-support';
import { SyncEngine } from './engine.js';
import { SyncError } from './errors.js';
import { EventType, type SyncEvent } from './events.js';
import { harness, nextEvent, record, type Harness, eventually, syncedPair, serverDoc, serverDocs } from './test-support/harness.js';

const BOB = 'bob@example.com';
const run = promisify(execFile);

/**
 * Empties the server's change log through the operator's command, so every engine's cursor is
 * older than the kept log and its next catch-up is answered with cursor_expired.
 */
async function pruneWholeLog(h: Harness): Promise<number> {
  // The command keeps entries newer than whole days; age them so "0 days" covers all of them.
  await h.tdb.db.query(`UPDATE change_events SET created_at = created_at - interval '1 hour'`);
  const { stdout } = await run(process.execPath, [CLI, 'prune-log', '--older-than-days', '0'], { env: { ...process.env, DATABASE_URL: h.tdb.url } });
  const m = /Removed (\d+) change-log entries/.exec(stdout);
  if (!m) throw new Error(`unexpected prune-log output: ${stdout}`);
  return Number(m[1]);
}

/** Every message the engine hands to its transport, to tell a full sync from a log replay. */
function sent(engine: SyncEngine): ClientMessage[] {
  const out: ClientMessage[] = [];
  const transport = engine['transport'];
  const send = transport.send.bind(transport);
  transport.send = (m: ClientMessage) => {
    const ok = send(m);
    if (ok) out.push(m);
    return ok;
  };
  return out;
}

function syncErrorCode(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return err instanceof SyncError ? err.code : `not a SyncError: ${String(err)}`;
  }
  return 'no error';
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('a change committed before its reply was lost is applied once after a full sync forced by cursor_expired', async (t) => {
  const h = await harness();
  t.teardown(() => h.teardown());
  // A reaches the server through a proxy that can lose what comes back.
  const proxy = await startTcpProxy(Number(new URL(h.server.url).port));
  t.teardown(() => proxy.close());
  const a = h.engine('a', BOB, { serverUrl: `ws://127.0.0.1:${proxy.port}/ws` });
  const b = h.engine('b', BOB);
  await Promise.all([a.whenSynced(10_000), b.whenSynced(10_000)]);
  const id = a.createDocument({ title: 'list', items: [] });
  const bSaw = nextEvent(b, EventType.DocumentCreated, (e) => e.documentId === id);
  await a.whenSynced(5000);
  await bSaw;

  const committed = nextEvent(b, EventType.DocumentUpdated, (e) => e.documentId === id);
  proxy.dropDownstream(true);
  a.patchDocument(id, [{ op: 'add', path: '/items/-', value: 'milk' }]);
  await committed;
  a.setOnline(false);
  proxy.cutAll();
  proxy.dropDownstream(false);
  t.equal(a.pendingCount(), 1, 'A never got the reply');
  t.same((await serverDoc(h, id))?.content, { title: 'list', items: ['milk'] }, 'the server committed the change');

  b.createDocument({ title: 'other' });
  await b.whenSynced(5000);
  t.ok((await pruneWholeLog(h)) >= 3, 'log pruned');

  const out = sent(a);
  a.setOnline(true);
  await a.whenSynced(10_000);
  t.ok(
    out.some((m) => m.type === 'request_full_sync'),
    'the reconnect went through a full sync',
  );
  const local = a.getDocument(id);
  const server = await serverDoc(h, id);
  t.same(local?.content, { title: 'list', items: ['milk'] });
  t.same(server?.content, { title: 'list', items: ['milk'] });
  t.equal(local?.syncRevision, server?.syncRevision);
  t.equal(a.pendingCount(), 0);
  t.equal(a.countDocuments(), 2, 'A also has the document B created meanwhile');
  t.same(a.conflicts(), []);
});

t.test('a repeated conflict answer does not roll a document back behind newer changes', async (t) => {
  const { h, a, b } = await syncedPair(t, BOB);
  const id = a.createDocument({ title: 't', note: '' });
  const bSaw = nextEvent(b, EventType.DocumentCreated, (e) => e.documentId === id);
  await a.whenSynced(5000);
  await bSaw;

  a.setOnline(false);
  a.mergeDocument(id, { title: 'from A' });
  b.mergeDocument(id, { title: 'from B' });
  await b.whenSynced(5000);

  // A sends its stale edit on connecting; drop the connection before the conflict answer arrives.
  const off = a.onEvent(() => {
    off();
    setImmediate(() => a.setOnline(false));
  }, EventType.SyncStarted);
  a.setOnline(true);
  const recorded = await eventually(async () => (await h.tdb.db.query('SELECT 1 FROM conflicts WHERE document_id = $1', [id])).rowCount === 1, 5000);
  t.ok(recorded, 'the server decided the conflict');
  await sleep(50);
  t.same(a.conflicts(), [], 'A did not get the answer');
  t.equal(a.pendingCount(), 1);

  b.mergeDocument(id, { note: 'from B later' });
  await b.whenSynced(5000);

  const events = record(a);
  a.setOnline(true);
  await a.whenSynced(10_000);
  await sleep(100);
  const server = await serverDoc(h, id);
  t.same(server?.content, { title: 'from B', note: 'from B later' });
  t.equal(server?.syncRevision, 3);
  const local = a.getDocument(id);
  t.same(local?.content, { title: 'from B', note: 'from B later' }, 'A keeps the newest server content');
  t.equal(local?.syncRevision, 3);
  t.equal(local?.pending, 0);
  t.equal(a.conflicts().length, 1, 'the lost edit is recorded once');
  t.equal(events.filter((e) => e.type === EventType.ConflictDetected).length, 1);
  const updates = events.filter((e) => e.type === EventType.DocumentUpdated && e.documentId === id);
  t.same(updates.at(-1)?.content, { title: 'from B', note: 'from B later' }, 'the last event shows the newest content');
});

t.test('catch-up of documents larger together than one frame completes', async (t) => {
  const { h, a, b } = await syncedPair(t, BOB);
  a.createDocument({ title: 'seed' });
  await a.whenSynced(5000);
  a.setOnline(false);
  // 130 × ~520 KB is over the 64 MiB the client accepts in one frame, and one default page holds all of them.
  const COUNT = 130;
  const body = 'x'.repeat(520_000);
  for (let i = 0; i < COUNT; i++) b.createDocument({ title: `big${i}`, body });
  await b.whenSynced(180_000); // 67 MB through the real server: give a loaded machine time
  const bytes = await h.tdb.db.query<{ n: string }>(`SELECT sum(octet_length(forward_patch::text))::text AS n FROM change_events WHERE event_type = 'create'`);
  t.ok(Number(bytes.rows[0]!.n) > 64 * 1024 * 1024, 'the page is larger than 64 MiB');

  const events = record(a);
  a.setOnline(true);
  const done = await eventually(() => a.countDocuments() === COUNT + 1, 120_000);
  t.ok(done, `A got every document (has ${a.countDocuments()})`);
  if (done) await a.whenSynced(10_000);
  const docs = a.listDocuments();
  t.equal(docs.length, COUNT + 1);
  t.equal(docs.filter((d) => (d.content as { body?: string }).body === body).length, COUNT, 'every body arrived whole');
  const attempts = events.filter((e) => e.type === EventType.ConnectionAttempted).length;
  t.ok(attempts <= 8, `a bounded number of reconnects (${attempts})`);
  t.ok(a.isConnected());
});

t.test('a change too large for one message is refused locally and queues nothing', async (t) => {
  const { h, a } = await syncedPair(t, BOB);
  const id = a.createDocument({ title: 'doc' });
  await a.whenSynced(5000);
  const events = record(a);
  const historyBefore = a.history(id).length;
  const big = 'x'.repeat(400_000);
  // Each step fits a document, but the patch as one message is over max_frame_bytes (1 MiB).
  const ops = [
    { op: 'add', path: '/a', value: big },
    { op: 'remove', path: '/a' },
    { op: 'add', path: '/b', value: big },
    { op: 'remove', path: '/b' },
    { op: 'add', path: '/c', value: big },
    { op: 'remove', path: '/c' },
    { op: 'add', path: '/n', value: 1 },
  ] as const;
  t.equal(
    syncErrorCode(() => a.patchDocument(id, [...ops])),
    'invalid_input',
  );
  t.equal(a.pendingCount(), 0, 'nothing queued');
  t.same(a.getDocument(id)?.content, { title: 'doc' }, 'nothing changed locally');
  t.equal(a.history(id).length, historyBefore, 'no history written');
  t.same(events, [], 'no event for a refused change');

  a.mergeDocument(id, { n: 2 });
  await a.whenSynced(5000);
  const server = await serverDoc(h, id);
  t.same(server?.content, { title: 'doc', n: 2 });
  t.equal(server?.syncRevision, 2);
  t.equal(a.getDocument(id)?.syncRevision, 2);
});

t.test('a server that never answers authenticate does not hold the engine', async (t) => {
  const h = await harness();
  t.teardown(() => h.teardown());
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        // close() waits for every client; one stuck authenticating would hold the test forever.
        for (const c of wss.clients) c.terminate();
        wss.close(() => resolve());
      }),
  );
  let connections = 0;
  let authenticates = 0;
  wss.on('connection', (ws) => {
    connections++;
    ws.on('message', (d) => {
      if ((JSON.parse(d.toString()) as { type?: string }).type === 'authenticate') authenticates++;
    });
  });
  const port = (wss.address() as { port: number }).port;
  const e = h.engine('silent', BOB, { serverUrl: `ws://127.0.0.1:${port}/ws`, heartbeat: { intervalMs: 1000, timeoutMs: 200 } });
  const third = nextEvent(e, EventType.ConnectionAttempted, (x) => x.numericData === 3, 5000);
  await t.resolves(third, 'a third attempt within 5 s');
  t.ok(connections >= 2, `the server saw ${connections} connections`);
  t.ok(authenticates >= 2, `and ${authenticates} authenticate messages`);
  t.equal(e.isConnected(), false);
});

t.test('undo refuses to overwrite a change that arrived by full sync; redo refuses after a later remote change', async (t) => {
  const { h, a, b } = await syncedPair(t, BOB);

  await t.test('undo after a full sync', async (t) => {
    const id = a.createDocument({ title: 'original' });
    const bSaw = nextEvent(b, EventType.DocumentCreated, (e) => e.documentId === id);
    await a.whenSynced(5000);
    await bSaw;
    const bUpdated = nextEvent(b, EventType.DocumentUpdated, (e) => e.documentId === id);
    a.mergeDocument(id, { title: 'A edit' });
    await a.whenSynced(5000);
    await bUpdated;

    a.setOnline(false);
    b.mergeDocument(id, { title: 'B edit' });
    await b.whenSynced(5000);
    t.ok((await pruneWholeLog(h)) >= 3, 'log pruned');
    const out = sent(a);
    a.setOnline(true);
    await a.whenSynced(10_000);
    t.ok(
      out.some((m) => m.type === 'request_full_sync'),
      'B edit reached A through a full sync',
    );
    t.same(a.getDocument(id)?.content, { title: 'B edit' });

    t.equal(
      syncErrorCode(() => a.undo(id)),
      'conflict',
    );
    t.equal(a.pendingCount(), 0, 'nothing queued');
    await a.whenSynced(5000);
    t.same(a.getDocument(id)?.content, { title: 'B edit' });
    t.same((await serverDoc(h, id))?.content, { title: 'B edit' });
  });

  await t.test('redo after a remote change', async (t) => {
    const id = a.createDocument({ title: 't' });
    const bSaw = nextEvent(b, EventType.DocumentCreated, (e) => e.documentId === id);
    await a.whenSynced(5000);
    await bSaw;
    a.mergeDocument(id, { title: 'A' });
    a.undo(id);
    await a.whenSynced(5000);
    // B edits on top of the undo, not on a stale revision that would lose to it.
    t.ok(await eventually(() => b.getDocument(id)?.syncRevision === 3, 5000), 'B has the undo');
    const aGot = nextEvent(a, EventType.DocumentUpdated, (e) => e.documentId === id && !e.booleanData);
    b.mergeDocument(id, { title: 'B' });
    await aGot;
    t.same(a.getDocument(id)?.content, { title: 'B' });
    t.equal(
      syncErrorCode(() => a.redo(id)),
      'conflict',
    );
    t.equal(a.pendingCount(), 0, 'nothing queued');
    await a.whenSynced(5000);
    t.same(a.getDocument(id)?.content, { title: 'B' });
    t.same((await serverDoc(h, id))?.content, { title: 'B' });
  });
});

t.test('a server URL without a scheme is refused at open', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'json-sync-url-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'x.db');
  t.equal(
    syncErrorCode(() => SyncEngine.open({ databasePath: path, serverUrl: 'localhost:8080/ws', email: BOB, apiKey: 'k', apiSecret: 's' })),
    'invalid_input',
  );
  t.equal(existsSync(path), false, 'no database file created');
});

t.test('close() from a connectionSucceeded handler does not crash the process', async (t) => {
  const h = await harness();
  t.teardown(() => h.teardown());
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown) => uncaught.push(err);
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
  t.teardown(() => {
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
  });
  const b = h.engine('b', BOB);
  await b.whenSynced(10_000);
  b.createDocument({ title: 'x' });
  await b.whenSynced(5000);

  const c = h.engine('c', BOB);
  let closing: Promise<void> | null = null;
  c.on('connectionSucceeded', () => {
    closing = c.close();
  });
  t.ok(await eventually(() => closing !== null, 5000), 'connected');
  await closing;
  await sleep(1000);
  t.same(
    uncaught.map((e) => String((e as Error)?.stack ?? e)),
    [],
  );
  t.equal(c.isConnected(), false);
  t.equal(
    syncErrorCode(() => c.countDocuments()),
    'closed',
  );
});

t.test('a large full sync keeps the unapplied messages bounded', async (t) => {
  const h = await harness();
  t.teardown(() => h.teardown());
  const b = h.engine('b', BOB);
  await b.whenSynced(10_000);
  const COUNT = 3000;
  const body = 'y'.repeat(1000);
  for (let i = 0; i < COUNT; i++) b.createDocument({ title: `d${i}`, body });
  await b.whenSynced(60_000);

  const c = h.engine('c', BOB);
  let peak = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, c['sync'].inbox.size);
  }, 1);
  t.teardown(() => clearInterval(sampler));
  await nextEvent(c, EventType.SyncCompleted, undefined, 60_000);
  clearInterval(sampler);
  t.equal(c.countDocuments(), COUNT);
  t.ok(peak <= 600, `at most ~600 server messages waiting (peak ${peak})`);
});

t.test('a full sync cut short is redone as a full sync on the next connection, announcing each document once', async (t) => {
  const h = await harness();
  t.teardown(() => h.teardown());
  const b = h.engine('b', BOB);
  await b.whenSynced(10_000);
  // Enough documents that applying the snapshot takes several slices: going offline after the first cuts it short.
  const N = 1000;
  const ids = b.createDocuments(Array.from({ length: N }, (_, i) => ({ title: `b${i}` })));
  for (const id of ids) b.mergeDocument(id, { done: true });
  await b.whenSynced(30_000);

  const c = h.engine('c', BOB);
  const events = record(c);
  const out = sent(c);
  let created = 0;
  const off = c.onEvent(() => {
    if (++created === 3) {
      off();
      c.setOnline(false);
    }
  }, EventType.DocumentCreated);
  t.ok(await eventually(() => created >= 3 && !c.isConnected(), 10_000), 'dropped during the full sync');
  await sleep(100);
  t.ok(c.countDocuments() < N, `the first full sync did not finish (${c.countDocuments()} documents)`);
  const firstConnection = out.length;

  c.setOnline(true);
  await c.whenSynced(10_000);
  const second = out.slice(firstConnection);
  const firstRequest = second.find((m) => m.type === 'request_full_sync' || m.type === 'get_changes_since');
  t.equal(firstRequest?.type, 'request_full_sync', 'the second connection starts a full sync');
  t.same(
    out.filter((m) => m.type === 'get_changes_since' && m.last_sequence < 20).map((m) => canonicalJson(m as unknown as JsonObject)),
    [],
    'the log is never replayed from before the snapshot',
  );

  const createdPer = new Map<string, number>();
  for (const e of events) if (e.type === EventType.DocumentCreated) createdPer.set(e.documentId!, (createdPer.get(e.documentId!) ?? 0) + 1);
  t.same([...createdPer.keys()].sort(), [...ids].sort(), 'every document announced');
  t.same([...createdPer.values()].filter((n) => n !== 1), [], 'none announced twice');
  t.equal(c.countDocuments(), N);
  for (const id of ids) {
    const d = c.getDocument(id);
    if (!d || d.syncRevision !== 2 || (d.content as { done?: boolean }).done !== true) t.fail(`document ${id} is ${JSON.stringify(d)}`);
  }
});

t.test('three offline edits of a document deleted elsewhere raise one ConflictDetected', async (t) => {
  const { h, a, b } = await syncedPair(t, BOB);
  const id = a.createDocument({ title: 't' });
  const bSaw = nextEvent(b, EventType.DocumentCreated, (e) => e.documentId === id);
  await a.whenSynced(5000);
  await bSaw;
  a.setOnline(false);
  a.mergeDocument(id, { title: 'x' });
  a.mergeDocument(id, { note: 'y' });
  a.mergeDocument(id, { more: 1 });
  b.deleteDocument(id);
  await b.whenSynced(5000);

  const events: SyncEvent[] = record(a);
  a.setOnline(true);
  await a.whenSynced(10_000);
  await sleep(300);
  t.equal(events.filter((e) => e.type === EventType.ConflictDetected && e.documentId === id).length, 1, 'one ConflictDetected');
  t.equal(a.pendingCount(), 0);
  const server = await serverDoc(h, id);
  t.equal(server?.deleted, true, 'deleted on the server');
  t.not(a.getDocument(id)?.deletedAt ?? null, null, 'and on A');
});

t.test('entries behind answers that catch-up already settled are still sent (no stall after a crash and reopen)', async (t) => {
  const h = await harness();
  t.teardown(() => h.teardown());
  const first = h.engine('crashed', BOB);
  await first.whenSynced(10_000);
  first.createDocument({ title: 'synced first' });
  await first.whenSynced(10_000); // cursor 1: the reopen below catches up instead of taking a full sync
  first.setOnline(false);
  const committed = Array.from({ length: 150 }, (_, i) => first.createDocument({ title: `committed ${i}` }));
  await first.close();
  // The file as a crash would leave it: 150 changes the server will have committed, none of them answered here.
  const path = h.options('crashed', BOB).databasePath;
  const crashed = join(h.dir, 'crashed-copy.db');
  copyFileSync(path, crashed);
  const uploader = h.engine('crashed', BOB);
  await uploader.whenSynced(20_000);
  await uploader.close();

  const reopened = SyncEngine.open({ ...h.options('ignored', BOB), databasePath: crashed, online: false });
  t.teardown(() => reopened.close(100));
  const fresh = Array.from({ length: 100 }, (_, i) => reopened.createDocument({ title: `never sent ${i}` }));
  reopened.setOnline(true);
  await t.resolves(reopened.whenSynced(15_000), 'the outbox drains: answers for entries catch-up removed keep the pump going');
  const server = await serverDocs(h);
  t.equal(server.size, 1 + committed.length + fresh.length, 'every document reached the server once');
  t.same(
    fresh.filter((id) => server.get(id)?.title !== reopened.getDocument(id)?.title),
    [],
    'the never-sent documents are on the server as created',
  );
  t.equal(reopened.pendingCount(), 0);
});
