import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3-multiple-ciphers';
import { SyncEngine } from './engine.js';
import { SyncError } from './errors.js';
import { EventType, type SyncEvent } from './events.js';
import { harness, nextEvent, serverDocs } from './test-support/harness.js';

/** The built engine a separate Node process imports (the test process runs the TypeScript source). */
const DIST_INDEX = fileURLToPath(new URL('../dist/src/index.js', import.meta.url));

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function waitFor(what: string, cond: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** `synchronous` of the engine's own connection: 1 NORMAL, 2 FULL. Not exposed by the API, so read through the private store. */
function synchronousOf(e: SyncEngine): number {
  return (e as unknown as { store: { db: Database.Database } }).store.db.pragma('synchronous', { simple: true }) as number;
}

t.test('server SIGKILLed with changes in flight and restarted: every returned change is on the server exactly once', async (t) => {
  const h = await harness();
  t.teardown(() => h.teardown());
  const a = h.engine('a', 'kill@example.com');
  await a.whenSynced(10_000);

  const ids: string[] = [];
  let writing = true;
  let i = 0;
  const writer = (async () => {
    while (writing) {
      // Bursts with a yield between them, so the engine's pump keeps mutations on the wire.
      for (let k = 0; k < 5; k++, i++) {
        if (ids.length < 8 || i % 4 === 0) ids.push(a.createDocument({ title: `doc ${i}`, n: i, tags: [i] }));
        else a.mergeDocument(ids[i % ids.length]!, { n: i, [`k${i % 3}`]: i });
      }
      await sleep(4);
    }
  })();

  await waitFor('the server to commit some changes', async () => {
    const r = await h.tdb.db.query<{ n: number }>('SELECT count(*)::int AS n FROM change_events');
    return r.rows[0]!.n >= 60;
  });
  const lost = nextEvent(a, EventType.ConnectionLost);
  const reconnected = nextEvent(a, EventType.ConnectionSucceeded, () => true, 20_000);
  const restarted = h.restartServer('SIGKILL');
  const unanswered = a.pendingCount();
  t.ok(unanswered > 0, `${unanswered} changes unanswered when the server died`);
  await lost;
  await restarted;
  // Keep writing across the reconnect, then stop.
  await reconnected;
  await sleep(150);
  writing = false;
  await writer;

  await a.whenSynced(30_000);
  t.equal(a.pendingCount(), 0);

  const local = a.listDocuments();
  t.equal(local.length, ids.length, 'every create is in the local view');
  const server = await serverDocs(h);
  t.equal(server.size, ids.length, 'the server holds exactly the created documents');
  t.same(
    Object.fromEntries([...server].map(([id, s]) => [id, { content: s.content, revision: s.syncRevision, deleted: s.deleted }])),
    Object.fromEntries(local.map((d) => [d.id, { content: d.content, revision: d.syncRevision, deleted: false }])),
    "the server's documents equal A's local view",
  );

  const events = await h.tdb.db.query<{ sequence: number; mutation_id: string | null; document_id: string }>(
    'SELECT sequence::int AS sequence, mutation_id::text AS mutation_id, document_id::text AS document_id FROM change_events ORDER BY sequence',
  );
  const dupes = await h.tdb.db.query('SELECT mutation_id FROM change_events GROUP BY mutation_id HAVING count(*) > 1');
  t.same(dupes.rows, [], 'no mutation_id applied twice');
  t.same(
    events.rows.map((e) => e.sequence),
    events.rows.map((_, n) => n + 1),
    'sequences 1..n without holes',
  );
  const localMutations = ids.flatMap((id) => a.history(id).filter((e) => e.origin === 'local').map((e) => e.mutationId));
  t.equal(localMutations.length, i, 'one local history entry per API call');
  t.same(
    events.rows.map((e) => e.mutation_id).sort(),
    [...localMutations].sort(),
    'the server applied exactly the changes the API returned',
  );
  const perDoc = new Map<string, number>();
  for (const e of events.rows) perDoc.set(e.document_id, (perDoc.get(e.document_id) ?? 0) + 1);
  t.same(
    Object.fromEntries(ids.map((id) => [id, server.get(id)?.syncRevision])),
    Object.fromEntries(ids.map((id) => [id, perDoc.get(id)])),
    'each revision counts its change events',
  );
});

t.test('client process killed after its calls returned: the reopened outbox uploads everything', async (t) => {
  const h = await harness();
  t.teardown(() => h.teardown());
  const N = 200;
  const email = 'crash@example.com';
  const opts = h.options('child', email);
  const script = join(h.dir, 'writer.mjs');
  writeFileSync(
    script,
    `import { SyncEngine } from ${JSON.stringify(DIST_INDEX)};
const opts = JSON.parse(process.argv[2]);
const n = Number(process.argv[3]);
const engine = SyncEngine.open(opts);
engine.setOnline(false);
const ids = [];
for (let i = 0; i < n; i++) ids.push(engine.createDocument({ title: 'child ' + i, i }));
process.stdout.write('done ' + JSON.stringify(ids) + '\\n');
setInterval(() => {}, 1000);
`,
  );
  const child = spawn(process.execPath, [script, JSON.stringify(opts), String(N)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  let out = '';
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const ids = await new Promise<string[]>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /^done (.*)\n/m.exec(out);
      if (m) resolve(JSON.parse(m[1]!) as string[]);
    });
    void exited.then(() => reject(new Error(`child exited before "done"\nstdout: ${out}\nstderr: ${err}`)));
  });
  child.kill('SIGKILL');
  t.equal((await exited).signal, 'SIGKILL');
  t.equal(ids.length, N);

  const e = h.engine('child', email, { online: false });
  t.equal(e.pendingCount(), N, 'every returned create is still in the outbox');
  t.equal(e.countDocuments(), N);
  t.same(
    e.listDocuments().map((d) => d.id).sort(),
    [...ids].sort(),
  );
  t.same(e.getDocument(ids[17]!)?.content, { title: 'child 17', i: 17 });
  t.equal(e.getDocument(ids[17]!)?.syncRevision, null);
  t.equal((await serverDocs(h)).size, 0, 'nothing reached the server before the reopen');

  e.setOnline(true);
  await e.whenSynced(20_000);
  t.equal(e.pendingCount(), 0);
  const server = await serverDocs(h);
  t.equal(server.size, N);
  t.same(
    Object.fromEntries(ids.map((id) => [id, server.get(id)])),
    Object.fromEntries(ids.map((id, n) => [id, { id, title: `child ${n}`, content: { title: `child ${n}`, i: n }, syncRevision: 1, deleted: false }])),
    'every document the child created is on the server once, at revision 1',
  );
  t.equal(e.getDocument(ids[17]!)?.syncRevision, 1);
});

t.test('a second engine on the same file is refused until the first closes', async (t) => {
  const h = await harness();
  t.teardown(() => h.teardown());
  const email = 'lock@example.com';
  const first = h.engine('lock', email);
  const id = first.createDocument({ title: 'kept' });

  let refused: unknown;
  try {
    const second = SyncEngine.open(h.options('lock', email));
    await second.close();
  } catch (err) {
    refused = err;
  }
  t.ok(refused instanceof SyncError, 'refused with a SyncError');
  t.equal((refused as SyncError).code, 'locked');
  t.equal(first.getDocument(id)?.title, 'kept', 'the first engine keeps working');
  first.createDocument({ title: 'after refusal' });

  // Another process is refused the same way while this one holds the file.
  const script = join(h.dir, 'opener.mjs');
  writeFileSync(
    script,
    `import { SyncEngine } from ${JSON.stringify(DIST_INDEX)};
try { const e = SyncEngine.open({ ...JSON.parse(process.argv[2]), online: false }); await e.close(); console.log('opened'); }
catch (err) { console.log('refused ' + err.code); }
`,
  );
  const other = await new Promise<string>((resolve) => {
    const c = spawn(process.execPath, [script, JSON.stringify(h.options('lock', email))], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    c.on('exit', () => resolve(out.trim()));
  });
  t.equal(other, 'refused locked', 'another process is refused');

  await first.close();
  const reopened = SyncEngine.open({ ...h.options('lock', email), online: false });
  t.teardown(() => reopened.close(100));
  t.equal(reopened.countDocuments(), 2, 'after close() the file opens with its documents');
  t.equal(reopened.getDocument(id)?.title, 'kept');
});

t.test('heartbeat: a SIGSTOPped server is noticed within interval + timeout, and SIGCONT reconnects', async (t) => {
  const h = await harness();
  const pid = h.server.child.pid!;
  let stopped = false;
  t.teardown(async () => {
    if (stopped) process.kill(pid, 'SIGCONT');
    await h.teardown();
  });
  const heartbeat = { intervalMs: 1000, timeoutMs: 1000 };
  const e = h.engine('hb', 'hb@example.com', { heartbeat });
  await e.whenSynced(10_000);
  const events: { type: EventType; at: number }[] = [];
  e.onEvent((ev) => events.push({ type: ev.type, at: Date.now() }));

  const lost = nextEvent(e, EventType.ConnectionLost, () => true, 8000);
  const t0 = Date.now();
  process.kill(pid, 'SIGSTOP');
  stopped = true;
  await lost;
  const noticedMs = Date.now() - t0;
  t.ok(noticedMs <= heartbeat.intervalMs + heartbeat.timeoutMs + 600, `lost after ${noticedMs} ms (limit ${heartbeat.intervalMs + heartbeat.timeoutMs} ms + slack)`);
  t.equal(e.isConnected(), false);

  const completed = nextEvent(e, EventType.SyncCompleted, () => true, 10_000);
  process.kill(pid, 'SIGCONT');
  stopped = false;
  await completed;
  t.equal(e.isConnected(), true);
  const connection = [EventType.ConnectionAttempted, EventType.ConnectionSucceeded, EventType.SyncStarted, EventType.SyncCompleted];
  t.same(
    events.map((x) => x.type).filter((x) => connection.includes(x)).slice(-4),
    connection,
    'the reconnect fires Attempted, Succeeded, Started, Completed in order',
  );
  const id = e.createDocument({ title: 'after the stall' });
  await e.whenSynced(5000);
  t.equal((await serverDocs(h)).get(id)?.syncRevision, 1, 'changes flow again');
});

t.test('wrong credentials: one SyncError per attempt, at most 10 attempts in 5 s', async (t) => {
  const h = await harness();
  t.teardown(() => h.teardown());
  const e = h.engine('bad', 'bad@example.com', {
    apiSecret: `rps_${randomBytes(32).toString('hex')}`,
    reconnect: { minMs: 100, maxMs: 1000 },
    online: false,
  });
  const events: (SyncEvent & { at: number })[] = [];
  e.onEvent((ev) => events.push({ ...ev, at: Date.now() }));
  const t0 = Date.now();
  e.setOnline(true);
  await sleep(5000);
  const attemptsIn5s = events.filter((x) => x.type === EventType.ConnectionAttempted && x.at - t0 <= 5000).length;
  // An attempt still waiting for its answer at the 5 s mark is let finish so each attempt can be paired.
  if (events.at(-1)?.type === EventType.ConnectionAttempted) await nextEvent(e, EventType.SyncError, () => true, 5000);
  e.setOnline(false);

  t.ok(attemptsIn5s <= 10, `${attemptsIn5s} attempts in 5 s`);
  t.ok(attemptsIn5s >= 3, `it keeps retrying (${attemptsIn5s} attempts)`);
  const seen = events.map((x) => ({ type: x.type, error: x.error, n: x.type === EventType.ConnectionAttempted ? x.numericData : undefined }));
  const expected = seen
    .filter((x) => x.type === EventType.ConnectionAttempted)
    .flatMap((_, k) => [
      { type: EventType.ConnectionAttempted, error: null, n: k + 1 },
      { type: EventType.SyncError, error: 'bad_signature', n: undefined },
    ]);
  t.same(seen, expected, 'Attempted(n), SyncError(bad_signature), alternating, and nothing else');
  t.equal(e.isConnected(), false);
});

t.test("durability 'full' opens, syncs and fsyncs per commit", async (t) => {
  const h = await harness();
  t.teardown(() => h.teardown());
  const full = h.engine('full', 'full@example.com', { durability: 'full' });
  const normal = h.engine('normal', 'full@example.com');
  t.equal(synchronousOf(full), 2, 'synchronous = FULL');
  t.equal(synchronousOf(normal), 1, 'synchronous = NORMAL by default');
  const created = nextEvent(normal, EventType.DocumentCreated);
  const id = full.createDocument({ title: 'durable', n: 1 });
  full.mergeDocument(id, { n: 2 });
  await full.whenSynced(10_000);
  t.equal((await created).documentId, id);
  const s = (await serverDocs(h)).get(id);
  t.same(s, { id, title: 'durable', content: { title: 'durable', n: 2 }, syncRevision: 2, deleted: false });
  await full.close();
  t.ok(existsSync(h.options('full', 'full@example.com').databasePath));
  const again = SyncEngine.open({ ...h.options('full', 'full@example.com'), durability: 'full', online: false });
  t.teardown(() => again.close(100));
  t.same(again.getDocument(id)?.content, { title: 'durable', n: 2 });
});

t.test('an outbox larger than the part kept in memory: everything survives a reopen and uploads once, in order per document', async (t) => {
  const h = await harness();
  t.teardown(() => h.teardown());
  const email = 'backlog@example.com';
  const N = 6000; // beyond the 4096 entries held in memory
  const first = h.engine('backlog', email, { online: false });
  const ids = first.createDocuments(Array.from({ length: N }, (_, i) => ({ title: `backlog ${i}`, i })));
  // A second change of the first and the last document: each must follow its create.
  first.mergeDocument(ids[0]!, { edited: true });
  first.mergeDocument(ids[N - 1]!, { edited: true });
  await first.close();

  const e = SyncEngine.open({ ...h.options('backlog', email), online: false });
  t.teardown(() => e.close(100));
  t.equal(e.pendingCount(), N + 2, 'the whole outbox is there after reopening');
  e.setOnline(true);
  await e.whenSynced(120_000);
  t.equal(e.pendingCount(), 0);
  const server = await serverDocs(h);
  t.equal(server.size, N, 'every document reached the server');
  t.match(server.get(ids[0]!), { syncRevision: 2, content: { title: 'backlog 0', i: 0, edited: true } });
  t.match(server.get(ids[N - 1]!), { syncRevision: 2, content: { i: N - 1, edited: true } });
  const log = await h.tdb.db.query<{ n: number; distinct_mutations: number }>('SELECT count(*)::int AS n, count(DISTINCT mutation_id)::int AS distinct_mutations FROM change_events');
  t.same(log.rows, [{ n: N + 2, distinct_mutations: N + 2 }], 'each change applied once');
});
