// Where an engine's thread stalls while a stream of server changes comes in and the application
// writes every 2 ms (bench/native phase 4's load, on the TypeScript engine): the longest calls, and
// what ran that long — WAL checkpoints, transactions, GC pauses (PerformanceObserver). Two rounds
// in one run: the engine's own checkpoints (the default), and checkpoints handed by
// `engine.checkpointWith` to a worker thread with a connection of its own (what the C SDK does on
// a thread of its own). Printed, never asserted.
// Usage: npm run build && node bench/client/stalls.mjs [--ms 10000] [--rate 2000]
// BENCH_DATABASE_URL (default TEST_DATABASE_URL or local postgres): a fresh database is made and dropped.
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { PerformanceObserver } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { LocalStore } from '../../client-ts/dist/src/storage/local-store.js';
import { startBenchServer } from '../bench-server.mjs';
import { startStream } from '../native/stream.mjs';
import { join } from 'node:path';
import { closeAll, content, dir, now, openEngine, percentiles } from './engines.mjs';

const args = Object.fromEntries(process.argv.slice(2).join(' ').split('--').filter(Boolean).map((s) => s.trim().split(/\s+/)));
const windowMs = Number(args.ms ?? 10000);
const rate = Number(args.rate ?? 2000);
const SLOW_MS = 8;

// What ran longer than SLOW_MS, by kind: the store's checkpoints and outermost transactions (timed by
// wrapping the methods) and V8's GC pauses.
let slow = [];
const timed = (name, original, outermostOnly) =>
  function (...a) {
    if (outermostOnly && this.inTransaction) return original.apply(this, a);
    const t0 = now();
    try {
      return original.apply(this, a);
    } finally {
      const ms = now() - t0;
      if (ms > SLOW_MS) slow.push([name, ms]);
    }
  };
LocalStore.prototype.checkpoint = timed('checkpoint (run here, or handed over)', LocalStore.prototype.checkpoint, false);
LocalStore.prototype.transaction = timed('transaction (with any checkpoint after its commit)', LocalStore.prototype.transaction, true);
const GC_KINDS = { 1: 'scavenge', 2: 'minor mark-sweep', 4: 'mark-compact', 8: 'incremental marking', 16: 'weak callbacks' };
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if (e.duration > SLOW_MS) slow.push([`GC ${GC_KINDS[e.detail?.kind] ?? e.detail?.kind}`, e.duration]);
}).observe({ entryTypes: ['gc'] });

/** A worker thread that runs PASSIVE checkpoints of one file on a connection of its own. */
function checkpointWorker(path) {
  const sqlite = createRequire(import.meta.url).resolve('better-sqlite3-multiple-ciphers');
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const db = new (require(workerData.sqlite))(workerData.path);
     parentPort.on('message', () => db.pragma('wal_checkpoint(PASSIVE)'));`,
    { eval: true, workerData: { path, sqlite } },
  );
  return { run: () => worker.postMessage(0), stop: () => worker.terminate() };
}

async function round(srv, name, elsewhere) {
  const email = `stalls-${name}@example.com`;
  const engine = openEngine(`stalls-${name}`, { serverUrl: srv.url, email, apiKey: srv.apiKey, apiSecret: srv.secret });
  await engine.whenSynced(30_000);
  const worker = elsewhere ? checkpointWorker(join(dir, `stalls-${name}.db`)) : null;
  if (worker) engine.checkpointWith(worker.run);
  const stream = await startStream(srv, email, { rate });
  slow = [];
  const calls = [];
  let i = 0;
  const ids = [];
  const timer = setInterval(() => {
    const t0 = now();
    if (i % 2 === 0 || ids.length === 0) ids.push(engine.createDocument(content(i)));
    else engine.updateDocument(ids[i % ids.length], { ...content(i), counter: i });
    i++;
    calls.push(now() - t0);
  }, 2);
  await new Promise((r) => setTimeout(r, windowMs));
  clearInterval(timer);
  const sent = await stream.stop();
  await worker?.stop();
  const p = percentiles(calls);
  console.log(`${elsewhere ? 'checkpoints on a worker thread' : 'checkpoints on the engine thread'}: ${calls.length} writes, ms p50 ${p.p50.toFixed(2)} p99 ${p.p99.toFixed(2)} max ${p.max.toFixed(1)}; stream ${sent.sent} changes at ${sent.rate.toFixed(0)}/s; load ${loadavg()[0].toFixed(1)}`);
  const by = new Map();
  for (const [what, ms] of slow) by.set(what, [...(by.get(what) ?? []), ms]);
  for (const [what, list] of [...by].sort((a, b) => Math.max(...b[1]) - Math.max(...a[1]))) {
    console.log(`  ${what}: ${list.length} over ${SLOW_MS} ms, longest ${Math.max(...list).toFixed(1)} ms`);
  }
}

const srv = await startBenchServer('client_stalls');
try {
  console.log(`a ${rate} changes/s stream into the engine's user and a write every 2 ms, ${windowMs} ms per round`);
  await round(srv, 'inline', false);
  await round(srv, 'worker', true);
} finally {
  await closeAll();
  await srv.stop();
}
