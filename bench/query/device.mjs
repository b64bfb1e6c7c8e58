// Query benchmark on the device (the TypeScript engine). Every figure is printed beside a baseline
// from the same run: the same question asked of raw better-sqlite3 with the same index (or the same
// json_extract scan), and writes with no index or live query. Printed, never asserted.
// Usage: npm run build && node bench/query/device.mjs [--docs 100000] [--runs 200] [--writes 2000] [--watches 1000]
import Database from 'better-sqlite3-multiple-ciphers';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SyncEngine } from '../../client-ts/dist/src/index.js';

const args = Object.fromEntries(process.argv.slice(2).join(' ').split('--').filter(Boolean).map((s) => s.trim().split(/\s+/)));
const arg = (name, fallback) => Number(args[name] ?? fallback);
const DOCS = arg('docs', 100000);
const RUNS = arg('runs', 200);
const WRITES = arg('writes', 2000);
const WATCHES = arg('watches', 1000);

const dir = mkdtempSync(join(tmpdir(), 'json-sync-query-bench-'));
const now = () => performance.now();
// A vocabulary of 3,000 words (as text has): syllables combined, a few with diacritics.
const SYLLABLES = ['syn', 'pad', 'ba', 'dru', 'vo', 'mix', 'mas', 'te', 'pre', 'set', 're', 'verb', 'del', 'cho', 'rus', 'é', 'ta', 'war', 'ki', 'lo', 'mü', 'na', 'po', 'zi'];
const WORDS = Array.from({ length: 3000 }, (_, i) => SYLLABLES[i % 24] + SYLLABLES[Math.floor(i / 24) % 24] + (i >= 576 ? SYLLABLES[Math.floor(i / 576) % 24] : ''));

/** A task-like document: status, priority, tags, title, ~200 characters of description, nested numbers. */
function task(i) {
  const w = (k) => WORDS[(i * 7919 + k * 104729 + ((i * k) % 997)) % WORDS.length];
  return {
    title: `${w(0)} ${w(1)} ${i}`,
    status: ['open', 'done', 'waiting'][i % 3],
    priority: ['low', 'medium', 'high'][(i * 7) % 3],
    tags: [w(2), w(3)],
    description: Array.from({ length: 28 }, (_, k) => w(k + 4)).join(' ').slice(0, 200),
    meta: { bpm: 60 + (i % 120), bars: i % 64 },
    updated: 1_700_000_000 + i,
  };
}

function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

function timed(fn, runs = RUNS) {
  for (let i = 0; i < Math.min(20, runs); i++) fn(i);
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = now();
    fn(i);
    times.push(now() - t0);
  }
  return { p50: percentile(times, 50), p99: percentile(times, 99) };
}

const ms = (n) => `${n.toFixed(3)} ms`;
const x = (a, b) => `${(a / b).toFixed(2)}x`;

function open(name) {
  return SyncEngine.open({
    databasePath: join(dir, `${name}.db`),
    serverUrl: 'ws://127.0.0.1:9/ws',
    email: 'bench@example.com',
    apiKey: `rpa_${'0'.repeat(64)}`,
    apiSecret: `rps_${'0'.repeat(64)}`,
    online: false,
  });
}

try {
  console.log(`query benchmark (device): node ${process.version}, ${DOCS} documents, ${RUNS} runs per figure`);
  const engine = open('q');
  for (let i = 0; i < DOCS; i += 1000) engine.createDocuments(Array.from({ length: Math.min(1000, DOCS - i) }, (_, k) => task(i + k)));
  engine.createIndex({ name: 'status_updated', fields: ['status', 'updated'] });
  engine.createTextIndex({ name: 'text', fields: ['title', 'description', 'tags'] });

  // Raw SQLite: the same rows, the same index on the same expressions, the same question.
  const raw = new Database(join(dir, 'raw.db'));
  raw.pragma('journal_mode = WAL');
  raw.exec('CREATE TABLE docs (id TEXT PRIMARY KEY, content TEXT NOT NULL) WITHOUT ROWID');
  const insert = raw.prepare('INSERT INTO docs VALUES (?, ?)');
  raw.transaction(() => {
    for (const d of engine.listDocuments()) insert.run(d.id, JSON.stringify(d.content));
  })();
  raw.exec(`CREATE INDEX docs_status_updated ON docs (json_extract(content, '$.status'), json_extract(content, '$.updated'))`);

  const equality = { where: { status: 'open' }, sort: [{ updated: 'desc' }], limit: 50 };
  console.log(`\nindexed equality + sort + limit 50: ${engine.explain(equality).index ?? 'NO INDEX'}`);
  const mine = timed(() => engine.query(equality));
  const rawEq = raw.prepare(`SELECT id, content FROM docs WHERE json_extract(content, '$.status') = 'open' ORDER BY json_extract(content, '$.updated') DESC LIMIT 50`);
  const base = timed(() => rawEq.all().map((r) => ({ id: r.id, content: JSON.parse(r.content) })));
  console.log(`  engine.query p50 ${ms(mine.p50)} p99 ${ms(mine.p99)}   raw SQLite p50 ${ms(base.p50)} p99 ${ms(base.p99)}   engine/raw ${x(mine.p50, base.p50)}   (target from C: < 0.3 ms p50, < 2 ms p99, <= 1.5x raw)`);

  const scan = { where: { 'meta.bpm': { $gte: 170 }, priority: 'high' }, count: true };
  const mineScan = timed(() => engine.query(scan), Math.max(5, RUNS / 20));
  const rawScan = raw.prepare(`SELECT count(*) FROM docs WHERE json_extract(content, '$.meta.bpm') >= 170 AND json_extract(content, '$.priority') = 'high'`).pluck();
  const baseScan = timed(() => rawScan.get(), Math.max(5, RUNS / 20));
  console.log(`unindexed filter over ${DOCS}: engine p50 ${ms(mineScan.p50)}   raw json_extract scan p50 ${ms(baseScan.p50)}   engine/raw ${x(mineScan.p50, baseScan.p50)}   (target <= 1.3x)`);

  const search = { search: `${WORDS[600]} ${WORDS[1700].slice(0, 4)}*`, limit: 20 };
  console.log(`full-text search ${JSON.stringify(search.search)}: ${engine.query({ search: search.search, count: true }).count} matches`);
  const mineSearch = timed(() => engine.query(search));
  console.log(`full-text search, top 20: p50 ${ms(mineSearch.p50)} p99 ${ms(mineSearch.p99)}   (target p50 < 5 ms)`);

  // Writes: with no index, then with 3 value indexes and a text index; with 1,000 live queries open.
  const writeRate = (e) => {
    const ids = e.createDocuments(Array.from({ length: 200 }, (_, i) => task(DOCS + i)));
    const t0 = now();
    for (let i = 0; i < WRITES; i++) e.mergeDocument(ids[i % ids.length], { meta: { bpm: 60 + (i % 120), bars: i % 64 }, status: ['open', 'done'][i % 2] });
    return WRITES / ((now() - t0) / 1000);
  };
  const plain = open('plain');
  plain.createDocuments(Array.from({ length: 1000 }, (_, i) => task(i)));
  const noIndex = writeRate(plain);
  const indexed = open('indexed');
  indexed.createDocuments(Array.from({ length: 1000 }, (_, i) => task(i)));
  indexed.createIndex({ name: 'status', fields: ['status', 'updated'] });
  indexed.createIndex({ name: 'priority', fields: ['priority'] });
  indexed.createIndex({ name: 'bpm', fields: ['meta.bpm'] });
  indexed.createTextIndex({ name: 'text', fields: ['title', 'description', 'tags'] });
  const withIndexes = writeRate(indexed);
  console.log(`\nwrites/s with 3 indexes + 1 text index ${withIndexes.toFixed(0)}   with none ${noIndex.toFixed(0)}   ${x(withIndexes, noIndex)}   (target >= 0.6x)`);
  const watched = open('watched');
  watched.createDocuments(Array.from({ length: 1000 }, (_, i) => task(i)));
  let calls = 0;
  for (let i = 0; i < WATCHES; i++) watched.watch({ where: { 'meta.bars': i % 64, priority: ['low', 'medium', 'high'][i % 3] }, sort: [{ updated: 'desc' }], limit: 20 }, () => calls++);
  const withWatches = writeRate(watched);
  console.log(`writes/s with ${WATCHES} live queries open ${withWatches.toFixed(0)}   with none ${noIndex.toFixed(0)}   write cost ${x(noIndex, withWatches)} of none   (target <= 2x); ${calls} diffs delivered`);
  for (const e of [engine, plain, indexed, watched]) await e.close(0);
  raw.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
