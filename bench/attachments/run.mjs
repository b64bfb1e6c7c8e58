// Attachment benchmark. Every figure beside a baseline from the same run:
//  - one large attachment up and down between two engines of one user through a real server,
//    against the same bytes moved as raw 256 KiB binary frames through the same stack
//    (uWebSockets.js in Node, raw-server.mjs) by the same WebSocket client library;
//  - many small attachments each way (per second);
//  - the server's resident memory while several engines each move a large attachment both ways,
//    against the same server idle.
// Printed, never asserted.
// Usage: npm run build && node bench/attachments/run.mjs [--mb 200] [--small 1000] [--small-kb 64] [--clients 8] [--client-mb 200]
//   [--store postgres|<directory>]
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { EventType } from '../../client-ts/dist/src/index.js';
import { databaseHost, startBenchServer } from '../bench-server.mjs';
import { closeAll, now, openEngine } from '../client/engines.mjs';
import { rawTransfer, startRawServer } from './raw-transfer.mjs';

const args = Object.fromEntries(process.argv.slice(2).join(' ').split('--').filter(Boolean).map((s) => s.trim().split(/\s+/)));
const arg = (name, fallback) => Number(args[name] ?? fallback);
const MB = 1024 * 1024;
const bigMb = arg('mb', 200);
const small = arg('small', 1000);
const smallKb = arg('small-kb', 64);
const clients = arg('clients', 8);
const clientMb = arg('client-mb', 200);
const store = args.store;

const connect = (srv, email) => ({ serverUrl: srv.url, apiKey: srv.apiKey, apiSecret: srv.secret, email });
const rate = (n, ms) => n / (ms / 1000);
const f1 = (n) => n.toFixed(1).padStart(7);
const f0 = (n) => n.toFixed(0).padStart(7);
const x = (a, b) => `${(a / b).toFixed(2)}x`;
const verdict = (ok) => (ok ? 'met' : 'MISSED');
const rssMb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

/** Resolves when every id in `ids` completed in the direction asked. */
function allCompleted(engine, ids, upload) {
  const left = new Set(ids);
  return new Promise((resolve, reject) => {
    const off = engine.onEvent((e) => {
      if (e.booleanData !== upload || !e.content) return;
      if (e.type === EventType.AttachmentFailed) return reject(new Error(`${e.content.$attachment}: ${e.error}`));
      left.delete(e.content.$attachment);
      if (left.size === 0) {
        off();
        resolve();
      }
    }, [EventType.AttachmentCompleted, EventType.AttachmentFailed]);
  });
}

let srv;
let raw;
try {
  console.log(`attachment benchmark: node ${process.version}, ${cpus().length} CPUs, PostgreSQL ${databaseHost}, store ${store ?? 'postgres'}`);
  srv = await startBenchServer('attachments_bench', store ? { args: ['--attachment-store', store] } : {});
  raw = await startRawServer();

  // One large attachment.
  const big = randomBytes(bigMb * MB);
  const a = openEngine('big-a', connect(srv, 'bench-att@example.com'));
  const b = openEngine('big-b', connect(srv, 'bench-att@example.com'));
  await Promise.all([a.whenSynced(30_000), b.whenSynced(30_000)]);
  let t0 = now();
  const ref = a.addAttachment(big);
  const addMs = now() - t0;
  t0 = now();
  await allCompleted(a, [ref.$attachment], true);
  const upMs = now() - t0;
  t0 = now();
  const got = await b.getAttachment(ref);
  const downMs = now() - t0;
  if (createHash('sha256').update(got).digest('hex') !== ref.$attachment.slice(7)) throw new Error('downloaded bytes differ');
  const base = await rawTransfer(raw.url, big.length);
  const up = rate(bigMb, upMs);
  const down = rate(bigMb, downMs);
  console.log('');
  console.log(`one ${bigMb} MB attachment, loopback, MB/s (raw = the same bytes as 256 KiB binary frames through uWebSockets.js with nothing else)`);
  console.log(`  add to the local store (hash + SQLite)  ${f1(rate(bigMb, addMs))}`);
  console.log(`  upload (add to server's confirmation)   ${f1(up)}   raw ${f1(base.up)}   ${x(up, base.up)}   (target >= 0.5x: ${verdict(up >= 0.5 * base.up)})`);
  console.log(`  download (request to verified, stored)  ${f1(down)}   raw ${f1(base.down)}   ${x(down, base.down)}   (target >= 0.5x: ${verdict(down >= 0.5 * base.down)})`);

  // Many small attachments.
  const c = openEngine('small-a', connect(srv, 'bench-small@example.com'));
  const d = openEngine('small-b', connect(srv, 'bench-small@example.com'));
  await Promise.all([c.whenSynced(30_000), d.whenSynced(30_000)]);
  const blobs = Array.from({ length: small }, () => randomBytes(smallKb * 1024));
  t0 = now();
  const refs = blobs.map((blob) => c.addAttachment(blob));
  const smallAdd = rate(small, now() - t0);
  await allCompleted(c, refs.map((r) => r.$attachment), true);
  const smallUp = rate(small, now() - t0);
  t0 = now();
  await Promise.all(refs.map((r) => d.fetchAttachment(r)));
  const smallDown = rate(small, now() - t0);
  const smallBase = await rawTransfer(raw.url, small * smallKb * 1024);
  console.log('');
  console.log(`${small} attachments of ${smallKb} KiB, per second (raw: the same bytes in one stream, as attachments/s)`);
  console.log(`  added locally ${f0(smallAdd)}`);
  console.log(`  uploaded      ${f0(smallUp)}   raw ${f0((smallBase.up * 1e6) / (smallKb * 1024))}   (target >= 500: ${verdict(smallUp >= 500)})`);
  console.log(`  downloaded    ${f0(smallDown)}   raw ${f0((smallBase.down * 1e6) / (smallKb * 1024))}   (target >= 500: ${verdict(smallDown >= 500)})`);

  // Server memory while several engines move large attachments both ways.
  const idle = rssMb(srv.pid);
  let peak = idle;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMb(srv.pid))), 50);
  const movers = Array.from({ length: clients }, (_, i) => ({
    up: openEngine(`mem-up-${i}`, connect(srv, `bench-mem-${i}@example.com`)),
    down: openEngine(`mem-down-${i}`, connect(srv, `bench-mem-${i}@example.com`)),
    bytes: randomBytes(clientMb * MB),
  }));
  await Promise.all(movers.flatMap((m) => [m.up.whenSynced(30_000), m.down.whenSynced(30_000)]));
  t0 = now();
  await Promise.all(
    movers.map(async (m) => {
      const r = m.up.addAttachment(m.bytes);
      await allCompleted(m.up, [r.$attachment], true);
      const back = await m.down.getAttachment(r);
      if (back.length !== m.bytes.length) throw new Error('short download');
    }),
  );
  clearInterval(sampler);
  const moved = (2 * clients * clientMb) / ((now() - t0) / 1000);
  console.log('');
  console.log(`server RSS, ${clients} clients each moving ${clientMb} MB up and down (${f0(moved)} MB/s through the server in all)`);
  console.log(`  peak ${f0(peak)} MB   idle ${f0(idle)} MB   (target < 300 MB: ${verdict(peak < 300)})`);
} finally {
  await closeAll();
  raw?.stop();
  await srv?.stop();
}
