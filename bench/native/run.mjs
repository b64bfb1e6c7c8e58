// Native SDK benchmark: libsync_client's C API against the TypeScript engine called directly.
//   1. sync_engine_create_document / sync_engine_update_document: ops/s, p50/p99 per call, offline
//      (start_offline) beside the same calls on the TS engine in the same run (under libnode's Node 18
//      with the same better-sqlite3 build, and under the system Node) → ratio C/TS = bridge overhead;
//      then online with a connected server, sync traffic running meanwhile.
//   2. cold start: process spawn (and sync_engine_create) → first sync_engine_create_document returned,
//      beside libnode's own start (node18 -e 0) in the same run.
//   3. RSS of a process holding one engine and 100 documents.
//   4. the C calls on engine A — reads (get_document, count_documents, is_connected) and writes
//      (create_document / update_document) — quiet, while a stream of changes flows into A's user, and
//      while it flows into the user of B, another engine of the same process; beside a round trip to
//      another thread of that process (the machine's floor for a call carried to the engine's thread).
//   5. queries from C (sync_engine_query on the calling thread) on --query-docs task-like documents:
//      indexed equality + sort + limit 50, an unindexed filter (a scan), full-text search top 20;
//      beside the same statement on raw SQLite (better-sqlite3, same file, same indexes) and a raw
//      json_extract scan; and a remote change's live query diff in the C callback beside the same
//      change's DocumentCreated (engines A and B of one user, B writing).
// Usage: node bench/native/run.mjs [--count 5000] [--warmup 500] [--rounds 3] [--online-count N]
//          [--cold-runs 5] [--traffic-ms 8000] [--quiet-ms 4000] [--interval-us 2000] [--stream-rate 2000]
//          [--db-dir DIR (default: the temp dir)] [--only 1,2,3,4,5 (phases; 2 and 3 run together)]
//          [--query-docs 100000] [--query-runs 500]
// Needs `npm run build` and libsync_client built (bash scripts/test-native.sh -N); builds what is missing.
// BENCH_DATABASE_URL (default TEST_DATABASE_URL or local postgres): a fresh database is made and dropped.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir, cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { databaseHost, startBenchServer } from '../bench-server.mjs';
import { startStream } from './stream.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const args = Object.fromEntries(process.argv.slice(2).join(' ').split('--').filter(Boolean).map((s) => s.trim().split(/\s+/)));
const count = Number(args.count ?? 5000);
const warmup = Number(args.warmup ?? 500);
const rounds = Number(args.rounds ?? 3);
const onlineCount = Number(args['online-count'] ?? count);
const coldRuns = Number(args['cold-runs'] ?? 5);
const trafficMs = Number(args['traffic-ms'] ?? 8000);
const quietMs = Number(args['quiet-ms'] ?? 4000);
const intervalUs = Number(args['interval-us'] ?? 2000);
const streamRate = Number(args['stream-rate'] ?? 2000);
const libBuild = process.env.SYNC_NATIVE_BUILD_DIR ? join(root, process.env.SYNC_NATIVE_BUILD_DIR) : join(root, 'build', 'native');
const benchBuild = join(root, 'build', 'bench-native');
const exe = join(benchBuild, 'sync_bench');
const node18 = join(benchBuild, 'node18');
const sqliteBinding = join(libBuild, 'lib', 'sync_client', 'better_sqlite3.node');
const tsDirect = join(here, 'ts-direct.mjs');
// Where the engines' SQLite files go (--db-dir): the disk's fsync speed shows in the tail latencies.
const dbRoot = args['db-dir'] ?? tmpdir();
const dir = mkdtempSync(join(dbRoot, 'json-sync-native-bench-'));
const now = () => performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- build ---------------------------------------------------------------------------------------

function newestMtime(path) {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let m = 0;
  for (const e of readdirSync(path)) if (e !== 'node_modules' && e !== 'dist') m = Math.max(m, newestMtime(join(path, e)));
  return m;
}

function build() {
  const run = (cmd, argv, opts = {}) => execFileSync(cmd, argv, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'], ...opts });
  if (['client-ts/dist/src/index.js', 'server/dist/cli.js', 'test-support/dist/index.js'].some((f) => !existsSync(join(root, f)))) {
    console.log('building the TypeScript packages (npm run build)');
    run('npm', ['run', 'build']);
  }
  const lib = join(libBuild, 'lib', 'libsync_client.so.1');
  const sources = Math.max(newestMtime(join(root, 'native/src')), newestMtime(join(root, 'native/js')), newestMtime(join(root, 'client-ts/src')), newestMtime(join(root, 'core/src')));
  const libTime = existsSync(lib) && existsSync(sqliteBinding) ? Math.min(statSync(lib).mtimeMs, statSync(join(libBuild, 'lib/sync_client/sync_engine.js')).mtimeMs) : 0;
  if (libTime === 0 || libTime < sources) {
    if (existsSync(join(libBuild, 'CMakeCache.txt'))) {
      console.log(`building libsync_client (cmake --build ${libBuild} --target sync_client)`);
      run('cmake', ['--build', libBuild, '--target', 'sync_client', '-j2']);
    } else {
      console.log('configuring and building libsync_client (bash scripts/test-native.sh -N)');
      run('bash', ['scripts/test-native.sh', '-N']);
    }
  }
  run('cmake', ['-S', here, '-B', benchBuild, `-DSYNC_CLIENT_BUILD_DIR=${libBuild}`]);
  run('cmake', ['--build', benchBuild, '-j2']);
}

// ---- processes -----------------------------------------------------------------------------------

/** Runs a command that prints one JSON line (its last line); rejects on a non-zero exit. */
function runJson(cmd, argv) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code !== 0) return reject(new Error(`${cmd} ${argv[0]} exited ${code ?? signal}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()));
      } catch (err) {
        reject(new Error(`${cmd}: no JSON result in ${JSON.stringify(out)}`));
      }
    });
  });
}

/** The phase-4 reader: READY once its engines are synced, then one JSON line per "WINDOW name ms" it is sent. */
function startReader(argv) {
  // BENCH_NATIVE_WRAP_READER="strace -f -T -e trace=fsync -o f --" runs the reader under a tracer.
  const wrap = process.env.BENCH_NATIVE_WRAP_READER?.split(' ').filter(Boolean) ?? [];
  const child = spawn(wrap[0] ?? exe, [...wrap.slice(1), ...(wrap.length ? [exe] : []), 'reader', ...argv], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.add(child);
  const lines = createInterface({ input: child.stdout });
  const waiting = [];
  let failed = null;
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => {
    children.delete(child);
    failed = new Error(`sync_bench reader exited ${code ?? signal}`);
    for (const w of waiting.splice(0)) w.reject(failed);
    resolve(code);
  }));
  const next = () => new Promise((resolve, reject) => (failed ? reject(failed) : waiting.push({ resolve, reject })));
  lines.on('line', (l) => waiting.shift()?.resolve(l));
  const ready = next().then((l) => {
    if (l !== 'READY') throw new Error(`sync_bench reader: ${l}`);
  });
  return {
    ready,
    async window(name, ms) {
      child.stdin.write(`WINDOW ${name} ${ms}\n`);
      return JSON.parse(await next());
    },
    async end() {
      child.stdin.end();
      if ((await exited) !== 0) throw failed;
    },
  };
}

const children = new Set();
const serverArgs = (srv, email) => ['--server', srv.url, '--email', email, '--key', srv.apiKey, '--secret', srv.secret];
const subdir = (name) => {
  const d = join(dir, name);
  mkdirSync(d, { recursive: true });
  return d;
};

// ---- phases --------------------------------------------------------------------------------------

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
/** The median of each figure over rounds. */
function medianOf(results) {
  const pick = (f) => median(results.map(f));
  const st = (k) => ({ p50: pick((r) => r[k].p50), p99: pick((r) => r[k].p99), max: Math.max(...results.map((r) => r[k].max)) });
  return {
    create_ops: pick((r) => r.create_ops),
    update_ops: pick((r) => r.update_ops),
    create: st('create'),
    update: st('update'),
    create_cpu_us: pick((r) => r.create_cpu_us),
    update_cpu_us: pick((r) => r.update_cpu_us),
    preempted: pick((r) => r.create_preempted + r.update_preempted),
    rounds: results,
  };
}

const tsArgs = (d, embedded) => [tsDirect, '--dir', d, '--count', String(count), '--warmup', String(warmup), ...(embedded ? ['--binding', sqliteBinding] : [])];
/** The TS reference: on libnode's Node 18 when the launcher is there, else the system Node. */
const tsCommand = (d) => (existsSync(node18) ? [node18, tsArgs(d, true)] : [process.execPath, tsArgs(d, false)]);

async function offlineRounds() {
  const runs = { c: [], ts18: [], ts20: [] };
  const kinds = {
    c: (d) => runJson(exe, ['ops', '--dir', d, '--count', String(count), '--warmup', String(warmup)]),
    ts18: (d) => runJson(node18, tsArgs(d, true)),
    ts20: (d) => runJson(process.execPath, tsArgs(d, false)),
  };
  if (!existsSync(node18)) delete kinds.ts18;
  for (let r = 0; r < rounds; r++) {
    // Alternate the order, so that no kind always runs first (or last) on a shared machine.
    const order = Object.keys(kinds);
    if (r % 2) order.reverse();
    for (const k of order) runs[k].push(await kinds[k](subdir(`offline-${r}-${k}`)));
  }
  return Object.fromEntries(Object.entries(runs).filter(([, v]) => v.length).map(([k, v]) => [k, medianOf(v)]));
}

async function coldStarts(srv) {
  const results = [];
  for (let i = 0; i < coldRuns; i++) {
    const db = join(subdir(`cold-${i}`), 'cold.db');
    const spawnedAt = performance.timeOrigin + now();
    const r = await runJson(exe, ['cold', '--db', db, ...serverArgs(srv, `bench-native-cold-${i}@example.com`)]);
    r.spawn_to_first_doc_ms = r.first_doc_real_ms - spawnedAt;
    results.push(r);
  }
  return results;
}

/** Phase 4: the reader's windows — quiet, a stream into A's user, a stream into B's user. */
async function phase4(srv) {
  const users = { A: 'bench-native-a@example.com', B: 'bench-native-b@example.com' };
  const reader = startReader(['--dir', subdir('reader'), '--interval-us', String(intervalUs), ...serverArgs(srv, users.A), '--email-b', users.B]);
  await reader.ready;
  const windows = [{ name: 'quiet', into: null, result: await reader.window('quiet', quietMs) }];
  for (const into of ['A', 'B']) {
    const stream = await startStream(srv, users[into], { rate: streamRate });
    await sleep(1000); // flowing before the window opens
    const result = await reader.window(`stream-into-${into}`, trafficMs);
    windows.push({ name: `stream into ${into}`, into, result, stream: await stream.stop() });
  }
  await reader.end();
  return windows;
}

/** libnode's own start in a fresh process, ms: the part of a cold start that is Node's, not the engine's. */
function bareNodeStartMs() {
  const t = now();
  execFileSync(node18, ['-e', '0']);
  return now() - t;
}

// ---- run -----------------------------------------------------------------------------------------

/** Once; every caller (the signal handler, the final `finally`) awaits the same run of it. */
let srv;
let cleaning;
const cleanup = () => (cleaning ??= doCleanup());
async function doCleanup() {
  for (const c of children) c.kill('SIGKILL');
  await srv?.stop();
  rmSync(dir, { recursive: true, force: true });
}
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => cleanup().finally(() => process.exit(130)));

const f0 = (n) => n.toFixed(0).padStart(7);
const ms = (n) => n.toFixed(3).padStart(7);
const ms1 = (n) => n.toFixed(1).padStart(6);
const mb = (n) => n.toFixed(1).padStart(5);
const verdict = (ok) => (ok ? 'met' : 'MISSED');
const W = 38;
const row = (label, ops, s, cpuUs) =>
  `  ${label.padEnd(W)} ${ops === null ? '      -' : f0(ops)}  ${ms(s.p50)}  ${ms(s.p99)}  ${ms1(s.max)}` + (cpuUs === undefined ? '' : `  ${cpuUs.toFixed(0).padStart(6)}`);
const t00 = now();
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');

const only = new Set(String(args.only ?? '1,2,3,4,5').split(','));
const checks = [];
const check = (name, ok) => checks.push([name, ok]);

build();
try {
  const libnodeVersion = existsSync(node18) ? execFileSync(node18, ['-p', 'process.version']).toString().trim() : 'n/a';
  console.log(`native SDK benchmark: ${count} creates + ${count} updates per run (+${warmup} each warm-up), ${rounds} offline rounds, ${onlineCount} online, ${coldRuns} cold starts, ${trafficMs} ms traffic window`);
  console.log(`system node ${process.version}, embedded libnode ${libnodeVersion}, ${cpus().length} CPUs, load average ${load()}, PostgreSQL ${databaseHost}, databases in ${dbRoot}`);
  console.log('');
  srv = await startBenchServer('native_bench');

  if (only.has('1')) {
    console.log(`1. create/update per call, offline (start_offline), median of ${rounds} rounds in alternating order`);
    console.log('   ms per call; ops/s over the whole loop (C drains its event queue / TS yields every 100 calls);');
    console.log('   CPU µs/op = CPU time of the whole process (all threads) over the loop / calls: does not depend on other load on the machine');
    console.log(`  ${''.padEnd(W)}   ops/s      p50      p99     max  CPU µs/op`);
    const off = await offlineRounds();
    const kinds = [['c', 'C API'], ['ts18', `TS direct, libnode ${libnodeVersion}`], ['ts20', `TS direct, node ${process.version}`]].filter(([k]) => off[k]);
    for (const op of ['create', 'update']) {
      for (const [k, label] of kinds) console.log(row(`${op} ${label}`, off[k][`${op}_ops`], off[k][op], off[k][`${op}_cpu_us`]) + (k === 'c' ? '   (target p99 < 2 ms)' : ''));
    }
    const ref = off.ts18 ?? off.ts20;
    const refName = off.ts18 ? 'TS on the same Node 18' : `TS on node ${process.version}`;
    const ratio = { create: off.c.create_ops / ref.create_ops, update: off.c.update_ops / ref.update_ops };
    console.log(`  C/TS throughput (vs ${refName}): create ${ratio.create.toFixed(2)}x, update ${ratio.update.toFixed(2)}x   (target >= 0.50x)` +
      (off.ts18 && off.ts20 ? `;  vs TS on node ${process.version}: create ${(off.c.create_ops / off.ts20.create_ops).toFixed(2)}x, update ${(off.c.update_ops / off.ts20.update_ops).toFixed(2)}x` : ''));
    console.log(`  C/TS by CPU time per op (TS µs / C µs): create ${(ref.create_cpu_us / off.c.create_cpu_us).toFixed(2)}x, update ${(ref.update_cpu_us / off.c.update_cpu_us).toFixed(2)}x;  involuntary context switches per run: C ${off.c.preempted.toFixed(0)}, TS ${ref.preempted.toFixed(0)}`);
    console.log(`  bridge overhead per call, p50 C - p50 TS: create ${((off.c.create.p50 - ref.create.p50) * 1000).toFixed(0)} µs, update ${((off.c.update.p50 - ref.update.p50) * 1000).toFixed(0)} µs`);
    console.log(`  per round (C create/update ops/s | ${off.ts18 ? 'TS18' : 'TS20'}): ` + off.c.rounds.map((r, i) => `${r.create_ops.toFixed(0)}/${r.update_ops.toFixed(0)} | ${ref.rounds[i].create_ops.toFixed(0)}/${ref.rounds[i].update_ops.toFixed(0)}`).join(',  '));
    check('C/TS create throughput >= 0.50x', ratio.create >= 0.5);
    check('C/TS update throughput >= 0.50x', ratio.update >= 0.5);
    check('p99 < 2 ms offline', off.c.create.p99 < 2 && off.c.update.p99 < 2);
    if (existsSync('/dev/shm') && dbRoot !== '/dev/shm') {
      // The same once more with the database on tmpfs: what the disk's fsync (WAL checkpoints) adds to the tail.
      const shm = mkdtempSync('/dev/shm/json-sync-native-bench-');
      try {
        const c = await runJson(exe, ['ops', '--dir', shm, '--count', String(count), '--warmup', String(warmup)]);
        const ts = await runJson(...tsCommand(shm));
        console.log(`  diagnostic, database on tmpfs (fsync free), one run each:`);
        for (const op of ['create', 'update']) {
          console.log(row(`${op} C API, tmpfs`, c[`${op}_ops`], c[op], c[`${op}_cpu_us`]));
          console.log(row(`${op} TS direct, tmpfs`, ts[`${op}_ops`], ts[op], ts[`${op}_cpu_us`]));
        }
      } finally {
        rmSync(shm, { recursive: true, force: true });
      }
    }

    const on = await runJson(exe, ['ops', '--online', '--dir', subdir('online'), '--count', String(onlineCount), '--warmup', String(warmup), ...serverArgs(srv, 'bench-native-ops@example.com')]);
    console.log(`  online (connected, sync running; load ${load()}):`);
    console.log(row('create C API, online', on.create_ops, on.create, on.create_cpu_us) + `   ${(on.create_ops / off.c.create_ops).toFixed(2)}x offline   (target p99 < 2 ms)`);
    console.log(row('update C API, online', on.update_ops, on.update, on.update_cpu_us) + `   ${(on.update_ops / off.c.update_ops).toFixed(2)}x offline`);
    console.log(`  (${2 * onlineCount - on.pending_after_updates} of ${2 * onlineCount} changes answered by the server during the loops; all synced ${(on.synced_ms / 1000).toFixed(1)} s after the last call)`);
    console.log('');
    check('p99 < 2 ms online', on.create.p99 < 2 && on.update.p99 < 2);
  }

  if (only.has('2') || only.has('3')) {
    const cold = await coldStarts(srv);
    const col = (k) => cold.map((r) => r[k]);
    // The baseline, alternating with nothing else: libnode starting on its own, the same number of times.
    const bare = existsSync(node18) ? Array.from({ length: coldRuns }, bareNodeStartMs) : null;
    console.log(`2. cold start, ${coldRuns} fresh processes (each a new database file, seed sync_engine_create with a live server), ms: median / max`);
    console.log(`  sync_engine_create → first create_document returned ${ms1(median(col('create_to_first_doc_ms')))} / ${ms1(Math.max(...col('create_to_first_doc_ms')))}   (target < 200 ms)`);
    console.log(`  process spawn → first create_document returned      ${ms1(median(col('spawn_to_first_doc_ms')))} / ${ms1(Math.max(...col('spawn_to_first_doc_ms')))}`);
    if (bare) console.log(`    baseline, same run: libnode's own start, spawn → exit of \`node18 -e 0\` ${ms1(median(bare))} / ${ms1(Math.max(...bare))}`);
    console.log(`    of which sync_engine_create ${ms1(median(col('create_ms')))} / ${ms1(Math.max(...col('create_ms')))};  first create_document ${ms1(median(col('first_doc_ms')))} / ${ms1(Math.max(...col('first_doc_ms')))}`);
    console.log(`    a second engine in the same process (runtime running): sync_engine_create ${ms1(median(col('second_create_ms')))}, first create_document ${ms1(median(col('second_first_doc_ms')))}`);
    console.log(`    spawn → main() (exec, loading libsync_client + libnode) ≈ ${ms1(median(cold.map((r) => r.spawn_to_first_doc_ms - r.create_to_first_doc_ms - r.main_to_create_ms)))}`);
    console.log('');
    console.log('3. RSS of a process holding one engine, MB: median / max over the cold-start processes');
    console.log(`  at main() ${mb(median(col('rss_main_mb')))};  engine + 100 documents ${mb(median(col('rss_docs_mb')))} / ${mb(Math.max(...col('rss_docs_mb')))}   (target < 60 MB)`);
    console.log(`  after syncing them (${cold.filter((r) => r.synced).length}/${coldRuns} synced) ${mb(median(col('rss_synced_mb')))} / ${mb(Math.max(...col('rss_synced_mb')))};  peak (VmHWM) ${mb(Math.max(...col('hwm_synced_mb')))}`);
    console.log('');
    check('cold start < 200 ms median', median(col('create_to_first_doc_ms')) < 200);
    check('RSS < 60 MB', Math.max(...col('rss_synced_mb'), ...col('rss_docs_mb')) < 60);
  }

  if (only.has('4')) {
    const windows = await phase4(srv);
    const us = (n) => (n * 1000).toFixed(0).padStart(7);
    const urow = (label, st, target) => `  ${label.padEnd(W)} ${String(st.n).padStart(7)}  ${us(st.p50)}  ${us(st.p99)}  ${us(st.max)}${target ? `   (${target})` : ''}`;
    console.log(`4. C calls on engine A every ${(intervalUs / 1000).toFixed(1)} ms (get_document, count_documents, is_connected; create_document and update_document by turns),`);
    console.log('   engines A and B of two users in one process; µs per call');
    console.log(`  ${''.padEnd(W)}   calls      p50      p99      max`);
    for (const { name, into, result: r, stream } of windows) {
      const rate = (n) => (n / (r.ms / 1000)).toFixed(0);
      console.log(`  ${name}` + (stream ? `: ${stream.sent} changes sent at ${stream.rate.toFixed(0)}/s (asked ${streamRate}/s); A applied ${rate(r.remote_a)}/s, B ${rate(r.remote_b)}/s` : '') + `; load ${load()}`);
      for (const [k, label] of [['get', 'get_document'], ['count', 'count_documents'], ['connected', 'is_connected']]) console.log(urow(label, r[k], 'p50 < 50, p99 < 1000'));
      for (const [k, label] of [['create', 'create_document'], ['update', 'update_document']]) console.log(urow(label, r[k], 'p99 < 2000'));
      console.log(urow('baseline: thread round trip', r.handoff));
      console.log(urow('process_events (A, B)', r.events));
      const reads = ['get', 'count', 'connected'].every((k) => r[k].p50 < 0.05 && r[k].p99 < 1);
      const writes = ['create', 'update'].every((k) => r[k].p99 < 2);
      check(`reads ${name}`, reads);
      check(`writes ${name}`, writes);
      if (into && (into === 'A' ? r.remote_a : r.remote_b) < 0.5 * streamRate * (r.ms / 1000)) console.log(`  (the stream reached ${into} at under half the asked rate: the figures above are for a lighter load)`);
    }
    console.log('');
  }

  if (only.has('5')) {
    const docs = Number(args['query-docs'] ?? 100000);
    const runs = Number(args['query-runs'] ?? 500);
    const r = await runJson(exe, ['queries', '--dir', subdir('queries'), '--docs', String(docs), '--runs', String(runs)]);
    // The baseline: the very statement the engine compiled, on raw SQLite over the same file and indexes.
    const { default: Database } = await import('better-sqlite3');
    const raw = new Database(r.db, { readonly: true });
    const timed = (sql, n) => {
      const statement = raw.prepare(sql).pluck();
      for (let i = 0; i < 5; i++) statement.get();
      const t = [];
      for (let i = 0; i < n; i++) {
        const t0 = now();
        statement.get();
        t.push(now() - t0);
      }
      t.sort((a, b) => a - b);
      return { p50: t[Math.floor(t.length / 2)], p99: t[Math.min(t.length - 1, Math.floor(t.length * 0.99))] };
    };
    console.log(`5. queries from C on ${docs} task-like documents (sync_engine_query on the calling thread), ms p50 / p99; load ${load()}`);
    const targets = { indexed: 'p50 < 0.3, p99 < 2, ≤ 1.5x raw', scan: '≤ 1.3x the raw json_extract scan', search: 'p50 < 5', search_count: 'the matches' };
    for (const [name, q] of Object.entries(r.queries)) {
      const same = timed(q.explain.sql, name === 'scan' ? Math.floor(runs / 10) + 1 : runs);
      console.log(`  ${name.padEnd(8)} C ${ms(q.c.p50)} / ${ms(q.c.p99)}   raw SQLite, the same statement ${ms(same.p50)} / ${ms(same.p99)} (${(q.c.p50 / same.p50).toFixed(2)}x)   index ${q.explain.index ?? '-'}, ${q.bytes} bytes   (${targets[name]})`);
      if (name === 'search_count') console.log(`  ${''.padEnd(8)} ${raw.prepare(q.explain.sql).pluck().get()}`);
      if (name === 'scan') {
        const bare = timed("SELECT count(*) FROM views WHERE deleted = 0 AND json_extract(content, '$.meta.bpm') >= 170", Math.floor(runs / 10) + 1);
        console.log(`  ${''.padEnd(8)} raw json_extract scan ${ms(bare.p50)} / ${ms(bare.p99)} (C ${(q.c.p50 / bare.p50).toFixed(2)}x)`);
        check('query scan ≤ 1.3x json_extract', q.c.p50 <= 1.3 * bare.p50);
      }
      if (name === 'indexed') check('indexed query p50 < 0.3 ms, p99 < 2 ms', q.c.p50 < 0.3 && q.c.p99 < 2);
      if (name === 'search') check('search p50 < 5 ms', q.c.p50 < 5);
    }
    raw.close();
    const live = await runJson(exe, ['live', '--dir', subdir('live'), '--count', '200', ...serverArgs(srv, 'bench-native-live@example.com')]);
    console.log(`  a remote change (B's create returned → A's callbacks), 200 probes, ms p50 / p99: DocumentCreated ${ms(live.end_to_end.p50)} / ${ms(live.end_to_end.p99)};`);
    console.log(`    the live query's diff relative to that event (negative: delivered first, in the same drain) ${ms(live.diff_after_event.p50)} / ${ms(live.diff_after_event.p99)}   (target: adds < 1 ms p50)`);
    check('a live diff adds < 1 ms p50', live.diff_after_event.p50 < 1);
    console.log('');
  }

  console.log(`targets: ${checks.map(([n, ok]) => `${n} ${verdict(ok)}`).join('; ')}   (${((now() - t00) / 1000).toFixed(1)} s)`);
} finally {
  await cleanup();
}
