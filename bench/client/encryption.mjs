// Encryption at rest, TypeScript engine: every figure encrypted (a 32-byte key) against plain in
// the same run, rounds alternating the order, medians. Local creates and updates (offline,
// durability normal); catch-up of remote changes from a real server; cold start (open + first
// read of a 10,000-document file) with a key, with a passphrase (its KDF shown apart), without;
// rekey of a ~100 MB database. Printed, never asserted.
// Usage: npm run build && node bench/client/encryption.mjs [--count 20000] [--catchup 10000] [--rounds 3] [--rekey-mb 100]
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { SyncEngine } from '../../client-ts/dist/src/index.js';
import { databaseHost, startBenchServer } from '../bench-server.mjs';
import { closeAll, dir, now, openEngine } from './engines.mjs';
import { bulkCreate, engineCreates, engineUpdates } from './local.mjs';
import { catchUpPhase } from './sync.mjs';

const args = Object.fromEntries(process.argv.slice(2).join(' ').split('--').filter(Boolean).map((s) => s.trim().split(/\s+/)));
const count = Number(args.count ?? 20000);
const catchUp = Number(args.catchup ?? 10000);
const rounds = Number(args.rounds ?? 3);
const rekeyMb = Number(args['rekey-mb'] ?? 100);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const x = (a, b) => `${(a / b).toFixed(2)}x`;
const f = (n) => n.toFixed(0).padStart(7);
const PASSPHRASE = 'correct horse battery staple';

/** Runs `measure(variant, round)` for plain and encrypted, alternating which goes first; medians per variant. */
async function paired(measure) {
  const out = { plain: [], encrypted: [] };
  for (let r = 0; r < rounds; r++) {
    for (const v of r % 2 === 0 ? ['plain', 'encrypted'] : ['encrypted', 'plain']) out[v].push(await measure(v, r));
  }
  return out;
}
const keyOf = (variant) => (variant === 'encrypted' ? { encryptionKey: randomBytes(32) } : {});

let srv;
try {
  console.log(`encryption at rest, TypeScript engine: node ${process.version}, PostgreSQL ${databaseHost}; ${rounds} rounds, medians`);
  const local = await paired(async (v, r) => {
    const e = openEngine(`local-${v}-${r}`, { online: false, ...keyOf(v) });
    const { ids, rate: creates } = await engineCreates(e, count);
    const updates = await engineUpdates(e, ids, count);
    await e.close();
    return { creates, updates };
  });
  const med = (v, k) => median(local[v].map((m) => m[k]));
  console.log(`local writes/s, offline, durability normal, ${count} each`);
  for (const k of ['creates', 'updates']) {
    console.log(`  ${k.padEnd(8)} plain ${f(med('plain', k))}   encrypted ${f(med('encrypted', k))}   encrypted/plain ${x(med('encrypted', k), med('plain', k))} (target >= 0.85x)`);
  }

  // Cold start: a closed 10,000-document file opened and read once, in each form.
  const cold = {};
  for (const [name, key] of [['plain', undefined], ['key', randomBytes(32)], ['passphrase', PASSPHRASE]]) {
    const path = join(dir, `cold-${name}.db`);
    const seed = SyncEngine.open({ databasePath: path, serverUrl: 'ws://127.0.0.1:9/ws', email: 'c@example.com', apiKey: 'rpa_x', apiSecret: 'rps_x', online: false, encryptionKey: key });
    const { ids } = await bulkCreate(seed, 10000);
    await seed.close();
    const times = [];
    for (let i = 0; i < 7; i++) {
      const t0 = now();
      const e = SyncEngine.open({ databasePath: path, serverUrl: 'ws://127.0.0.1:9/ws', email: 'c@example.com', apiKey: 'rpa_x', apiSecret: 'rps_x', online: false, encryptionKey: key });
      if (!e.getDocument(ids[4321])) throw new Error('cold start: the document is missing');
      times.push(now() - t0);
      await e.close();
    }
    cold[name] = median(times);
  }
  console.log('cold start: open a closed 10,000-document file + its first getDocument (median of 7)');
  console.log(`  plain ${cold.plain.toFixed(1)} ms   32-byte key ${cold.key.toFixed(1)} ms (+${(cold.key - cold.plain).toFixed(1)} ms, target < +30 ms)   passphrase ${cold.passphrase.toFixed(1)} ms (its PBKDF2: +${(cold.passphrase - cold.key).toFixed(1)} ms)`);

  srv = await startBenchServer('crypto_bench');
  const caught = await paired((v, r) => catchUpPhase(srv, catchUp, keyOf(v), `-${v}-${r}`));
  console.log(`catch-up of ${catchUp} remote changes, changes/s`);
  console.log(`  plain ${f(median(caught.plain))}   encrypted ${f(median(caught.encrypted))}   encrypted/plain ${x(median(caught.encrypted), median(caught.plain))} (target >= 0.85x)`);

  // Rekey: documents of ~2 KB until the file holds about rekeyMb.
  const big = openEngine('rekey', { online: false, encryptionKey: randomBytes(32) });
  const pad = 'y'.repeat(2000);
  const per = 1000;
  const path = join(dir, 'rekey.db');
  while (statSync(path).size + statSync(`${path}-wal`, { throwIfNoEntry: false })?.size < rekeyMb * 1024 * 1024) {
    big.createDocuments(Array.from({ length: per }, (_, i) => ({ title: `big ${i}`, pad })));
    await new Promise((r) => setImmediate(r));
  }
  big.rekey(randomBytes(32)); // the first rekey checkpoints the WAL; the timed one rewrites the file alone
  const mb = statSync(path).size / 1024 / 1024;
  const t0 = now();
  big.rekey(randomBytes(32));
  const seconds = (now() - t0) / 1000;
  console.log(`rekey of a ${mb.toFixed(0)} MB database: ${seconds.toFixed(2)} s (${(mb / seconds).toFixed(0)} MB/s)`);
  await big.close();
} finally {
  await closeAll();
  await srv?.stop();
}
