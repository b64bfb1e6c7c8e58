// Encryption at rest, from C: sync_engine_get_document p50 on an encrypted database against a plain
// one, in the same run (rounds alternate the order; medians), and sync_engine_open's time with a key.
// Usage: node bench/native/encryption.mjs [--rounds 3] [--docs 2000] [--count 20000]
// Needs libsync_client and the benchmark built (node bench/native/run.mjs builds both; or
// cmake -S bench/native -B build/bench-native && cmake --build build/bench-native).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = Object.fromEntries(process.argv.slice(2).join(' ').split('--').filter(Boolean).map((s) => s.trim().split(/\s+/)));
const rounds = Number(args.rounds ?? 3);
const docs = String(args.docs ?? 2000);
const count = String(args.count ?? 20000);
const exe = join(root, 'build', 'bench-native', 'sync_bench');
if (!existsSync(exe)) throw new Error(`${exe} is missing: build it first (node bench/native/run.mjs, or cmake -S bench/native -B build/bench-native && cmake --build build/bench-native)`);
const dir = mkdtempSync(join(tmpdir(), 'json-sync-native-crypto-'));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function run(name, key) {
  const argv = ['reads', '--db', join(dir, `${name}.db`), '--docs', docs, '--count', count, ...(key ? ['--encryption-key', key] : [])];
  return JSON.parse(execFileSync(exe, argv, { encoding: 'utf8' }).trim().split('\n').pop());
}

try {
  const plain = [];
  const sealed = [];
  for (let r = 0; r < rounds; r++) {
    const key = randomBytes(32).toString('hex');
    const pair = r % 2 === 0 ? [['plain', null], ['sealed', key]] : [['sealed', key], ['plain', null]];
    for (const [name, k] of pair) (k ? sealed : plain).push(run(`${name}-${r}`, k));
  }
  const p50 = (rs) => median(rs.map((x) => x.get.p50 * 1000));
  const p99 = (rs) => median(rs.map((x) => x.get.p99 * 1000));
  const open = (rs) => median(rs.map((x) => x.open_ms));
  console.log(`get_document from C, ${docs} documents, ${count} calls, ${rounds} rounds (medians)`);
  console.log(`  plain      p50 ${p50(plain).toFixed(1)} us   p99 ${p99(plain).toFixed(1)} us   open ${open(plain).toFixed(1)} ms`);
  console.log(`  encrypted  p50 ${p50(sealed).toFixed(1)} us   p99 ${p99(sealed).toFixed(1)} us   open ${open(sealed).toFixed(1)} ms`);
  console.log(`  encrypted/plain p50 ${(p50(sealed) / p50(plain)).toFixed(2)}x (target <= 1.2x)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
