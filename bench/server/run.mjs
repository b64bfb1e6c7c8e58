// Server benchmark: committed updates/s and acknowledgement latency under 64 clients, against a
// plain one-row-per-transaction INSERT loop measured in the same run on the same PostgreSQL.
// Usage: npm run bench [-- --seconds 10 --clients 64]; BENCH_DATABASE_URL (default TEST_DATABASE_URL or local postgres).
// BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" shows where the server's time goes.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { databaseHost, startBenchServer } from '../bench-server.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const args = Object.fromEntries(process.argv.slice(2).join(' ').split('--').filter(Boolean).map((s) => s.trim().split(/\s+/)));
const seconds = Number(args.seconds ?? 10);
const clients = Number(args.clients ?? 64);

/** One durable single-row INSERT per transaction, `conns` connections in parallel, for `secs` seconds. */
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
  await Promise.all(clientsList.map((c) => c.end()));
  return count / elapsed;
}

const srv = await startBenchServer('server_bench', { nodeArgs: (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean) });
try {
  {
    const c = new pg.Client({ connectionString: srv.dbUrl });
    await c.connect();
    await c.query('CREATE TABLE plain_events (LIKE change_events INCLUDING ALL)');
    await c.end();
  }
  console.log(`server benchmark: ${clients} clients, ${seconds} s per phase, PostgreSQL ${databaseHost}`);
  const load = await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(here, 'load.mjs'), srv.url, srv.apiKey, srv.secret, String(clients), String(seconds)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`load generator exited ${code}`))));
  });
  // Where the time went, from the server's own metrics.
  const metrics = await (await fetch(`${srv.httpUrl}/metrics`)).text();
  const metric = (name) => Number(new RegExp(`^${name.replace(/[{}"]/g, '\\$&')} (\\S+)$`, 'm').exec(metrics)?.[1] ?? NaN);
  const batches = metric('sync_batch_size_count');
  await srv.stopServer();
  const plain1 = await plainInserts(srv.dbUrl, 1, seconds);
  const plain16 = await plainInserts(srv.dbUrl, 16, seconds);

  const f = (n) => n.toFixed(0).padStart(8);
  console.log(`sync server, committed updates/s      ${f(load.rate)}   (p50 ${load.p50.toFixed(2)} ms, p99 ${load.p99.toFixed(2)} ms, ${load.committed} updates, ${load.failures} not applied)`);
  console.log(`plain INSERT, 1 connection, rows/s    ${f(plain1)}`);
  console.log(`plain INSERT, 16 connections, rows/s  ${f(plain16)}`);
  console.log(`ratio server / plain-16               ${(load.rate / plain16).toFixed(2)}x   (target >= 2x; p99 target < 50 ms)`);
  console.log(
    `server batches: ${batches}, mean ${(metric('sync_batch_size_sum') / batches).toFixed(1)} mutations, ` +
      `mean commit ${((metric('sync_batch_seconds_sum') / batches) * 1000).toFixed(1)} ms; ` +
      `mean mutation turnaround ${((metric('sync_mutation_seconds_sum{type="update_document"}') / metric('sync_mutation_seconds_count{type="update_document"}')) * 1000).toFixed(1)} ms`,
  );
} finally {
  await srv.stop();
}
