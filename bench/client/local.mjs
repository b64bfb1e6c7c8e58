// Local writes: the engine's creates, updates and bulk inserts with no server, against a raw
// better-sqlite3 loop with the same pragmas measured in the same run.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { content, dir, nextTick, now, openEngine, updated } from './engines.mjs';

const require = createRequire(import.meta.url);
const Database = require('better-sqlite3-multiple-ciphers');
/** Yield to the event loop this often in every engine loop, so that background work (sync, checkpoints) runs alongside. */
const YIELD_EVERY = 100;
/** The raw bulk baseline's rows per transaction; the engine is measured with 100 and 1,000 per call. */
const BULK_CHUNK = 1000;

function rawDatabase(durability) {
  const db = new Database(join(dir, `raw-${durability}-${randomUUID()}.db`));
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${durability === 'full' ? 'FULL' : 'NORMAL'}`);
  db.exec('CREATE TABLE documents (id TEXT PRIMARY KEY, content TEXT NOT NULL, title TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)');
  return db;
}

/** One documents-like row per transaction. */
function rawLoop(durability, n) {
  const db = rawDatabase(durability);
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

/** The same rows, BULK_CHUNK per transaction. */
function rawBulk(n) {
  const db = rawDatabase('normal');
  const insert = db.prepare('INSERT INTO documents (id, content, title, created_at, updated_at) VALUES (?, ?, ?, ?, ?)');
  const chunk = db.transaction((from, to) => {
    const at = new Date().toISOString();
    for (let i = from; i < to; i++) insert.run(randomUUID(), JSON.stringify(content(i)), `Task ${i}`, at, at);
  });
  const t0 = now();
  for (let i = 0; i < n; i += BULK_CHUNK) chunk(i, Math.min(n, i + BULK_CHUNK));
  const rate = n / ((now() - t0) / 1000);
  db.close();
  return rate;
}

export async function engineCreates(engine, n) {
  const ids = new Array(n);
  const t0 = now();
  for (let i = 0; i < n; i++) {
    ids[i] = engine.createDocument(content(i));
    if (i % YIELD_EVERY === YIELD_EVERY - 1) await nextTick();
  }
  return { ids, rate: n / ((now() - t0) / 1000) };
}

export async function engineUpdates(engine, ids, n) {
  const t0 = now();
  for (let j = 0; j < n; j++) {
    const i = j % ids.length;
    engine.updateDocument(ids[i], updated(i, j));
    if (j % YIELD_EVERY === YIELD_EVERY - 1) await nextTick();
  }
  return n / ((now() - t0) / 1000);
}

/** Creates many documents offline with createDocuments, `perCall` per call. */
export async function bulkCreate(engine, n, perCall = BULK_CHUNK) {
  const ids = [];
  const t0 = now();
  for (let i = 0; i < n; i += perCall) {
    ids.push(...engine.createDocuments(Array.from({ length: Math.min(perCall, n - i) }, (_, k) => content(i + k))));
    await nextTick();
  }
  return { ids, rate: n / ((now() - t0) / 1000) };
}

export async function offlinePhase(durability, count) {
  const raw = rawLoop(durability, count);
  const engine = openEngine(`offline-${durability}`, { online: false, durability });
  const { ids, rate: creates } = await engineCreates(engine, count);
  const updates = await engineUpdates(engine, ids, count);
  if (engine.pendingCount() !== 2 * count) throw new Error(`offline outbox holds ${engine.pendingCount()}, expected ${2 * count}`);
  await engine.close();
  return { raw, creates, updates };
}

export async function bulkPhase(count) {
  const raw = rawBulk(count);
  const rates = {};
  for (const perCall of [100, 1000]) {
    const engine = openEngine(`bulk-${perCall}`, { online: false });
    rates[perCall] = (await bulkCreate(engine, count, perCall)).rate;
    if (engine.countDocuments() !== count) throw new Error(`bulk insert left ${engine.countDocuments()} documents`);
    await engine.close();
  }
  return { raw, rate100: rates[100], rate1000: rates[1000] };
}
