/**
 * Rolling restart behind a load balancer: two `sync-server serve` processes on one database, behind
 * Debian's HAProxy running deploy/haproxy.cfg (HTTP mode, WebSocket upgrade, health checks on each
 * server's --health-port as HAProxy sends them by default). 50 TypeScript engines (25 users, two
 * engines each) write through HAProxy all along while each process in turn gets SIGTERM and is
 * started again, RESTARTS times each.
 *
 * Holds: every process exits 0 within 5 s of its SIGTERM; every engine that lost its connection was
 * trying again within RECONNECT_BOUND_MS (the server closes with 1012 and the engine reconnects at
 * once, through HAProxy to the other process; the engines' own backoff starts at 30 s, so a
 * reconnect that waited for it would show) and authenticated again within BACK_BOUND_MS; in the
 * end every engine's outbox is empty, every document holds exactly what its engine wrote, each
 * mutation is in the log once, sequences are dense, and both engines of each user hold what the
 * server holds.
 *
 * Short: 5 restarts of each process. Long (FAULTS_LONG=1): 10.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JsonObject } from '@json-sync/core';
import { createTestDatabase, startServer, type ServerProcess } from '@json-sync/test-support';
import { SyncEngine } from '../../client-ts/src/engine.js';
import { EventType } from '../../client-ts/src/events.js';
import { haproxyMissing, startHaproxy, type Backend, type LoadBalancer } from './haproxy.js';
import { checkDense, freePort, LONG, Rng, runSeed, sleep, tail, waitFor } from './support.js';

const RESTARTS = LONG ? 10 : 5;
const USERS = 25;
const ENGINES_PER_USER = 2;
/**
 * The longest an engine may wait before its next attempt after the server closed with 1012: the
 * attempt goes at once, so this is only the test process's own event-loop lag (50 engines and their
 * SQLite work share it, and other suites the cores). Their backoff (minMs below) would wait up to
 * 30 s, more than this nine times in ten.
 */
const RECONNECT_BOUND_MS = 3000;
/** The longest an engine may be without an authenticated connection: 50 reconnect and catch up at once on two shared cores. */
const BACK_BOUND_MS = 15_000;
/** How often each engine writes. */
const WRITE_EVERY_MS = 250;

interface Writer {
  engine: SyncEngine;
  email: string;
  /** What each of its documents must hold once everything is synced. */
  expected: Map<string, JsonObject>;
  /** One entry per lost connection that came back: ms until the next attempt, and until authenticated again. */
  outages: { waited: number; back: number; why: string }[];
  lostAt: number | null;
  /** Why the connection was lost (the ConnectionLost event's reason: "server restarting" for a 1012). */
  lostWhy: string;
  attemptAt: number | null;
}

const missing = haproxyMissing();
t.test('rolling restart of two servers behind HAProxy with 50 engines writing', { skip: missing ?? false }, async (t) => {
  const seed = runSeed();
  t.comment(`seed ${seed} (FAULTS_SEED=${seed} replays it)`);
  const rng = new Rng(seed);
  const tdb = await createTestDatabase('faults_rolling');
  const dir = mkdtempSync(join(tmpdir(), 'json-sync-rolling-'));
  const { apiKey, secret } = await tdb.credentials();
  const backends: Backend[] = [];
  for (let i = 0; i < 2; i++) backends.push({ port: await freePort(), healthPort: await freePort() });
  const start = (b: Backend) => startServer({ databaseUrl: tdb.url, port: b.port, args: ['--health-port', String(b.healthPort)] });
  const servers: ServerProcess[] = [];
  const writers: Writer[] = [];
  let lb: LoadBalancer | undefined;
  t.teardown(async () => {
    for (const w of writers) await w.engine.close(200).catch(() => {});
    await lb?.stop();
    for (const s of servers) await s.stop('SIGKILL');
    await tdb.drop();
    rmSync(dir, { recursive: true, force: true });
  });
  for (const b of backends) servers.push(await start(b));
  lb = await startHaproxy([backends[0]!, backends[1]!]);
  const balancer = lb;
  await waitFor('HAProxy to see both servers up', async () => Object.values(await balancer.states()).every((s) => s === 'UP'), 10_000, 50);

  for (let u = 0; u < USERS; u++) {
    for (let e = 0; e < ENGINES_PER_USER; e++) {
      const email = `rolling${u}@example.com`;
      const engine = SyncEngine.open({
        databasePath: join(dir, `u${u}-e${e}.db`),
        serverUrl: balancer.url,
        email,
        apiKey,
        apiSecret: secret,
        reconnect: { minMs: 30_000, maxMs: 60_000 },
      });
      const w: Writer = { engine, email, expected: new Map(), outages: [], lostAt: null, lostWhy: '', attemptAt: null };
      engine.onEvent((ev) => {
        if (ev.type === EventType.ConnectionLost) {
          w.lostAt = Date.now();
          w.lostWhy = ev.error ?? '';
        }
        if (ev.type === EventType.ConnectionAttempted && w.lostAt !== null && w.attemptAt === null) w.attemptAt = Date.now();
        if (ev.type === EventType.ConnectionSucceeded && w.lostAt !== null) {
          w.outages.push({ waited: (w.attemptAt ?? Date.now()) - w.lostAt, back: Date.now() - w.lostAt, why: w.lostWhy });
          w.lostAt = w.attemptAt = null;
        }
      });
      writers.push(w);
    }
  }
  await Promise.all(writers.map((w) => w.engine.whenSynced(30_000)));

  // Each engine writes only its own documents (creates, and merges adding a new key), so nothing
  // conflicts and the final content of every document is known here.
  let writing = true;
  let written = 0;
  const loops = writers.map(async (w, wi) => {
    let i = 0;
    await sleep(rng.int(0, WRITE_EVERY_MS));
    while (writing) {
      const ids = [...w.expected.keys()];
      if (ids.length < 3 || rng.chance(0.3)) {
        const content = { title: `engine ${wi} doc ${i}`, n: i };
        w.expected.set(w.engine.createDocument(content), content);
      } else {
        const id = rng.pick(ids);
        const patch = { [`k${i}`]: i };
        w.engine.mergeDocument(id, patch);
        w.expected.set(id, { ...w.expected.get(id)!, ...patch });
      }
      i++;
      written++;
      await sleep(WRITE_EVERY_MS);
    }
  });

  const exits: { code: number | null; ms: number }[] = [];
  for (let round = 1; round <= RESTARTS; round++) {
    for (let s = 0; s < 2; s++) {
      await sleep(500);
      const exit = await servers[s]!.stop('SIGTERM');
      exits.push(exit);
      if (exit.code !== 0) t.fail(`server ${s + 1} exited ${exit.code ?? exit.signal}: ${tail(servers[s]!.stderr())}`);
      servers[s] = await start(backends[s]!);
      // The other one goes next: this one must be back in HAProxy's rotation first.
      await waitFor(`HAProxy to see server ${s + 1} up again`, async () => (await balancer.states())[`sync${s + 1}`] === 'UP', 10_000, 25);
    }
  }
  await sleep(500);
  writing = false;
  await Promise.all(loops);
  await Promise.all(writers.map((w) => w.engine.whenSynced(60_000)));

  const slowest = Math.max(...exits.map((e) => e.ms));
  t.ok(
    exits.every((e) => e.code === 0 && e.ms < 5000),
    `${exits.length} restarts: every process exited 0 within 5 s of SIGTERM (slowest ${slowest} ms)`,
  );
  const all = writers.flatMap((w) => w.outages);
  // The promise under test is the 1012's: an outage that began with another close (an abrupt one,
  // seen in about one run in five: one engine of 50 over ~470 outages) takes the engine's ordinary
  // backoff — 30 s here, so that a 1012 handled that way could not hide. Those are counted and
  // shown, and must stay rare; everything below (nothing lost, once each, converged) covers them too.
  const outages = all.filter((o) => o.why.startsWith('server restarting'));
  const abrupt = all.filter((o) => !o.why.startsWith('server restarting'));
  const waited = Math.max(0, ...outages.map((o) => o.waited));
  const backs = outages.map((o) => o.back).sort((a, b) => a - b);
  const worst = backs.at(-1) ?? 0;
  const median = backs[Math.floor(backs.length / 2)] ?? 0;
  t.ok(outages.length >= writers.length, `the engines lost their connection to a 1012 ${outages.length} times`);
  t.ok(abrupt.length <= Math.ceil(all.length / 100), `at most 1% of the outages began with another close: ${abrupt.length} of ${all.length}${abrupt.length ? ` (${abrupt.slice(0, 3).map((o) => `${o.why}, back after ${o.back} ms`).join('; ')})` : ''}`);
  t.ok(waited <= RECONNECT_BOUND_MS, `every engine tried again within ${RECONNECT_BOUND_MS} ms of the 1012 (longest wait ${waited} ms)`);
  t.ok(worst <= BACK_BOUND_MS, `every engine was authenticated again within ${BACK_BOUND_MS} ms of the 1012 (median ${median} ms, longest ${worst} ms)`);
  t.equal(
    writers.filter((w) => w.engine.pendingCount() > 0).length,
    0,
    'every engine synced: nothing unanswered in any outbox',
  );
  t.comment(`${written} writes by ${writers.length} engines over ${exits.length} restarts; reconnected after ${median} ms (median), ${worst} ms (longest); slowest exit ${slowest} ms`);

  await checkDense(t, tdb.db, 'rolling restart');
  const rows = await tdb.db.query<{ id: string; content: JsonObject; deleted: boolean }>('SELECT id::text AS id, content, deleted_at IS NOT NULL AS deleted FROM documents');
  const onServer = new Map(rows.rows.map((r) => [r.id, r.content]));
  const expected = new Map(writers.flatMap((w) => [...w.expected]));
  const wrong = [...expected].filter(([id, content]) => JSON.stringify(sortKeys(onServer.get(id))) !== JSON.stringify(sortKeys(content)));
  t.equal(onServer.size, expected.size, `the server holds exactly the ${expected.size} documents the engines created`);
  t.same(wrong.slice(0, 3), [], 'every document holds exactly what its engine wrote, each change once');

  // Convergence: both engines of a user hold what the server holds for that user.
  const byUser = new Map<string, Map<string, JsonObject>>();
  for (const w of writers) {
    const docs = byUser.get(w.email) ?? new Map<string, JsonObject>();
    for (const [id, c] of w.expected) docs.set(id, c);
    byUser.set(w.email, docs);
  }
  const diverged = writers.filter((w) => {
    const want = byUser.get(w.email)!;
    const have = w.engine.listDocuments();
    return have.length !== want.size || have.some((d) => JSON.stringify(sortKeys(d.content)) !== JSON.stringify(sortKeys(want.get(d.id))));
  });
  t.equal(diverged.length, 0, 'every engine holds exactly its user\'s documents as the server has them');
});

function sortKeys(o: JsonObject | undefined): JsonObject | undefined {
  return o && Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]!]));
}
