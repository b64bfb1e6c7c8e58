/**
 * A full database outage, on a private PostgreSQL cluster the test creates (initdb + pg_ctl on a
 * random port in a temp directory), so the machine's PostgreSQL service is never touched. The
 * cluster is stopped (`pg_ctl stop -m fast`) while four connections keep mutations in flight,
 * kept down for a while, and started again.
 *
 * During the outage: the server process survives, /health answers 503, every mutation gets a
 * retryable server_error echoing its mutation_id, pings are answered, open connections stay open,
 * and authentication answers `auth_error unavailable` and closes. After it: /health 200 again,
 * every failed mutation applies exactly once when retried (and a second resend is a replay),
 * sequences stay dense, and authentication works again.
 *
 * Short: 1 outage. Long (FAULTS_LONG=1): 4 outages.
 */
import t from 'tap';
import type { ServerMessage } from '@json-sync/core';
import { startTestServer, TestClient, type TestServer } from '@json-sync/test-support';
import {
  checkWriters,
  createPrivateCluster,
  health,
  isServerError,
  isSuccess,
  LONG,
  recordReply,
  ReplyRouter,
  retryUntilApplied,
  Rng,
  sendAll,
  runSeed,
  sleep,
  startLoad,
  tail,
  waitFor,
  watchExit,
  within,
  Workload,
  type PrivateCluster,
  type Writer,
} from './support.js';

const OUTAGES = LONG ? 4 : 1;
const DURING_OUTAGE = 20;

t.test('database outage: the server survives, /health 503, server_error and auth_error unavailable, and retried mutations apply exactly once', async (t) => {
  const seed = runSeed();
  t.comment(`seed ${seed} (FAULTS_SEED=${seed} replays it)`);
  const rng = new Rng(seed);
  let cluster: PrivateCluster | undefined;
  let ts: TestServer | undefined;
  const clients: TestClient[] = [];
  t.teardown(async () => {
    for (const c of clients) c.close();
    try {
      // The database can only be dropped while the cluster runs; it goes with the directory anyway.
      if (cluster && !cluster.running()) await cluster.start().catch(() => {});
      await ts?.teardown();
    } finally {
      cluster?.remove();
    }
  });
  cluster = await createPrivateCluster();
  ts = await startTestServer({ prefix: 'faults_outage', databaseServerUrl: cluster.url });
  const server = ts;
  const watch = watchExit(server.server);
  const id = (email: string) => ({ email, apiKey: server.apiKey, secret: server.secret });
  const connect = async (email: string) => {
    const c = await TestClient.connect(server.url, id(email));
    clients.push(c);
    return c;
  };
  t.equal(await health(server.httpUrl), 200, '/health 200 with the cluster up');

  const writers: Writer[] = [];
  for (const email of ['ann@example.com', 'ann@example.com', 'ben@example.com', 'ben@example.com']) {
    writers.push({ router: new ReplyRouter(await connect(email)), work: new Workload(new Rng(rng.int(0, 2 ** 32 - 1)), `${email}#${writers.length}`), replies: new Map() });
  }
  const probe = writers[0]!;

  for (let outage = 1; outage <= OUTAGES; outage++) {
    const label = `outage ${outage}`;
    // Load, then the cluster stopped under it; the load runs on into the outage for a moment.
    const load = startLoad(writers);
    await sleep(rng.int(200, 600));
    const before = writers.reduce((n, w) => n + w.work.mutations.length, 0);
    await cluster.stop('fast');
    await sleep(500);
    await load.stop();
    const sent = writers.flatMap((w) => w.work.mutations.map((m) => ({ w, m })));
    const answers = sent.map(({ w, m }) => w.replies.get(m.mid) ?? null);
    const unexpected = answers.filter((r) => !isSuccess(r) && !isServerError(r));
    t.same(unexpected.slice(0, 3), [], `${label}: every one of the ${sent.length} mutations sent around the stop answered with its result or server_error (${unexpected.length} not)`);
    const failed = sent.filter(({ w, m }) => isServerError(w.replies.get(m.mid)));
    t.ok(failed.length > 0, `${label}: ${failed.length} mutations got server_error once the cluster stopped (${before} were sent before the stop began)`);
    const echo = failed.filter(({ w, m }) => (w.replies.get(m.mid) as { mutation_id?: string }).mutation_id !== m.mid);
    t.equal(echo.length, 0, `${label}: every server_error echoes its mutation_id`);

    // The outage proper.
    t.equal(watch.exit(), null, `${label}: server process alive after the stop${watch.exit() ? `; stderr: ${tail(server.server.stderr())}` : ''}`);
    if (watch.exit()) return;
    let status = 0;
    await waitFor(`${label}: /health 503`, async () => (status = await health(server.httpUrl)) === 503, 5000).catch(() => {});
    t.equal(status, 503, `${label}: /health answers 503 while the database is down`);
    await within(`${label}: a pong during the outage`, probe.router.client.ping(), 5000);
    t.pass(`${label}: ping answered during the outage`);

    const during = Array.from({ length: DURING_OUTAGE }, () => probe.work.next());
    const replies = await within(`${label}: replies to ${DURING_OUTAGE} mutations during the outage`, sendAll(probe.router, during.map((m) => m.msg)), 20_000);
    during.forEach((m, i) => recordReply(probe, m.mid, replies[i]!));
    t.same(
      replies.map((r, i) => (r?.type === 'error' ? `${r.code} ${r.mutation_id === during[i]!.mid ? 'echoed' : 'not echoed'}` : (r?.type ?? 'no reply'))),
      during.map(() => 'server_error echoed'),
      `${label}: all ${DURING_OUTAGE} mutations during the outage get server_error echoing their mutation_id`,
    );

    const stranger = await TestClient.open(server.url);
    clients.push(stranger);
    let authReply: ServerMessage | string;
    try {
      authReply = await stranger.authenticate(id('newcomer@example.com'));
    } catch (err) {
      authReply = `no answer: ${(err as Error).message.slice(0, 80)}`;
    }
    t.same(
      typeof authReply === 'string' ? authReply : { type: authReply.type, reason: (authReply as { reason?: string }).reason },
      { type: 'auth_error', reason: 'unavailable' },
      `${label}: authenticating during the outage answers auth_error unavailable`,
    );
    const closed = await within(`${label}: the refused connection to close`, stranger.closed, 5000).catch(() => null);
    t.equal(closed?.code, 1008, `${label}: and closes the connection with 1008`);
    t.same(
      writers.map((w) => w.router.closeCode),
      writers.map(() => null),
      `${label}: the open connections stay open`,
    );
    t.equal(watch.exit(), null, `${label}: server process alive during the outage`);

    // Back up.
    await sleep(rng.int(200, 1000));
    await cluster.start();
    await waitFor(`${label}: /health 200 after the cluster restarted`, async () => (status = await health(server.httpUrl)) === 200, 30_000).catch(() => {});
    t.equal(status, 200, `${label}: /health answers 200 again`);

    const toRetry = sent.filter(({ w, m }) => !isSuccess(w.replies.get(m.mid))).length + DURING_OUTAGE;
    let resent = 0;
    for (const w of writers) resent += await retryUntilApplied(w);
    t.equal(resent, toRetry, `${label}: each of the ${toRetry} failed mutations applied on its first retry`);
    // A second resend of everything that failed is a replay: the same reply, nothing new written.
    const again = [...failed.map(({ w, m }) => ({ w, m })), ...during.map((m) => ({ w: probe, m }))];
    const second = new Map<string, ServerMessage | null>();
    await within(
      `${label}: replies to the second resend`,
      Promise.all(
        writers.map(async (w) => {
          const mine = again.filter((x) => x.w === w).map((x) => x.m);
          const got = await sendAll(w.router, mine.map((m) => m.msg));
          mine.forEach((m, i) => second.set(m.mid, got[i]!));
        }),
      ),
      60_000,
    );
    const differ = again.filter(({ w, m }) => JSON.stringify(sortKeys(second.get(m.mid) ?? null)) !== JSON.stringify(sortKeys(w.replies.get(m.mid) ?? null)));
    t.equal(differ.length, 0, `${label}: a second resend of the ${again.length} once-failed mutations gets the same reply again`);
    await checkWriters(t, server.tdb.db, writers, label);

    const newcomer = await within(`${label}: authentication after the outage`, connect('newcomer@example.com'), 10_000).catch((err: Error) => err);
    t.ok(newcomer instanceof TestClient, `${label}: authentication works again (${newcomer instanceof Error ? newcomer.message : 'auth_success'})`);
    t.equal(watch.exit(), null, `${label}: server process never exited`);
    if (!t.passing()) {
      t.comment(`server stderr:\n${tail(server.server.stderr())}`);
      break;
    }
  }
  t.equal(server.server.child.exitCode, null, 'server process still running at the end');
});

function sortKeys(m: ServerMessage | null): unknown {
  return m && Object.fromEntries(Object.entries(m).sort(([a], [b]) => a.localeCompare(b)));
}
