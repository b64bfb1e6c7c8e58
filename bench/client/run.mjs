// Client-engine benchmark: local creates/updates per second (offline, durability normal and full,
// and with a connected server syncing in the background) against a raw better-sqlite3 loop
// measured in the same run, and end-to-end latency updateDocument(A) → DocumentUpdated(B) against
// the same path driven by two raw protocol clients.
// Usage: npm run build && node bench/client/run.mjs [--count 20000] [--full-count 5000] [--online-count 10000] [--e2e 1000]
// (durability 'full' fsyncs every commit, and the online phase waits until all is synced, so both run fewer
// ops by default to keep the whole run under ~2 minutes on a shared 2-core machine)
// BENCH_DATABASE_URL (default TEST_DATABASE_URL or local postgres): a fresh database is made and dropped.
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { authenticateBody, sign, unixSeconds } from '@json-sync/core';
import { SyncEngine, EventType } from '../../client-ts/dist/src/index.js';
import { databaseHost, startBenchServer } from '../bench-server.mjs';

const require = createRequire(import.meta.url);
const Database = require('better-sqlite3');

const args = Object.fromEntries(process.argv.slice(2).join(' ').split('--').filter(Boolean).map((s) => s.trim().split(/\s+/)));
const count = Number(args.count ?? 20000);
const fullCount = Number(args['full-count'] ?? Math.min(count, 5000));
// With a server the run waits until everything is synced, which the server's commit rate bounds.
const onlineCount = Number(args['online-count'] ?? Math.min(count, 10000));
const e2eCount = Number(args.e2e ?? 1000);
const WARMUP = 50;
// Yield to the event loop this often in every engine loop, so that with a server the sync traffic
// (pump, replies, pushes) really runs alongside the calls instead of after them.
const YIELD_EVERY = 100;
const dir = mkdtempSync(join(tmpdir(), 'json-sync-client-bench-'));

const nextTick = () => new Promise((r) => setImmediate(r));
const now = () => performance.now();

const DESCRIPTION = 'Write the quarterly report, collect the figures from every team and send it round before Friday.';
const content = (i) => ({ title: `Task ${i}`, description: DESCRIPTION, status: 'open', priority: i % 5, tags: ['work', 'report'], done: false });
const updated = (i, j) => ({ ...content(i), status: 'in-progress', counter: j });


// ---- raw better-sqlite3 baseline ---------------------------------------------------------------

/** One documents-like row per transaction, same pragmas as the engine's store (exclusive lock, WAL, synchronous). */
function rawLoop(durability, n) {
  const db = new Database(join(dir, `raw-${durability}-${randomUUID()}.db`));
  db.pragma('locking_mode = EXCLUSIVE');
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${durability === 'full' ? 'FULL' : 'NORMAL'}`);
  db.exec('CREATE TABLE documents (id TEXT PRIMARY KEY, content TEXT NOT NULL, title TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)');
  const insert = db.prepare('INSERT INTO documents (id, content, title, created_at, updated_at) VALUES (?, ?, ?, ?, ?)');
  const update = db.prepare('UPDATE documents SET content = ?, updated_at = ? WHERE id = ?');
  const create = db.transaction((id, c) => { const at = new Date().toISOString(); insert.run(id, JSON.stringify(c), c.title, at, at); });
  const change = db.transaction((id, c) => update.run(JSON.stringify(c), new Date().toISOString(), id));
  const ids = Array.from({ length: n }, () => randomUUID());
  let t0 = now();
  for (let i = 0; i < n; i++) create(ids[i], content(i));
  const creates = n / ((now() - t0) / 1000);
  t0 = now();
  for (let j = 0; j < n; j++) change(ids[j % n], updated(j % n, j));
  const updates = n / ((now() - t0) / 1000);
  db.close();
  return { creates, updates };
}

// ---- engine loops --------------------------------------------------------------------------------

async function engineCreates(engine, n) {
  const ids = new Array(n);
  const t0 = now();
  for (let i = 0; i < n; i++) {
    ids[i] = engine.createDocument(content(i));
    if (i % YIELD_EVERY === YIELD_EVERY - 1) await nextTick();
  }
  return { ids, rate: n / ((now() - t0) / 1000) };
}

async function engineUpdates(engine, ids, n) {
  const t0 = now();
  for (let j = 0; j < n; j++) {
    const i = j % ids.length;
    engine.updateDocument(ids[i], updated(i, j));
    if (j % YIELD_EVERY === YIELD_EVERY - 1) await nextTick();
  }
  return n / ((now() - t0) / 1000);
}

const engines = [];
function openEngine(name, extra) {
  const e = SyncEngine.open({
    databasePath: join(dir, `${name}.db`),
    serverUrl: 'ws://127.0.0.1:9/ws',
    email: `${name}@example.com`,
    apiKey: 'rpa_none',
    apiSecret: 'rps_none',
    reconnect: { minMs: 50, maxMs: 500 },
    heartbeat: { intervalMs: 5000, timeoutMs: 5000 },
    ...extra,
  });
  engines.push(e);
  return e;
}

async function offlinePhase(durability, count) {
  const raw = rawLoop(durability, count);
  const engine = openEngine(`offline-${durability}`, { online: false, durability });
  const { ids, rate: creates } = await engineCreates(engine, count);
  const updates = await engineUpdates(engine, ids, count);
  if (engine.pendingCount() !== 2 * count) throw new Error(`offline outbox holds ${engine.pendingCount()}, expected ${2 * count}`);
  await engine.close();
  return { raw, creates, updates };
}

// ---- server ------------------------------------------------------------------------------------

async function onlinePhase(srv, count) {
  const engine = openEngine('online', { serverUrl: srv.url, apiKey: srv.apiKey, apiSecret: srv.secret, email: 'bench-online@example.com' });
  await engine.whenSynced(30_000);
  let t0 = now();
  const { ids, rate: creates } = await engineCreates(engine, count);
  const createsUnanswered = engine.pendingCount();
  await engine.whenSynced(120_000);
  const createsSynced = count / ((now() - t0) / 1000);
  t0 = now();
  const updates = await engineUpdates(engine, ids, count);
  const updatesUnanswered = engine.pendingCount();
  await engine.whenSynced(120_000);
  const updatesSynced = count / ((now() - t0) / 1000);
  const doc = engine.getDocument(ids[count - 1]);
  if (doc.syncRevision !== 2 || doc.pending !== 0) throw new Error(`last document at revision ${doc.syncRevision} with ${doc.pending} pending`);
  await engine.close();
  return { creates, createsUnanswered, createsSynced, updates, updatesUnanswered, updatesSynced, batches: await batchStats(srv) };
}

/** The server's commit batches so far (its /metrics): explains the "all synced" rate. */
async function batchStats(srv) {
  const text = await (await fetch(`${srv.httpUrl}/metrics`)).text();
  const metric = (name) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  const batches = metric('sync_batch_size_count');
  return { batches, meanSize: metric('sync_batch_size_sum') / batches, meanMs: (metric('sync_batch_seconds_sum') / batches) * 1000, busyS: metric('sync_batch_seconds_sum') };
}

function percentiles(samples) {
  const s = [...samples].sort((a, b) => a - b);
  return { p50: s[Math.floor(s.length * 0.5)], p99: s[Math.min(s.length - 1, Math.floor(s.length * 0.99))], max: s[s.length - 1] };
}

/** Engines A and B of one user; step(j) times updateDocument on A until B fires DocumentUpdated with counter j. */
async function engineDriver(srv) {
  const opts = { serverUrl: srv.url, apiKey: srv.apiKey, apiSecret: srv.secret, email: 'bench-e2e@example.com' };
  const a = openEngine('e2e-a', opts);
  const b = openEngine('e2e-b', opts);
  await Promise.all([a.whenSynced(30_000), b.whenSynced(30_000)]);
  let waiting = null;
  b.onEvent((e) => {
    if (waiting && e.documentId === waiting.id && e.content?.counter === waiting.counter) {
      const w = waiting;
      waiting = null;
      w.resolve(now());
    }
  }, [EventType.DocumentCreated, EventType.DocumentUpdated]);
  const arrival = (id, counter) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`B did not see counter ${counter} within 10 s`)), 10_000);
    waiting = { id, counter, resolve: (t) => { clearTimeout(timer); resolve(t); } };
  });
  const id = randomUUID();
  const created = arrival(id, 0);
  a.createDocument({ ...content(0), counter: 0 }, { id });
  await created;
  let steps = 0;
  return {
    async step(j) {
      const seen = arrival(id, j);
      const t0 = now();
      a.updateDocument(id, updated(0, j));
      const t1 = await seen;
      steps++;
      return t1 - t0;
    },
    async finish() {
      const revision = b.getDocument(id).syncRevision;
      if (revision !== steps + 1) throw new Error(`B ends at revision ${revision}, expected ${steps + 1}`);
      await Promise.all([a.close(), b.close()]);
    },
  };
}

// ---- raw protocol baseline: the same path with no engine on either side --------------------------

function rawConnect(srv, email) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(srv.url);
    const clientId = randomUUID();
    ws.once('error', reject);
    ws.once('open', () => {
      const timestamp = unixSeconds();
      const nonce = randomBytes(16).toString('hex');
      ws.send(JSON.stringify({
        type: 'authenticate', email, client_id: clientId, api_key: srv.apiKey, timestamp, nonce, protocol_version: 1,
        signature: sign({ secret: srv.secret, timestamp, email, apiKey: srv.apiKey, body: authenticateBody(clientId, nonce) }),
      }));
      ws.once('message', (d) => {
        const m = JSON.parse(d.toString());
        if (m.type !== 'auth_success') reject(new Error(JSON.stringify(m)));
        else resolve(ws);
      });
    });
  });
}

/** Raw sockets X and Y of another user: X sends update_document (one in flight, like the engine), Y waits for the push. */
async function rawDriver(srv) {
  const x = await rawConnect(srv, 'bench-raw@example.com');
  const y = await rawConnect(srv, 'bench-raw@example.com');
  const waitFor = (ws, pred) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => { ws.off('message', on); reject(new Error('raw client timed out')); }, 10_000);
    const on = (d) => {
      const m = JSON.parse(d.toString());
      if (!pred(m)) return;
      clearTimeout(timer);
      ws.off('message', on);
      resolve({ m, t: now() });
    };
    ws.on('message', on);
  });
  const id = randomUUID();
  const pushed = waitFor(y, (m) => m.type === 'document_created' && m.document.id === id);
  const replied = waitFor(x, (m) => m.type === 'document_created_response');
  x.send(JSON.stringify({ type: 'create_document', document: { id, content: { ...content(0), counter: 0 } }, mutation_id: randomUUID() }));
  await Promise.all([pushed, replied]);
  let revision = 1;
  return {
    async step(j) {
      const mutationId = randomUUID();
      const pushed = waitFor(y, (m) => m.type === 'document_updated' && m.mutation_id === mutationId);
      const replied = waitFor(x, (m) => m.mutation_id === mutationId);
      const t0 = now();
      x.send(JSON.stringify({
        type: 'update_document',
        patch: { document_id: id, patch: [{ op: 'replace', path: '/counter', value: j }] },
        base_revision: revision,
        mutation_id: mutationId,
      }));
      const [{ t: t1 }, { m: reply }] = await Promise.all([pushed, replied]);
      if (reply.type !== 'document_updated_response') throw new Error(JSON.stringify(reply));
      revision = reply.sync_revision;
      return t1 - t0;
    },
    async finish() {
      x.close();
      y.close();
    },
  };
}

/** Engine and raw path in alternating blocks, so both see the same background load on a shared machine. */
async function latency(srv) {
  const engine = await engineDriver(srv);
  const raw = await rawDriver(srv);
  const samples = { engine: [], raw: [] };
  const BLOCK = 50;
  let j = 0;
  for (; j < WARMUP; j++) {
    await engine.step(j + 1);
    await raw.step(j + 1);
  }
  while (samples.engine.length < e2eCount) {
    const n = Math.min(BLOCK, e2eCount - samples.engine.length);
    for (let i = 0; i < n; i++) samples.engine.push(await engine.step(j + i + 1));
    for (let i = 0; i < n; i++) samples.raw.push(await raw.step(j + i + 1));
    j += n;
  }
  await engine.finish();
  await raw.finish();
  return { eng: percentiles(samples.engine), raw: percentiles(samples.raw) };
}

// ---- run -----------------------------------------------------------------------------------------

let srv;
let cleaned = false;
async function cleanup() {
  if (cleaned) return;
  cleaned = true;
  for (const e of engines) await e.close(200).catch(() => {});
  await srv?.stop();
  rmSync(dir, { recursive: true, force: true });
}
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => { cleanup().finally(() => process.exit(130)); });
}

const f = (n) => n.toFixed(0).padStart(7);
const ms = (n) => n.toFixed(2).padStart(6);
const x = (a, b) => `${(a / b).toFixed(2)}x`;
const t00 = now();
try {
  console.log(`client engine benchmark: ${count} local ops per phase (${fullCount} with durability full, ${onlineCount} online), ${e2eCount} end-to-end updates (+${WARMUP} warm-up), node ${process.version}, ${cpus().length} CPUs, PostgreSQL ${databaseHost}`);
  console.log('');
  console.log('local ops/s (engine calls yield to the event loop every 100 ops; raw = better-sqlite3, one row per transaction, same pragmas)');
  const normal = await offlinePhase('normal', count);
  console.log(`  offline, durability normal  creates ${f(normal.creates)}   raw ${f(normal.raw.creates)}   engine/raw ${x(normal.creates, normal.raw.creates)}   (target >= 10000 creates/s)`);
  console.log(`                              updates ${f(normal.updates)}   raw ${f(normal.raw.updates)}   engine/raw ${x(normal.updates, normal.raw.updates)}`);
  const full = await offlinePhase('full', fullCount);
  console.log(`  offline, durability full    creates ${f(full.creates)}   raw ${f(full.raw.creates)}   engine/raw ${x(full.creates, full.raw.creates)}`);
  console.log(`                              updates ${f(full.updates)}   raw ${f(full.raw.updates)}   engine/raw ${x(full.updates, full.raw.updates)}`);

  srv = await startBenchServer('client_bench');
  const online = await onlinePhase(srv, onlineCount);
  console.log(`  online,  durability normal  creates ${f(online.creates)}   vs offline ${x(online.creates, normal.creates)}   (${onlineCount - online.createsUnanswered} answered during the loop; all synced: ${f(online.createsSynced)}/s)   (target >= 10000 creates/s)`);
  console.log(`                              updates ${f(online.updates)}   vs offline ${x(online.updates, normal.updates)}   (${onlineCount - online.updatesUnanswered} answered during the loop; all synced: ${f(online.updatesSynced)}/s)`);
  const bs = online.batches;
  console.log(`  (server: ${bs.batches} commit batches, mean ${bs.meanSize.toFixed(1)} mutations, mean ${bs.meanMs.toFixed(1)} ms each, ${bs.busyS.toFixed(1)} s committing in all)`);
  console.log('');
  console.log('end-to-end latency, ms: update sent on A → seen on B (same user, loopback, one at a time; engine and raw alternate in blocks of 50)');
  const { eng, raw } = await latency(srv);
  console.log(`  engine: updateDocument(A) → DocumentUpdated(B)   p50 ${ms(eng.p50)}   p99 ${ms(eng.p99)}   max ${ms(eng.max)}   (target p50 < 5, p99 < 25)`);
  console.log(`  raw protocol: update_document → push on 2nd socket p50 ${ms(raw.p50)}   p99 ${ms(raw.p99)}   max ${ms(raw.max)}`);
  console.log(`  engine overhead                                   p50 ${ms(eng.p50 - raw.p50)}   p99 ${ms(eng.p99 - raw.p99)}`);
  console.log('');
  const verdict = (ok) => (ok ? 'met' : 'MISSED');
  console.log(`targets: local creates >= 10000/s offline ${verdict(normal.creates >= 10000)}, online ${verdict(online.creates >= 10000)}; e2e p50 < 5 ms ${verdict(eng.p50 < 5)}; e2e p99 < 25 ms ${verdict(eng.p99 < 25)}   (${((now() - t00) / 1000).toFixed(1)} s)`);
} finally {
  await cleanup();
}
