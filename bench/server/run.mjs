// Server benchmark, every phase in one run, each figure beside its target and beside baselines
// measured in the same run on the same machine (absolute times drift here):
//   plain one-row INSERTs from 1 and 16 connections (the disk's anchor);
//   64 and 1,000 clients with one update in flight each (throughput, latency, server CPU and
//   PostgreSQL's CPU per update, database round trips per batch);
//   the same load against one and against two server processes on one database;
//   one change fanned out to 1,000 connections of one user, against bare uWS pub/sub;
//   an authentication storm of 10,000 connects, and the memory of those connections held idle.
// Usage: npm run bench [-- --seconds 10 --clients 64 --many 1000 --scale 256 --storm 10000 --fanout 1000
//                          --phases plain,load,scale,fanout,storm]
// BENCH_DATABASE_URL (default TEST_DATABASE_URL or local postgres; PostgreSQL's CPU is read from
// /proc, so only when it runs on this machine);
// BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" shows where the servers' time goes.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { databaseHost, startBenchServer } from '../bench-server.mjs';
import { databaseCpuProbe } from './db-cpu.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const args = Object.fromEntries(process.argv.slice(2).join(' ').split('--').filter(Boolean).map((s) => s.trim().split(/\s+/)));
const seconds = Number(args.seconds ?? 10);
const clients = Number(args.clients ?? 64);
const many = Number(args.many ?? 1000);
const scale = Number(args.scale ?? 256);
const stormSize = Number(args.storm ?? 10000);
const fanoutSize = Number(args.fanout ?? 1000);
const phases = new Set((args.phases ?? 'plain,load,scale,fanout,storm').split(','));
const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);

/**
 * One durable single-row INSERT per transaction, `conns` connections in parallel, for `secs`
 * seconds: rows/s and PostgreSQL's CPU per row.
 */
async function plainInserts(dbUrl, conns, secs) {
  const clientsList = await Promise.all(
    Array.from({ length: conns }, async () => {
      const c = new pg.Client({ connectionString: dbUrl });
      await c.connect();
      return c;
    }),
  );
  const patch = JSON.stringify([{ op: 'replace', path: '/counter', value: 12345 }]);
  const reverse = JSON.stringify([{ op: 'replace', path: '/counter', value: 12344 }]);
  const user = randomUUID();
  let count = 0;
  let seq = 0;
  const probe = await databaseCpuProbe(dbUrl);
  await probe.start();
  const deadline = Date.now() + secs * 1000;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    clientsList.map(async (c) => {
      while (Date.now() < deadline) {
        await c.query(
          `INSERT INTO plain_events (user_id, sequence, document_id, event_type, forward_patch, reverse_patch, sync_revision, content_hash, client_id, mutation_id)
           VALUES ($1, $2, $3, 'update', $4::jsonb, $5::jsonb, 2, $6, $7, $8)`,
          [user, ++seq, randomUUID(), patch, reverse, randomBytes(32).toString('hex'), randomUUID(), randomUUID()],
        );
        count++;
      }
    }),
  );
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  const db = await probe.stop();
  await Promise.all(clientsList.map((c) => c.end()));
  return { rate: count / elapsed, dbCpuUs: db ? (db.backends / count) * 1e6 : NaN, clusterCpuUs: db ? (db.cluster / count) * 1e6 : NaN };
}

/**
 * Runs a generator script; `onLine` gets each JSON line it prints and returns what to answer on
 * its stdin (or nothing). Resolves with the last line.
 */
function generator(script, argv, onLine = () => undefined) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(here, script), ...argv.map(String)], { stdio: ['pipe', 'pipe', 'inherit'] });
    let buffered = '';
    let last;
    child.stdout.on('data', (d) => {
      buffered += d;
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        last = JSON.parse(buffered.slice(0, nl));
        buffered = buffered.slice(nl + 1);
        void Promise.resolve(onLine(last)).then(() => child.stdin.write('go\n'));
      }
    });
    child.on('exit', (code) => (code === 0 ? resolve(last) : reject(new Error(`${script} exited ${code}`))));
  });
}

/** The servers' counters, summed over processes. */
async function scrape(servers) {
  const totals = {};
  for (const s of servers) {
    const text = await (await fetch(`${s.httpUrl}/metrics`)).text();
    for (const name of ['process_cpu_seconds_total', 'process_cpu_system_seconds_total', 'sync_changes_committed_total', 'sync_batch_size_count', 'sync_batch_size_sum', 'sync_batch_seconds_sum', 'sync_db_round_trips_total']) {
      totals[name] = (totals[name] ?? 0) + Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    }
  }
  return totals;
}

/** N clients × 1 update in flight against `servers` (spread round-robin): the generator's figures plus the servers' own. */
async function load(servers, n) {
  let before;
  let after;
  let db;
  const probe = await databaseCpuProbe(srv.dbUrl);
  const result = await generator('load.mjs', [servers.map((s) => s.url).join(','), srv.apiKey, srv.secret, n, seconds], async (line) => {
    if (line.phase === 'ready') {
      before = await scrape(servers);
      await probe.start();
    } else {
      db = await probe.stop();
      after = await scrape(servers);
    }
  });
  const d = (k) => after[k] - before[k];
  const batches = d('sync_batch_size_count');
  const committed = d('sync_changes_committed_total');
  return {
    ...result,
    cpuPerUpdateUs: (d('process_cpu_seconds_total') / committed) * 1e6,
    dbCpuPerUpdateUs: db ? (db.backends / committed) * 1e6 : NaN,
    clusterCpuPerUpdateUs: db ? (db.cluster / committed) * 1e6 : NaN,
    systemShare: d('process_cpu_system_seconds_total') / d('process_cpu_seconds_total'),
    batchMean: d('sync_batch_size_sum') / batches,
    batchMs: (d('sync_batch_seconds_sum') / batches) * 1000,
    tripsPerBatch: d('sync_db_round_trips_total') / batches,
  };
}

function rssKiB(pid) {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
}

/** The JavaScript heap in use, from the server's metrics. */
async function heapUsed(server) {
  const text = await (await fetch(`${server.httpUrl}/metrics`)).text();
  return Number(/^nodejs_heap_size_used_bytes (\S+)$/m.exec(text)?.[1] ?? NaN);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const f0 = (n) => Math.round(n).toLocaleString('en-US');
const verdict = (ok) => (ok ? 'met' : '**missed**');
/** The database's backends' CPU, and every PostgreSQL process's (WAL writer, autovacuum, other work on a shared cluster). */
const dbCpu = (backends, cluster) => (Number.isNaN(backends) ? 'n/a (database not on this machine)' : `${backends.toFixed(1)} µs (all PostgreSQL processes: ${cluster.toFixed(1)} µs)`);

const srv = await startBenchServer('server_bench', { nodeArgs });
const lines = [];
const report = (figure, value, target) => {
  lines.push([figure, value, target]);
  console.log(`${figure.padEnd(52)} ${value}${target ? `   [${target}]` : ''}`);
};
try {
  {
    const c = new pg.Client({ connectionString: srv.dbUrl });
    await c.connect();
    await c.query('CREATE TABLE plain_events (LIKE change_events INCLUDING ALL)');
    await c.end();
  }
  console.log(`server benchmark: ${seconds} s per load phase, PostgreSQL ${databaseHost}, ${nodeArgs.length ? `server node ${nodeArgs.join(' ')}` : ''}`);
  let plain16 = NaN;
  if (phases.has('plain')) {
    const plain1 = await plainInserts(srv.dbUrl, 1, seconds);
    const p16 = await plainInserts(srv.dbUrl, 16, seconds);
    plain16 = p16.rate;
    report('plain INSERT, 1 connection, rows/s', `${f0(plain1.rate)} (database CPU ${dbCpu(plain1.dbCpuUs, plain1.clusterCpuUs)} per row)`);
    report('plain INSERT, 16 connections, rows/s', `${f0(p16.rate)} (database CPU ${dbCpu(p16.dbCpuUs, p16.clusterCpuUs)} per row)`);
  }

  const one = [srv];
  for (const [n, ratio, p99] of phases.has('load') ? [[clients, 1, 25], [many, 2, 100]] : []) {
    const r = await load(one, n);
    const x = r.rate / plain16;
    report(
      `${n} clients × 1 in flight, committed updates/s`,
      `${f0(r.rate)} (${x.toFixed(2)}× plain-16), p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, ${r.failures} not applied`,
      `≥ ${ratio}× plain-16: ${verdict(x >= ratio)}; p99 < ${p99} ms: ${verdict(r.p99 < p99)}`,
    );
    report(`  server CPU per committed update (${n} clients)`, `${r.cpuPerUpdateUs.toFixed(1)} µs (${(r.systemShare * 100).toFixed(0)}% of it in the kernel)`, `≤ 40 µs: ${verdict(r.cpuPerUpdateUs <= 40)}`);
    report(`  database CPU per committed update (${n} clients)`, dbCpu(r.dbCpuPerUpdateUs, r.clusterCpuPerUpdateUs), `≤ 80 µs: ${verdict(r.dbCpuPerUpdateUs <= 80)}`);
    report(`  batches (${n} clients)`, `mean ${r.batchMean.toFixed(1)} mutations, ${r.batchMs.toFixed(1)} ms, ${r.tripsPerBatch.toFixed(2)} database round trips per batch`, '≤ 2 round trips');
  }

  if (phases.has('scale')) {
    const second = await srv.startAnother();
    const alone = await load(one, scale);
    const both = await load([srv, second], scale);
    report(`${scale} clients, one server process, updates/s`, `${f0(alone.rate)}, p99 ${alone.p99.toFixed(1)} ms, ${alone.cpuPerUpdateUs.toFixed(1)} µs CPU/update`);
    report(`${scale} clients, two server processes, updates/s`, `${f0(both.rate)}, p99 ${both.p99.toFixed(1)} ms, ${both.cpuPerUpdateUs.toFixed(1)} µs CPU/update (both)`);
    await second.stop();
  }

  if (phases.has('fanout')) {
    const relay = spawn(process.execPath, [join(here, 'relay.mjs')], { stdio: ['ignore', 'pipe', 'inherit'] });
    const port = await new Promise((resolve) => relay.stdout.once('data', (d) => resolve(Number(String(d).trim()))));
    const raw = await generator('fanout.mjs', ['raw', `ws://127.0.0.1:${port}/`, '-', '-', fanoutSize, 200]);
    relay.kill();
    const fan = await generator('fanout.mjs', ['sync', srv.url, srv.apiKey, srv.secret, fanoutSize, 200]);
    report(`fan-out 1 → ${fanoutSize} connections of one user`, `p50 ${fan.p50.toFixed(1)} ms, p99 ${fan.p99.toFixed(1)} ms (bare uWS relay: p50 ${raw.p50.toFixed(1)}, p99 ${raw.p99.toFixed(1)})`, `p99 < 20 ms: ${verdict(fan.p99 < 20)}`);
  }

  if (phases.has('storm')) {
    // A fresh process, so its memory before the storm is a clean baseline.
    const fresh = await srv.startAnother();
    await sleep(1000);
    const rssBefore = rssKiB(fresh.pid);
    const heapBefore = await heapUsed(fresh);
    let rssHeld;
    let heapHeld;
    const first = await generator('storm.mjs', [fresh.url, srv.apiKey, srv.secret, stormSize, 1000, 'storm'], async () => {
      await sleep(5000);
      rssHeld = rssKiB(fresh.pid);
      heapHeld = await heapUsed(fresh);
    });
    await sleep(1000);
    const cpuBefore = (await scrape([fresh])).process_cpu_seconds_total;
    const again = await generator('storm.mjs', [fresh.url, srv.apiKey, srv.secret, stormSize, 1000, 'storm']);
    const cpuPerAuth = (((await scrape([fresh])).process_cpu_seconds_total - cpuBefore) / stormSize) * 1e6;
    await fresh.stop();
    report(`authentications/s, ${f0(stormSize)} new users at once`, `${f0(first.rate)} (${first.elapsed.toFixed(2)} s)`, `≥ 3,000/s: ${verdict(first.rate >= 3000)}`);
    report(
      `authentications/s, the same ${f0(stormSize)} reconnecting`,
      `${f0(again.rate)} (${again.elapsed.toFixed(2)} s; server CPU ${cpuPerAuth.toFixed(0)} µs per authentication)`,
      `≥ 3,000/s: ${verdict(again.rate >= 3000)}`,
    );
    const perConn = ((rssHeld - rssBefore) * 1024) / stormSize;
    report(`memory per idle authenticated connection (${f0(stormSize)})`, `${(perConn / 1024).toFixed(2)} KiB (server RSS ${f0(rssBefore / 1024)} → ${f0(rssHeld / 1024)} MiB; JavaScript heap in use ${((heapHeld - heapBefore) / stormSize / 1024).toFixed(2)} KiB per connection)`, `≤ 4 KiB: ${verdict(perConn <= 4096)}`);
  }
} finally {
  await srv.stop();
}
