import t from 'tap';
import pg from 'pg';
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { TEST_DATABASE_URL, CLI, startTestServer, TestClient, type ServerProcess } from '@json-sync/test-support';

const SERVER_JS = pathToFileURL(join(dirname(CLI), 'server.js')).href;

/** What `SyncServer.nativeTransport()` says in a fresh process with `env`. */
async function nativeTransportIn(env: NodeJS.ProcessEnv): Promise<string> {
  const code = `import(${JSON.stringify(SERVER_JS)}).then((m) => console.log('native=' + m.SyncServer.nativeTransport()))`;
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', code], { env });
  const m = /native=(true|false)/.exec(stdout);
  return m ? m[1]! : `unexpected output: ${stdout}`;
}

t.test('the native uWebSockets.js binary is in use', async (t) => {
  // Inherits this run's environment: run the suite with UWS_USE_FALLBACK=1 and this fails.
  t.equal(await nativeTransportIn(process.env), 'true', 'native binary loaded');
});

t.test('the check detects the pure-JS fallback', async (t) => {
  t.equal(await nativeTransportIn({ ...process.env, UWS_USE_FALLBACK: '1' }), 'false', 'fallback reported as not native');
});

type Samples = Map<string, number>;

async function scrape(server: ServerProcess): Promise<{ text: string; samples: Samples; contentType: string | null }> {
  const res = await fetch(`${server.httpUrl}/metrics`);
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  const text = await res.text();
  const samples: Samples = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    samples.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return { text, samples, contentType: res.headers.get('content-type') };
}

/** Scrapes until `ready` holds (gauges settle a moment after a socket closes). */
async function scrapeUntil(server: ServerProcess, ready: (s: Samples) => boolean, ms = 3000): Promise<Awaited<ReturnType<typeof scrape>>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const r = await scrape(server);
    if (ready(r.samples) || Date.now() > deadline) return r;
    await new Promise((res) => setTimeout(res, 50));
  }
}

t.test('HTTP endpoints', async (t) => {
  const ts = await startTestServer();
  const { server } = ts;
  t.teardown(() => ts.teardown());

  t.test('the running server did not fall back to the JavaScript transport', async (t) => {
    t.notMatch(server.stdout(), /fallback/i, 'no fallback notice on stdout');
    t.notMatch(server.stderr(), /fallback|native binary not loaded/i, 'no fallback warning in the log');
  });

  t.test('GET /health answers 200 {"status":"ok"}', async (t) => {
    const res = await fetch(`${server.httpUrl}/health`);
    t.equal(res.status, 200);
    t.match(res.headers.get('content-type'), /^application\/json/);
    t.same(await res.json(), { status: 'ok' });
  });

  t.test('unknown paths and methods answer 404', async (t) => {
    // GET / is the status page (status-page.test.ts).
    for (const [method, path] of [
      ['POST', '/'],
      ['GET', '/nope'],
      ['GET', '/status.json/x'],
      ['GET', '/health/extra'],
      ['GET', '/metrics/x'],
      ['POST', '/health'],
      ['POST', '/metrics'],
      ['DELETE', '/anything'],
    ] as const) {
      const res = await fetch(`${server.httpUrl}${path}`, { method });
      t.equal(res.status, 404, `${method} ${path}`);
      await res.arrayBuffer();
    }
  });

  t.test('GET /metrics exports every series in Prometheus text, counting what happened', async (t) => {
    const alice = { email: 'alice@example.com', apiKey: ts.apiKey, secret: ts.secret };
    const a = await TestClient.connect(server.url, alice);
    const b = await TestClient.connect(server.url, alice);
    t.teardown(() => {
      a.close();
      b.close();
    });
    const doc = await a.create({ x: 0, y: 0 });
    const u1 = await a.mutate({ type: 'update_document', patch: { document_id: doc.document_id, patch: [{ op: 'replace', path: '/x', value: 1 }] }, base_revision: 1 });
    t.match(u1, { type: 'document_updated_response', sync_revision: 2, merged: false });
    // b, still on revision 1: a disjoint path merges, the path a changed conflicts.
    const merged = await b.mutate({ type: 'update_document', patch: { document_id: doc.document_id, patch: [{ op: 'replace', path: '/y', value: 1 }] }, base_revision: 1 });
    t.match(merged, { type: 'document_updated_response', sync_revision: 3, merged: true });
    const lost = await b.mutate({ type: 'update_document', patch: { document_id: doc.document_id, patch: [{ op: 'replace', path: '/x', value: 2 }] }, base_revision: 1 });
    t.equal(lost.type, 'conflict_detected');
    const ack = await a.request({ type: 'ack_changes', up_to_sequence: 3 }, (m) => m.type === 'changes_acknowledged');
    t.same(ack, { type: 'changes_acknowledged', sequence: 3 });
    await a.ping();
    // A refused authentication, counted by reason.
    const bad = await TestClient.open(server.url);
    const refused = await bad.authenticate({ ...alice, secret: `rps_${'0'.repeat(64)}` });
    t.match(refused, { type: 'auth_error', reason: 'bad_signature' });
    await bad.closed;

    const { text, samples, contentType } = await scrapeUntil(server, (s) => s.get('sync_connections') === 2);
    t.match(contentType, /^text\/plain; version=0\.0\.4/, 'Prometheus text content type');
    for (const [name, type] of [
      ['sync_connections', 'gauge'],
      ['sync_users_online', 'gauge'],
      ['sync_messages_total', 'counter'],
      ['sync_changes_committed_total', 'counter'],
      ['sync_batch_size', 'histogram'],
      ['sync_conflicts_total', 'counter'],
      ['sync_merges_total', 'counter'],
      ['sync_auth_failures_total', 'counter'],
      ['sync_client_ack_lag', 'histogram'],
      ['sync_mutation_seconds', 'histogram'],
    ] as const) {
      t.match(text, new RegExp(`^# HELP ${name} \\S`, 'm'), `${name} has HELP`);
      t.match(text, new RegExp(`^# TYPE ${name} ${type}$`, 'm'), `${name} is a ${type}`);
    }
    const expected: [string, number][] = [
      ['sync_connections', 2],
      ['sync_users_online', 1],
      ['sync_messages_total{type="authenticate"}', 3],
      ['sync_messages_total{type="create_document"}', 1],
      ['sync_messages_total{type="update_document"}', 3],
      ['sync_messages_total{type="ack_changes"}', 1],
      ['sync_messages_total{type="ping"}', 1],
      ['sync_changes_committed_total', 3],
      ['sync_conflicts_total', 1],
      ['sync_merges_total', 1],
      ['sync_auth_failures_total{reason="bad_signature"}', 1],
      // Every mutation passed through a batch, the conflicted one included.
      ['sync_batch_size_sum', 4],
      ['sync_client_ack_lag_count', 1],
      ['sync_client_ack_lag_sum', 0],
      ['sync_mutation_seconds_count{type="create_document"}', 1],
      ['sync_mutation_seconds_count{type="update_document"}', 3],
    ];
    for (const [series, value] of expected) t.equal(samples.get(series), value, series);
    const batches = samples.get('sync_batch_size_count') ?? 0;
    t.ok(batches >= 1 && batches <= 4, `sync_batch_size_count within 1..4 (${batches})`);
    t.equal(samples.get('sync_batch_size_bucket{le="+Inf"}'), batches, 'batch size buckets add up');
    t.ok((samples.get('sync_mutation_seconds_sum{type="update_document"}') ?? 0) > 0, 'mutation latency observed');
    t.equal(samples.get('sync_mutation_seconds_bucket{le="+Inf",type="update_document"}'), 3, 'latency buckets add up');
  });
});

t.test('/health answers 503 while the database is gone, without crashing, and 200 once it is back', async (t) => {
  const ts = await startTestServer({ prefix: 'sync_test_health' });
  const { server } = ts;
  const { name } = ts.tdb;
  t.teardown(() => ts.teardown());
  const admin = async (sql: string) => {
    const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };

  const health = async (): Promise<number> => {
    const res = await fetch(`${server.httpUrl}/health`, { signal: AbortSignal.timeout(4000) });
    await res.arrayBuffer();
    return res.status;
  };
  const waitFor = async (status: number, ms: number): Promise<{ status: number; ms: number }> => {
    const t0 = Date.now();
    let last = 0;
    while (Date.now() - t0 < ms) {
      last = await health();
      if (last === status) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    return { status: last, ms: Date.now() - t0 };
  };

  t.equal(await health(), 200, 'healthy with its database');
  await admin(`DROP DATABASE ${name} WITH (FORCE)`);
  const down = await waitFor(503, 5000);
  t.equal(down.status, 503, `503 within a few seconds of losing the database (${down.ms} ms)`);
  const body = await (await fetch(`${server.httpUrl}/health`)).json();
  t.not((body as { status: string }).status, 'ok', 'body does not claim ok');
  t.equal(server.child.exitCode, null, 'process still running');

  await admin(`CREATE DATABASE ${name}`);
  const up = await waitFor(200, 10_000);
  t.equal(up.status, 200, `200 again once the database is back (${up.ms} ms)`);
  t.equal(server.child.exitCode, null, 'process still running');
  t.equal(server.child.signalCode, null, 'not killed by a signal');
});
