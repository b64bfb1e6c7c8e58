// The TypeScript engine called directly (no bridge): the same creates and updates, counts and
// content as `sync_bench ops` offline, each call timed; prints one JSON line of the same shape.
// Run by bench/native/run.mjs under the system Node and under build/bench-native/node18 (libnode's
// Node 18, with --binding pointing at the embedded runtime's better-sqlite3 build).
// Usage: node ts-direct.mjs --dir D --count N [--warmup W] [--binding better_sqlite3.node]
import { join } from 'node:path';
import { SyncEngine } from '../../client-ts/dist/src/index.js';

const args = {};
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) if (argv[i].startsWith('--')) args[argv[i].slice(2)] = argv[i + 1];
const n = Number(args.count ?? 5000);
const w = Number(args.warmup ?? 500);
// Yield to the event loop as often as the C side drains its event queue (bench.c --drain-every).
const YIELD_EVERY = Number(args['yield-every'] ?? 100);

const DESCRIPTION = 'Write the quarterly report, collect the figures from every team and send it round before Friday.';
const content = (i) => ({ title: `Task ${i}`, description: DESCRIPTION, status: 'open', priority: i % 5, tags: ['work', 'report'], done: false });
const updated = (i, j) => ({ ...content(i), status: 'in-progress', counter: j });
const nextTick = () => new Promise((r) => setImmediate(r));
const now = () => performance.now();
/** CPU time of the whole process (every thread), ms; involuntary context switches. */
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const preempted = () => process.resourceUsage().involuntaryContextSwitches;

function stats(samples) {
  const s = Float64Array.from(samples).sort();
  const sum = s.reduce((a, b) => a + b, 0);
  return { n: s.length, p50: s[Math.floor(s.length / 2)], p99: s[Math.min(s.length - 1, Math.floor(s.length * 0.99))], max: s[s.length - 1], mean: sum / s.length };
}

let t = now();
const engine = SyncEngine.open({
  databasePath: join(args.dir, `ts-direct-${process.version}.db`),
  serverUrl: 'ws://127.0.0.1:9/ws',
  email: 'bench-native-ts@example.com',
  apiKey: 'rpa_none',
  apiSecret: 'rps_none',
  reconnect: { minMs: 50, maxMs: 500 },
  online: false,
  ...(args.binding ? { nativeBinding: args.binding } : {}),
});
const openMs = now() - t;

const ids = new Array(Math.max(n, w));
for (let i = 0; i < w; i++) ids[i] = engine.createDocument(content(i));
for (let j = 0; j < w; j++) engine.updateDocument(ids[j], updated(j, j));
await nextTick();

const cs = new Float64Array(n);
const us = new Float64Array(n);
let cpu0 = cpu();
let pre0 = preempted();
let t0 = now();
for (let i = 0; i < n; i++) {
  const c = content(i);
  t = now();
  ids[i] = engine.createDocument(c);
  cs[i] = now() - t;
  if (i % YIELD_EVERY === YIELD_EVERY - 1) await nextTick();
}
const createTotal = now() - t0;
const createCpu = cpu() - cpu0;
const createPre = preempted() - pre0;
cpu0 = cpu();
pre0 = preempted();
t0 = now();
for (let j = 0; j < n; j++) {
  const c = updated(j, j + 1);
  t = now();
  engine.updateDocument(ids[j], c);
  us[j] = now() - t;
  if (j % YIELD_EVERY === YIELD_EVERY - 1) await nextTick();
}
const updateTotal = now() - t0;
const updateCpu = cpu() - cpu0;
const updatePre = preempted() - pre0;
if (engine.countDocuments() !== n + w) throw new Error(`${engine.countDocuments()} documents, expected ${n + w}`);
if (engine.pendingCount() !== 2 * (n + w)) throw new Error(`outbox holds ${engine.pendingCount()}, expected ${2 * (n + w)}`);
console.log(
  JSON.stringify({
    mode: 'ts-direct',
    node: process.version,
    count: n,
    open_ms: openMs,
    create_ops: n / (createTotal / 1000),
    update_ops: n / (updateTotal / 1000),
    create: stats(cs),
    update: stats(us),
    create_cpu_us: (createCpu * 1000) / n,
    update_cpu_us: (updateCpu * 1000) / n,
    create_preempted: createPre,
    update_preempted: updatePre,
  }),
);
await engine.close(0);
