import t from 'tap';
import pg from 'pg';
import { contentHash, newUuid, type ServerMessage, type ServerMessageOf } from '@json-sync/core';
import { startTestServer, TestClient, type ServerProcess, type Identity } from '@json-sync/test-support';

/**
 * The gap checker. A consumer tails a log by reading `WHERE seq > cursor ORDER BY seq` over and
 * over and moving its cursor to the highest sequence seen; `observed` is everything it saw, in
 * order. With dense sequences the next one seen must always be cursor + 1: any jump is a row the
 * consumer will never read (a late commit below its cursor), and anything at or below the cursor
 * is a repeat or out of order.
 */
function checkGaps(observed: readonly number[], start = 0): { missing: number[]; repeated: number[]; cursor: number } {
  const missing: number[] = [];
  const repeated: number[] = [];
  let cursor = start;
  for (const s of observed) {
    if (s <= cursor) {
      repeated.push(s);
      continue;
    }
    for (let k = cursor + 1; k < s; k++) missing.push(k);
    cursor = s;
  }
  return { missing, repeated, cursor };
}

/** A consumer tailing a log with `seq > cursor`; `read` returns the sequences above the cursor in order. */
class TailConsumer {
  cursor = 0;
  readonly observed: number[] = [];
  reads = 0;
  nonEmptyReads = 0;
  constructor(private readonly read: (cursor: number) => Promise<number[]>) {}
  async poll(): Promise<number[]> {
    const seqs = await this.read(this.cursor);
    this.reads++;
    if (seqs.length > 0) this.nonEmptyReads++;
    for (const s of seqs) {
      this.observed.push(s);
      this.cursor = Math.max(this.cursor, s);
    }
    return seqs;
  }
}

const ts = await startTestServer({ prefix: 'sync_multi' });
t.teardown(() => ts.teardown());
const { tdb, server: p1 } = ts;
const p2 = await ts.startAnother();

const clients: TestClient[] = [];
t.teardown(() => clients.forEach((c) => c.close()));

function identity(name: string, clientId?: string): Identity {
  return { email: `${name}@example.com`, apiKey: ts.apiKey, secret: ts.secret, ...(clientId ? { clientId } : {}) };
}

async function connect(p: ServerProcess, name: string, clientId?: string): Promise<TestClient> {
  const c = await TestClient.connect(p.url, identity(name, clientId));
  clients.push(c);
  return c;
}

const PUSH_TYPES = new Set(['document_created', 'document_updated', 'document_deleted']);
const pushes = (c: TestClient) => c.received.filter((m) => PUSH_TYPES.has(m.type));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** LISTEN connections of the two servers that are up and listening, leaving out backends already told to die. */
async function listeners(killed: readonly number[] = [], listening = false): Promise<number> {
  const r = await tdb.db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity
     WHERE application_name = 'sync-server-listen' AND datname = $1 AND NOT (pid = ANY($2::int[]))
       AND (NOT $3 OR (state = 'idle' AND query ILIKE 'LISTEN%'))`,
    [tdb.name, killed, listening],
  );
  return r.rows[0]!.n;
}

/** Kills the LISTEN connection of both processes (there is one per process); returns the killed pids. */
async function killListeners(): Promise<number[]> {
  const r = await tdb.db.query<{ pid: number; ok: boolean }>(
    `SELECT pid, pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = 'sync-server-listen' AND datname = $1`,
    [tdb.name],
  );
  if (r.rows.length !== 2 || !r.rows.every((x) => x.ok)) throw new Error(`expected to kill 2 listeners, got ${JSON.stringify(r.rows)}`);
  return r.rows.map((x) => x.pid);
}

t.test('a change committed through one process is pushed to the user on the other', async (t) => {
  const a = await connect(p1, 'cross');
  const b = await connect(p2, 'cross');
  const stranger = await connect(p2, 'cross-stranger');

  const content = { title: 'across', n: 1 };
  const created = await a.create(content);
  t.equal(created.sequence, 1);
  const pc = await b.next((m) => m.type === 'document_created');
  t.match(pc, {
    type: 'document_created',
    document: { id: created.document_id, user_id: a.userId, title: 'across', content, sync_revision: 1, content_hash: contentHash(content), deleted_at: null },
    sequence: 1,
    client_id: a.clientId,
    mutation_id: created.mutation_id,
  });

  const ops = [{ op: 'replace', path: '/n', value: 2 }, { op: 'add', path: '/tags', value: ['x'] }];
  const updated = (await a.mutate({ type: 'update_document', patch: { document_id: created.document_id, patch: ops }, base_revision: 1 })) as ServerMessageOf<'document_updated_response'>;
  t.match(updated, { type: 'document_updated_response', sync_revision: 2, sequence: 2 });
  const pu = await b.next((m) => m.type === 'document_updated');
  t.same(pu, {
    type: 'document_updated',
    document_id: created.document_id,
    patch: ops,
    sync_revision: 2,
    content_hash: contentHash({ title: 'across', n: 2, tags: ['x'] }),
    sequence: 2,
    client_id: a.clientId,
    mutation_id: updated.mutation_id,
  });

  const deleted = (await a.mutate({ type: 'delete_document', document_id: created.document_id, base_revision: 2 })) as ServerMessageOf<'document_deleted_response'>;
  t.match(deleted, { type: 'document_deleted_response', sync_revision: 3, sequence: 3 });
  const pd = await b.next((m) => m.type === 'document_deleted');
  t.same(pd, { type: 'document_deleted', document_id: created.document_id, sync_revision: 3, sequence: 3, client_id: a.clientId, mutation_id: deleted.mutation_id });

  // And the other way round: process 2 → process 1.
  const back = await b.create({ title: 'back' });
  t.equal(back.sequence, 4);
  t.match(await a.next((m) => m.type === 'document_created'), { document: { id: back.document_id }, sequence: 4, client_id: b.clientId, mutation_id: back.mutation_id });

  // The pushes have arrived; a ping round trip on each socket flushes anything still in flight.
  await Promise.all([a.ping(), b.ping(), stranger.ping()]);
  t.same(pushes(a), [], 'the sender never receives its own changes');
  t.same(pushes(b), [], 'each change reached the other process once');
  t.same(pushes(stranger), [], 'another user receives nothing');
});

t.test('after its LISTEN connection is killed, process 2 still delivers changes from process 1 without a client reconnect', async (t) => {
  const a = await connect(p1, 'listen');
  const b = await connect(p2, 'listen');
  let bClosed = false;
  void b.closed.then(() => (bClosed = true));

  // A baseline change, so process 2 has seen this user's stream before the gap.
  const first = await a.create({ title: 'before' });
  await b.next((m) => m.type === 'document_created' && m.sequence === first.sequence);

  t.equal(await listeners(), 2, 'each process holds one LISTEN connection');
  const killed = await killListeners();
  t.equal(killed.length, 2, 'both listeners terminated');

  // Write without pause from the moment of the kill, through the reconnection, and on after it:
  // notifications sent while the listener is away are lost and must be made up for.
  const responses: ServerMessageOf<'document_created_response'>[] = [];
  let stop = false;
  const writer = (async () => {
    while (!stop) responses.push(await a.create({ title: `during ${responses.length}` }));
  })();
  await waitFor('both listeners to LISTEN again', async () => (await listeners(killed, true)) === 2);
  const atReconnect = responses.length;
  await sleep(200);
  stop = true;
  await writer;
  responses.push(await a.create({ title: 'well after' }));
  t.ok(atReconnect > 0, `changes were committed before the listener was back (${atReconnect})`);
  t.ok(responses.length > atReconnect + 1, `and after it (${responses.length - atReconnect})`);

  const expected = responses.map((r) => r.sequence);
  t.same(expected, Array.from({ length: responses.length }, (_, i) => first.sequence + 1 + i), 'the writer took consecutive sequences');
  // The last change was made well after the reconnect, so its push comes through the restored
  // listener; once it is in and a ping has round-tripped, everything process 2 will send is here.
  await waitFor('the last push', async () => b.received.some((m) => m.type === 'document_created' && m.sequence === expected.at(-1))).catch(() => {});
  await b.ping();
  const got = b.all('document_created');
  t.same(got.map((m) => m.sequence), expected, 'every change reached process 2 once, in order, the ones made during the gap included');
  t.same(
    got.map((m) => [m.document.id, m.client_id, m.mutation_id]),
    responses.map((r) => [r.document_id, a.clientId, r.mutation_id]),
  );
  t.same(pushes(b).filter((m) => m.type !== 'document_created'), []);
  t.equal(bClosed, false, 'the client on process 2 never reconnected');
  t.match(p2.stderr(), /listen connection lost/, 'process 2 noticed the lost listener');
});

t.test('changes missed during the listener gap are pushed even when a newer notification arrives before the catch-up read', async (t) => {
  const a = await connect(p1, 'listen-race');
  const b = await connect(p2, 'listen-race');
  const first = await a.create({ title: 'before' });
  await b.next((m) => m.type === 'document_created' && m.sequence === first.sequence);

  // Make process 2's database slow to answer: every connection of its pool waits on a row lock
  // (acks of another user), so the catch-up read it starts on reconnect is still queued when the
  // next notification arrives. The block stays well under the pool's 5 s checkout timeout.
  const blockers = await Promise.all(Array.from({ length: 12 }, () => connect(p2, 'pool-blocker')));
  await Promise.all(blockers.map((c) => c.request({ type: 'ack_changes', up_to_sequence: 0 }, (m) => m.type === 'changes_acknowledged')));
  const locker = new pg.Client({ connectionString: tdb.url });
  await locker.connect();
  t.teardown(() => locker.end());
  await locker.query('BEGIN');
  await locker.query('SELECT 1 FROM client_acks WHERE user_id = $1 FOR UPDATE', [blockers[0]!.userId]);
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    await locker.query('COMMIT');
  };
  t.teardown(release);
  const acksDone = Promise.all(blockers.map((c) => c.request({ type: 'ack_changes', up_to_sequence: 0 }, (m) => m.type === 'changes_acknowledged')));
  const waitingOnLock = async () =>
    (
      await tdb.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'sync-server' AND wait_event_type = 'Lock'`,
        [tdb.name],
      )
    ).rows[0]!.n;
  await waitFor("process 2's pool to be busy", async () => (await waitingOnLock()) >= 10);

  const killed = await killListeners();
  const gap = await Promise.all([a.create({ title: 'gap 1' }), a.create({ title: 'gap 2' }), a.create({ title: 'gap 3' })]);
  t.equal(await listeners(killed), 0, 'the gap changes committed while both listeners were down');
  await waitFor('both listeners to LISTEN again', async () => (await listeners(killed, true)) === 2);
  await sleep(50);
  const after = await a.create({ title: 'after' });
  // Let the notification for `after` reach process 2 while its catch-up read is still queued.
  await sleep(150);
  await release();
  await acksDone;

  const expected = [...gap.map((r) => r.sequence).sort((x, y) => x - y), after.sequence];
  t.same(expected, [2, 3, 4, 5]);
  await waitFor('the push of the last change', async () => b.received.some((m) => m.type === 'document_created' && m.sequence === after.sequence)).catch(() => {});
  await b.ping();
  t.same(
    b.all('document_created').map((m) => m.sequence),
    expected,
    'the changes made during the gap reached process 2, once each, in order',
  );
});

t.test('sequences stay dense with 8 clients of one user writing through both processes', async (t) => {
  const CLIENTS = 8;
  const DOCS = 10;
  const UPDATES = 90;
  const writers = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => connect(i % 2 === 0 ? p1 : p2, 'dense')));
  const userId = writers[0]!.userId;
  for (const w of writers) t.equal(w.userId, userId);

  const consumer = new TailConsumer(async (cursor) =>
    (await tdb.db.query<{ sequence: number }>('SELECT sequence FROM change_events WHERE user_id = $1 AND sequence > $2 ORDER BY sequence', [userId, cursor])).rows.map(
      (r) => r.sequence,
    ),
  );
  let writing = true;
  // The consumer tails the log while the writers commit, as a catching-up client would.
  const tail = (async () => {
    while (writing) await consumer.poll();
    await consumer.poll();
  })();

  const replies = (
    await Promise.all(
      writers.map((w) => {
        const ids = Array.from({ length: DOCS }, () => newUuid());
        const sent: Promise<ServerMessage>[] = ids.map((id, k) => w.mutate({ type: 'create_document', document: { id, content: { title: `w${k}`, n: 0 } } }));
        for (let u = 0; u < UPDATES; u++) {
          sent.push(w.mutate({ type: 'update_document', patch: { document_id: ids[u % DOCS]!, patch: [{ op: 'replace', path: '/n', value: u + 1 }] } }));
        }
        return Promise.all(sent);
      }),
    )
  ).flat();
  writing = false;
  await tail;

  const total = CLIENTS * (DOCS + UPDATES);
  const failures = replies.filter((r) => r.type !== 'document_created_response' && r.type !== 'document_updated_response');
  t.same(failures, [], 'every mutation committed');
  const replySeqs = replies.map((r) => (r as { sequence: number }).sequence).sort((x, y) => x - y);
  t.same(replySeqs, Array.from({ length: total }, (_, i) => i + 1), 'every reply carries a distinct sequence, together exactly 1..N');

  const rows = await tdb.db.query<{ sequence: number }>('SELECT sequence FROM change_events WHERE user_id = $1 ORDER BY sequence', [userId]);
  t.same(
    rows.rows.map((r) => r.sequence),
    Array.from({ length: total }, (_, i) => i + 1),
    'change_events holds exactly 1..N: no holes, no duplicates',
  );
  t.same((await tdb.db.query('SELECT last_sequence FROM users WHERE id = $1', [userId])).rows, [{ last_sequence: total }]);

  const check = checkGaps(consumer.observed);
  t.same(check.missing, [], 'the tailing consumer saw no gap');
  t.same(check.repeated, []);
  t.equal(check.cursor, total);
  t.ok(consumer.nonEmptyReads >= 2, `the consumer read while writes were committing (${consumer.nonEmptyReads} non-empty reads of ${consumer.reads})`);
});

t.test('the gap checker catches a late commit on a plain BIGSERIAL', async (t) => {
  await tdb.db.query('CREATE TABLE scratch_log (seq BIGSERIAL PRIMARY KEY, note text NOT NULL)');
  t.teardown(() => tdb.db.query('DROP TABLE IF EXISTS scratch_log'));
  const late = new pg.Client({ connectionString: tdb.url });
  await late.connect();
  t.teardown(() => late.end());

  await late.query('BEGIN');
  const s1 = await late.query<{ seq: string }>(`INSERT INTO scratch_log (note) VALUES ('late') RETURNING seq`);
  t.equal(Number(s1.rows[0]!.seq), 1, 'T1 took seq 1 and has not committed');
  const s2 = await tdb.db.query<{ seq: number }>(`INSERT INTO scratch_log (note) VALUES ('early') RETURNING seq`);
  t.equal(s2.rows[0]!.seq, 2, 'T2 took seq 2 and committed');

  const consumer = new TailConsumer(async (cursor) =>
    (await tdb.db.query<{ seq: number }>('SELECT seq FROM scratch_log WHERE seq > $1 ORDER BY seq', [cursor])).rows.map((r) => r.seq),
  );
  t.same(await consumer.poll(), [2], 'the consumer reading > 0 sees only 2');
  t.same(checkGaps(consumer.observed).missing, [1], 'the checker reports the gap at 1');

  await late.query('COMMIT');
  t.same(await consumer.poll(), [], 'after T1 commits, reading > 2 never returns it');
  t.same(checkGaps(consumer.observed), { missing: [1], repeated: [], cursor: 2 });
  t.same((await tdb.db.query('SELECT seq, note FROM scratch_log ORDER BY seq')).rows, [
    { seq: 1, note: 'late' },
    { seq: 2, note: 'early' },
  ], 'row 1 exists: the consumer lost it');

  // The checker's other verdicts.
  t.same(checkGaps([1, 2, 3, 4]), { missing: [], repeated: [], cursor: 4 });
  t.same(checkGaps([1, 3, 3, 2, 6]), { missing: [2, 4, 5], repeated: [3, 2], cursor: 6 });
  t.same(checkGaps([6, 7], 5), { missing: [], repeated: [], cursor: 7 });
});

t.test('a mutation resent to both processes at once is written once', async (t) => {
  // The same client, reconnected to the other process while its first attempt is still in flight.
  const clientId = newUuid();
  const x = await connect(p1, 'resend', clientId);
  const y = await connect(p2, 'resend', clientId);
  const userId = x.userId;
  const rowsFor = async (mutationId: string) => ({
    events: (await tdb.db.query<{ n: number }>('SELECT count(*)::int AS n FROM change_events WHERE user_id = $1 AND mutation_id = $2', [userId, mutationId])).rows[0]!.n,
    mutations: (await tdb.db.query<{ n: number }>('SELECT count(*)::int AS n FROM mutations WHERE user_id = $1 AND mutation_id = $2', [userId, mutationId])).rows[0]!.n,
  });
  const both = (m: Record<string, unknown>) => Promise.all([x.mutate(m), y.mutate(m)]);

  const docId = newUuid();
  const create = { type: 'create_document', document: { id: docId, content: { title: 'once', n: 0 } }, mutation_id: newUuid() };
  const [c1, c2] = await both(create);
  t.same(c1, c2, 'both replies identical');
  t.match(c1, { type: 'document_created_response', document_id: docId, sync_revision: 1, sequence: 1 });
  t.same(await rowsFor(create.mutation_id), { events: 1, mutations: 1 });

  for (let round = 1; round <= 5; round++) {
    const m = { type: 'update_document', patch: { document_id: docId, patch: [{ op: 'replace', path: '/n', value: round }] }, base_revision: round, mutation_id: newUuid() };
    const [r1, r2] = await both(m);
    t.same(r1, r2, `round ${round}: both replies identical`);
    t.match(r1, { type: 'document_updated_response', sync_revision: round + 1, sequence: round + 1, merged: false });
    t.same(await rowsFor(m.mutation_id), { events: 1, mutations: 1 }, `round ${round}: one change_events row`);
  }

  const del = { type: 'delete_document', document_id: docId, base_revision: 6, mutation_id: newUuid() };
  const [d1, d2] = await both(del);
  t.same(d1, d2);
  t.match(d1, { type: 'document_deleted_response', sync_revision: 7, sequence: 7 });
  t.same(await rowsFor(del.mutation_id), { events: 1, mutations: 1 });

  t.same((await tdb.db.query('SELECT sync_revision, content FROM documents WHERE id = $1', [docId])).rows, [{ sync_revision: 7, content: { title: 'once', n: 5 } }]);
  t.same((await tdb.db.query('SELECT count(*)::int AS n, max(sequence)::int AS top FROM change_events WHERE user_id = $1', [userId])).rows, [{ n: 7, top: 7 }]);
  t.same((await tdb.db.query('SELECT count(*)::int AS n FROM conflicts WHERE user_id = $1', [userId])).rows, [{ n: 0 }]);
});
