/**
 * Database backends terminated with pg_terminate_backend() in the middle of the server's
 * transactions (SQLSTATE 57P01), on the test's own database of the machine's PostgreSQL; the
 * service itself is never touched. The server process must survive, answer every mutation with
 * its result or a retryable server_error, and apply each exactly once when retried.
 *
 * 1. Pinned: the test holds a user's row lock, so the server's batch transaction waits inside its
 *    lock statement; that backend (and the one-by-one retry's, when it appears) is terminated.
 *    Short 4 rounds, long 20.
 * 2. Under load: 4 connections of 2 users keep mutations in flight while backends found inside a
 *    transaction are terminated every 20-120 ms, plus the LISTEN connection once. Short 4 s, long 30 s.
 */
import t from 'tap';
import pg from 'pg';
import { startTestServer, TestClient, type TestServer } from '@json-sync/test-support';
import {
  checkWriters,
  health,
  isServerError,
  isSuccess,
  LONG,
  recordReply,
  ReplyRouter,
  retryUntilApplied,
  Rng,
  runSeed,
  sleep,
  startLoad,
  tail,
  waitFor,
  watchExit,
  within,
  Workload,
  type Writer,
} from './support.js';

const PINNED_ROUNDS = LONG ? 20 : 4;
const LOAD_MS = LONG ? 30_000 : 4_000;

/** A connection of the test's own, named so it is never mistaken for the server's. */
async function adminClient(ts: TestServer, name: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: ts.tdb.url, application_name: name });
  c.on('error', () => {});
  await c.connect();
  return c;
}

t.test('backends terminated mid-transaction: the server survives, answers server_error, and retried mutations apply exactly once', async (t) => {
  const seed = runSeed();
  t.comment(`seed ${seed} (FAULTS_SEED=${seed} replays it)`);
  const rng = new Rng(seed);
  const ts = await startTestServer({ prefix: 'faults_terminate' });
  const admins: pg.Client[] = [];
  const clients: TestClient[] = [];
  t.teardown(async () => {
    for (const c of clients) c.close();
    for (const a of admins) await a.end().catch(() => {});
    await ts.teardown();
  });
  const watch = watchExit(ts.server);
  const id = (email: string) => ({ email, apiKey: ts.apiKey, secret: ts.secret });
  const killer = await adminClient(ts, 'faults-killer');
  admins.push(killer);

  // ---- 1. pinned: the server's transaction waits on our lock, and is terminated there ----------
  const alice = await TestClient.connect(ts.url, id('alice@example.com'));
  clients.push(alice);
  const aw: Writer = { router: new ReplyRouter(alice), work: new Workload(new Rng(rng.int(0, 2 ** 32 - 1)), 'alice'), replies: new Map() };
  // A few documents first, so the pinned rounds update existing ones.
  for (let i = 0; i < 4; i++) {
    const m = aw.work.next();
    const r = await aw.router.send(m.msg);
    t.ok(isSuccess(r), `setup mutation ${i} applied`);
    recordReply(aw, m.mid, r);
  }
  const holder = await adminClient(ts, 'faults-lock-holder');
  admins.push(holder);
  const blockedBackend = async (exclude: Set<number>): Promise<number | null> => {
    const r = await killer.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = 'sync-server' AND wait_event_type = 'Lock' AND xact_start IS NOT NULL`,
      [ts.tdb.name],
    );
    return r.rows.map((x) => x.pid).find((pid) => !exclude.has(pid)) ?? null;
  };
  let pinnedKills = 0;
  const pinnedOutcomes: string[] = [];
  for (let round = 1; round <= PINNED_ROUNDS; round++) {
    await holder.query('BEGIN');
    await holder.query('SELECT 1 FROM users WHERE id = $1 FOR UPDATE', [alice.userId]);
    const m = aw.work.next();
    const reply = aw.router.send(m.msg);
    const killed = new Set<number>();
    let pid: number | null = null;
    await waitFor(`round ${round}: the server's transaction waiting on the held lock`, async () => (pid = await blockedBackend(killed)) !== null, 10_000);
    const term = await killer.query<{ ok: boolean }>('SELECT pg_terminate_backend($1) AS ok', [pid]);
    t.equal(term.rows[0]!.ok, true, `round ${round}: backend ${pid} terminated inside the server's transaction`);
    killed.add(pid!);
    pinnedKills++;
    // The batcher may retry on a fresh connection, which waits on the same lock: on odd rounds that
    // one is terminated too, on even rounds it is let through.
    if (round % 2 === 1) {
      const until = Date.now() + 1500;
      while (Date.now() < until) {
        const again = await blockedBackend(killed);
        if (again !== null) {
          await killer.query('SELECT pg_terminate_backend($1)', [again]);
          killed.add(again);
          pinnedKills++;
        }
        await sleep(20);
      }
    }
    await holder.query('ROLLBACK');
    const r = await within(`round ${round}: the reply to the mutation whose transaction was terminated`, reply, 15_000);
    // A dropped connection: give a dying process's exit a moment to be seen.
    if (r === null) await sleep(500);
    t.ok(r !== null, `round ${round}: the connection stayed open`);
    t.ok(isSuccess(r) || isServerError(r), `round ${round}: answered with its result or server_error, got ${JSON.stringify(r)}`);
    t.equal((r as { mutation_id?: string } | null)?.mutation_id, m.mid, `round ${round}: the reply echoes the mutation_id`);
    recordReply(aw, m.mid, r);
    pinnedOutcomes.push(`${killed.size} killed → ${r?.type === 'error' ? r.code : r?.type}`);
    t.equal(watch.exit(), null, `round ${round}: server process alive`);
    if (watch.exit()) break;
    await alice.ping();
  }
  t.comment(`pinned rounds: ${pinnedOutcomes.join('; ')}`);
  t.ok(pinnedKills >= PINNED_ROUNDS, `${pinnedKills} backends terminated mid-transaction in ${PINNED_ROUNDS} pinned rounds`);

  if (watch.exit()) {
    t.fail(`the server process died (${JSON.stringify(watch.exit())}); stderr: ${tail(ts.server.stderr())}`);
    return;
  }

  // ---- 2. under load, random terminations ----------------------------------------------------
  const writers: Writer[] = [];
  for (const email of ['bob@example.com', 'bob@example.com', 'carol@example.com', 'carol@example.com']) {
    const c = await TestClient.connect(ts.url, id(email));
    clients.push(c);
    writers.push({ router: new ReplyRouter(c), work: new Workload(new Rng(rng.int(0, 2 ** 32 - 1)), `${email}#${writers.length}`), replies: new Map() });
  }
  const load = startLoad(writers);
  const kills: { state: string; query: string }[] = [];
  let listenerKilled: number | null = null;
  const t0 = Date.now();
  while (Date.now() - t0 < LOAD_MS && !watch.exit()) {
    await sleep(rng.int(20, 120));
    const r = await killer.query<{ pid: number; state: string; query: string; ok: boolean }>(
      `SELECT pid, state, left(query, 60) AS query, pg_terminate_backend(pid) AS ok FROM pg_stat_activity
       WHERE datname = $1 AND application_name = 'sync-server' AND xact_start IS NOT NULL AND pid <> pg_backend_pid()`,
      [ts.tdb.name],
    );
    kills.push(...r.rows.filter((x) => x.ok).map((x) => ({ state: x.state, query: x.query })));
    if (listenerKilled === null && Date.now() - t0 > LOAD_MS / 2) {
      // pg_terminate_backend only in the select list: in WHERE the planner may call it before the other conditions.
      const l = await killer.query<{ pid: number; ok: boolean }>(
        `SELECT pid, pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE datname = $1 AND application_name = 'sync-server-listen'`,
        [ts.tdb.name],
      );
      t.same(l.rows.map((x) => x.ok), [true], 'the LISTEN connection terminated once');
      listenerKilled = l.rows[0]?.pid ?? -1;
    }
  }
  await load.stop();
  t.equal(watch.exit(), null, `server process alive after ${kills.length} terminations under load${watch.exit() ? `; stderr: ${tail(ts.server.stderr())}` : ''}`);
  if (watch.exit()) return;
  t.ok(kills.length >= 3, `${kills.length} server backends terminated inside a transaction under load (states: ${[...new Set(kills.map((k) => k.state))].join(', ')})`);
  let listeners: number[] = [];
  const back = await waitFor('the LISTEN connection to come back', async () => {
    const l = await killer.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = 'sync-server-listen'`, [ts.tdb.name]);
    listeners = l.rows.map((x) => x.pid);
    return listeners.length === 1 && listeners[0] !== listenerKilled;
  }, 10_000).then(
    () => true,
    () => false,
  );
  t.ok(back, `the server reconnected its LISTEN connection after it was terminated (now: ${JSON.stringify(listeners)})`);

  const answers = writers.flatMap((w) => w.work.mutations.map((m) => w.replies.get(m.mid) ?? null));
  const unexpected = answers.filter((r) => !isSuccess(r) && !isServerError(r));
  t.same(unexpected.slice(0, 3), [], `under load: each of ${answers.length} mutations answered with its result or server_error (${answers.filter(isServerError).length} server_error, ${unexpected.length} other/none)`);
  t.same(
    writers.map((w) => w.router.closeCode),
    writers.map(() => null),
    'every connection stayed open',
  );

  // ---- retry what failed, then the log and the documents --------------------------------------
  const everyone: Writer[] = [aw, ...writers];
  let retried = 0;
  for (const w of everyone) retried += await retryUntilApplied(w);
  t.comment(`${retried} retries in all`);
  await checkWriters(t, ts.tdb.db, everyone, 'after the retries');
  t.equal(await health(ts.httpUrl), 200, '/health 200 at the end');
  t.equal(watch.exit(), null, 'server process never exited');
  t.equal(ts.server.child.exitCode, null, 'server process still running');
});
