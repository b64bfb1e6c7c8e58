// Client-engine benchmark. Every figure is printed beside a baseline measured in the same run:
// local writes against a raw better-sqlite3 loop with the same pragmas; uploads against a server
// that answers from memory (the engine's own share); end-to-end latency against two raw protocol
// clients. Printed, never asserted.
// Usage: npm run build && node bench/client/run.mjs [--count 20000] [--full-count 5000] [--online-count 10000]
//   [--bulk 50000] [--upload 10000] [--catchup 10000] [--reconnect-docs 100] [--reconnect-updates 5000] [--e2e 1000]
// BENCH_DATABASE_URL (default TEST_DATABASE_URL or local postgres): a fresh database is made and dropped.
import { cpus } from 'node:os';
import { databaseHost, startBenchServer } from '../bench-server.mjs';
import { closeAll, now } from './engines.mjs';
import { latency } from './latency.mjs';
import { bulkPhase, offlinePhase } from './local.mjs';
import { catchUpPhase, onlinePhase, reconnectPhase, uploadPhase } from './sync.mjs';

const args = Object.fromEntries(process.argv.slice(2).join(' ').split('--').filter(Boolean).map((s) => s.trim().split(/\s+/)));
const arg = (name, fallback) => Number(args[name] ?? fallback);
const count = arg('count', 20000);
const fullCount = arg('full-count', Math.min(count, 5000));
const onlineCount = arg('online-count', Math.min(count, 10000));
const bulk = arg('bulk', 50000);
const uploadCount = arg('upload', 10000);
const catchUpCount = arg('catchup', 10000);
const reconnectDocs = arg('reconnect-docs', 100);
const reconnectUpdates = arg('reconnect-updates', 5000);
const e2eCount = arg('e2e', 1000);

let srv;
let cleaned = false;
async function cleanup() {
  if (cleaned) return;
  cleaned = true;
  await closeAll();
  await srv?.stop();
}
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    cleanup().finally(() => process.exit(130));
  });
}

const f = (n) => n.toFixed(0).padStart(7);
const ms = (n) => n.toFixed(2).padStart(6);
const x = (a, b) => `${(a / b).toFixed(2)}x`;
const verdict = (ok) => (ok ? 'met' : 'MISSED');
const t00 = now();
try {
  console.log(`client engine benchmark: node ${process.version}, ${cpus().length} CPUs, PostgreSQL ${databaseHost}`);
  console.log('');
  console.log('local writes/s (engine calls yield to the event loop every 100; raw = better-sqlite3, one row per transaction, same journal and synchronous settings)');
  const normal = await offlinePhase('normal', count);
  console.log(`  offline, durability normal  creates ${f(normal.creates)}   raw ${f(normal.raw.creates)}   engine/raw ${x(normal.creates, normal.raw.creates)}   (target >= 0.5x)`);
  console.log(`                              updates ${f(normal.updates)}   raw ${f(normal.raw.updates)}   engine/raw ${x(normal.updates, normal.raw.updates)}   (target >= 0.5x)`);
  const full = await offlinePhase('full', fullCount);
  console.log(`  offline, durability full    creates ${f(full.creates)}   raw ${f(full.raw.creates)}   engine/raw ${x(full.creates, full.raw.creates)}`);
  console.log(`                              updates ${f(full.updates)}   raw ${f(full.raw.updates)}   engine/raw ${x(full.updates, full.raw.updates)}`);
  const b = await bulkPhase(bulk);
  console.log(`  bulk insert (createDocuments)  100 per call ${f(b.rate100)} documents/s   1000 per call ${f(b.rate1000)}/s   raw, 1000 rows per transaction ${f(b.raw)}/s   (target >= 60000/s at 100 per call)`);

  srv = await startBenchServer('client_bench');
  console.log('');
  console.log(`with a server (durability normal)`);
  const online = await onlinePhase(srv, onlineCount);
  console.log(`  creates ${f(online.creates)}/s while syncing   vs offline ${x(online.creates, normal.creates)}   (${onlineCount - online.createsUnanswered} answered during the loop; all synced: ${f(online.createsSynced)}/s)`);
  console.log(`  updates ${f(online.updates)}/s while syncing   vs offline ${x(online.updates, normal.updates)}   (${onlineCount - online.updatesUnanswered} answered during the loop; all synced: ${f(online.updatesSynced)}/s)`);
  const up = await uploadPhase(srv, uploadCount);
  console.log(`  upload of ${uploadCount} offline changes: ${f(up.real)} changes/s to the server; ${f(up.engineShare)}/s to a server answering from memory (the engine's share)   (target >= 10000/s)`);
  const catchUp = await catchUpPhase(srv, catchUpCount);
  console.log(`  catch-up of ${catchUpCount} remote changes: ${f(catchUp)} changes/s   (target >= 10000/s)`);
  const reconnect = await reconnectPhase(srv, reconnectDocs, reconnectUpdates);
  console.log(`  reconnect after ${reconnectUpdates} updates to ${reconnectDocs} documents: ${reconnect.toFixed(3)} s until synced   (target < 0.3 s)`);
  console.log('');
  console.log('end-to-end latency, ms: update sent on A → seen on B (same user, loopback, one at a time; engine and raw alternate in blocks of 50)');
  const { eng, raw } = await latency(srv, e2eCount);
  console.log(`  engine: updateDocument(A) → DocumentUpdated(B)   p50 ${ms(eng.p50)}   p99 ${ms(eng.p99)}   max ${ms(eng.max)}`);
  console.log(`  raw protocol: update_document → push on 2nd socket p50 ${ms(raw.p50)}   p99 ${ms(raw.p99)}   max ${ms(raw.max)}`);
  console.log(`  engine overhead                                   p50 ${ms(eng.p50 - raw.p50)}   p99 ${ms(eng.p99 - raw.p99)}   (target p50 < 0.5)`);
  console.log('');
  console.log(
    `targets: writes >= 0.5x raw: creates ${verdict(normal.creates >= 0.5 * normal.raw.creates)}, updates ${verdict(normal.updates >= 0.5 * normal.raw.updates)}; ` +
      `bulk >= 60000/s ${verdict(b.rate100 >= 60000)}; upload >= 10000/s ${verdict(up.real >= 10000)} (engine share ${verdict(up.engineShare >= 10000)}); ` +
      `catch-up >= 10000/s ${verdict(catchUp >= 10000)}; reconnect < 0.3 s ${verdict(reconnect < 0.3)}; e2e overhead p50 < 0.5 ms ${verdict(eng.p50 - raw.p50 < 0.5)}   (${((now() - t00) / 1000).toFixed(1)} s)`,
  );
} finally {
  await cleanup();
}
