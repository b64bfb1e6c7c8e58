/**
 * The server SIGKILLed under load from many raw clients, several rounds. Each client records the
 * replies that came back before the kill (acknowledged) and, after the restart, resends every
 * unacknowledged mutation twice. The change log must hold every mutation exactly once at the
 * sequence its reply named, sequences dense per user, and the documents exactly what the
 * mutations make.
 *
 * Short: 3 rounds, 6 users × 2 connections, 8 mutations in flight per connection.
 * Long (FAULTS_LONG=1): 15 rounds, 12 users × 2 connections.
 */
import t from 'tap';
import type { ServerMessage } from '@json-sync/core';
import { startTestServer, TestClient } from '@json-sync/test-support';
import { checkDocs, checkLog, isSuccess, LONG, ReplyRouter, Rng, runSeed, sleep, tail, waitFor, within, Workload, type Mutation } from './support.js';

const ROUNDS = LONG ? 15 : 3;
const USERS = LONG ? 12 : 6;
const CONNECTIONS_PER_USER = 2;
const WINDOW = 8;

interface Writer {
  email: string;
  clientId: string;
  work: Workload;
  /** The first reply each mutation got, from any connection. */
  replies: Map<string, ServerMessage>;
  router: ReplyRouter | null;
}

t.test('server SIGKILLed under load: acknowledged mutations in the log exactly once, resent ones apply once, sequences dense', async (t) => {
  const seed = runSeed();
  t.comment(`seed ${seed} (FAULTS_SEED=${seed} replays the kill points and mutations)`);
  const rng = new Rng(seed);
  const ts = await startTestServer({ prefix: 'faults_server_kill' });
  const writers: Writer[] = [];
  t.teardown(async () => {
    for (const w of writers) w.router?.client.close();
    await ts.teardown();
  });

  for (let u = 0; u < USERS; u++) {
    for (let k = 0; k < CONNECTIONS_PER_USER; k++) {
      writers.push({ email: `user${u}@example.com`, clientId: rng.uuid(), work: new Workload(new Rng(rng.int(0, 2 ** 32 - 1)), `u${u}c${k}`, { eager: true }), replies: new Map(), router: null });
    }
  }
  const connect = async (w: Writer) => {
    const c = await TestClient.connect(ts.url, { email: w.email, apiKey: ts.apiKey, secret: ts.secret, clientId: w.clientId });
    w.router = new ReplyRouter(c);
  };
  const record = (w: Writer, mid: string, reply: ServerMessage | null) => {
    if (!reply) return;
    if (!w.replies.has(mid)) {
      w.replies.set(mid, reply);
      if (isSuccess(reply)) w.work.settled(mid);
    }
  };

  let acknowledgedTotal = 0;
  let resentTotal = 0;
  let committedBefore = 0;
  let committedUnanswered = 0;
  for (let round = 1; round <= ROUNDS; round++) {
    await Promise.all(writers.map(connect));

    // Load: every connection keeps WINDOW mutations in flight until its socket dies.
    let stop = false;
    const loops = writers.map(async (w) => {
      const router = w.router!;
      const inFlight = new Set<Promise<void>>();
      while (router.open && !stop) {
        while (inFlight.size < WINDOW && router.open) {
          const m = w.work.next();
          const p: Promise<void> = router.send(m.msg).then((reply) => {
            record(w, m.mid, reply);
            inFlight.delete(p);
          });
          inFlight.add(p);
        }
        await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
    });

    // Kill once this round has committed a random amount of work (so the kill lands mid-stream).
    const target = committedBefore + rng.int(100, 400);
    await waitFor(`round ${round}: ${target} committed changes`, async () => {
      const r = await ts.tdb.db.query<{ n: number }>('SELECT count(*)::int AS n FROM change_events');
      return r.rows[0]!.n >= target;
    }, 60_000, 5);
    const oldPid = ts.server.child.pid;
    const killed = ts.restart('SIGKILL');
    await within(`round ${round}: every load loop to end after the kill`, Promise.all(loops), 30_000);
    stop = true;
    const newServer = await killed;
    t.not(newServer.child.pid, oldPid, `round ${round}: a new server process`);
    t.same(
      writers.map((w) => w.router!.closeCode),
      writers.map(() => 1006),
      `round ${round}: every connection dropped without a close frame (1006)`,
    );

    const sent = writers.flatMap((w) => w.work.mutations.map((m) => ({ w, m })));
    const unacked = sent.filter(({ w, m }) => !w.replies.has(m.mid));
    const acked = sent.length - unacked.length;
    t.ok(unacked.length > 0, `round ${round}: ${unacked.length} mutations unanswered at the kill (${acked} answered so far)`);
    const notSuccess = [...writers.flatMap((w) => [...w.replies.values()])].filter((r) => !isSuccess(r));
    t.same(notSuccess, [], `round ${round}: every reply before the kill was a success`);
    acknowledgedTotal = acked;
    const inLog = await ts.tdb.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM change_events WHERE mutation_id IN (SELECT jsonb_array_elements_text($1::jsonb)::uuid)',
      [JSON.stringify(unacked.map(({ m }) => m.mid))],
    );
    committedUnanswered += inLog.rows[0]!.n;
    t.comment(`round ${round}: ${inLog.rows[0]!.n} of the ${unacked.length} unanswered mutations had committed before the kill (their resends are replays)`);

    // Reconnect and resend every unacknowledged mutation twice, in the order first sent.
    await Promise.all(writers.map(connect));
    const resends = await within(
      `round ${round}: replies to the resent mutations`,
      Promise.all(
        writers.map(async (w) => {
          const mine = w.work.mutations.filter((m) => !w.replies.has(m.mid));
          const pairs: { m: Mutation; first: ServerMessage | null; second: ServerMessage | null }[] = [];
          const all = mine.map((m) => {
            const a = w.router!.send(m.msg);
            const b = w.router!.send(m.msg);
            return Promise.all([a, b]).then(([first, second]) => pairs.push({ m, first, second }));
          });
          await Promise.all(all);
          for (const p of pairs) record(w, p.m.mid, p.first);
          return pairs;
        }),
      ),
      60_000,
    );
    const pairs = resends.flat();
    resentTotal += pairs.length;
    t.equal(pairs.length, unacked.length, `round ${round}: ${unacked.length} mutations resent, twice each`);
    const badPairs = pairs.filter((p) => !isSuccess(p.first) || JSON.stringify(sorted(p.first)) !== JSON.stringify(sorted(p.second)));
    t.same(
      badPairs.slice(0, 3).map((p) => ({ kind: p.m.kind, first: p.first, second: p.second })),
      [],
      `round ${round}: both sends of every resent mutation got the same success reply (${badPairs.length} did not)`,
    );
    t.same(
      writers.flatMap((w) => w.router!.stray),
      [],
      `round ${round}: no reply beyond one per send`,
    );

    // The log: every mutation ever sent exactly once, at the sequence its reply named.
    const log = await checkLog(t, ts.tdb.db, sent.map(({ m }) => m.mid), `round ${round}`);
    const misplaced = sent
      .map(({ w, m }) => ({ m, reply: w.replies.get(m.mid) as { sequence?: number; sync_revision?: number } | undefined, row: log.get(m.mid) }))
      .filter(({ reply, row }) => !row || !reply || reply.sequence !== row.sequence || reply.sync_revision !== row.sync_revision);
    t.same(
      misplaced.slice(0, 3).map(({ m, reply, row }) => ({ mid: m.mid, reply, row })),
      [],
      `round ${round}: every reply (acknowledged or replayed) names the sequence and revision the log holds (${misplaced.length} differ)`,
    );
    committedBefore = sent.length;
    if (t.passing() === false) {
      t.comment(`server stderr:\n${tail(ts.server.stderr())}`);
      break;
    }
    for (const w of writers) w.router!.client.close();
    await sleep(20);
  }

  const expected = new Map(writers.flatMap((w) => [...w.work.expectedDocs()]));
  await checkDocs(t, ts.tdb.db, expected, 'after all rounds');
  const users = await ts.tdb.db.query<{ n: number }>('SELECT count(*)::int AS n FROM users');
  t.equal(users.rows[0]!.n, USERS, `${USERS} users, one per email`);
  t.comment(`${ROUNDS} rounds: ${committedBefore} mutations, ${acknowledgedTotal} acknowledged before the last kill, ${resentTotal} resent twice, ${committedUnanswered} of those committed before their kill`);
});

function sorted(m: ServerMessage | null): unknown {
  if (!m) return m;
  return Object.fromEntries(Object.entries(m).sort(([a], [b]) => a.localeCompare(b)));
}
