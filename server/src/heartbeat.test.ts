import t from 'tap';
import pg from 'pg';
import { startTestServer, TestClient, type SqlPool } from '@json-sync/test-support';

/** Whether a query on the change log is waiting for a lock (polled up to 5 s). */
async function lockWaiter(db: SqlPool): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    const r = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%FROM change_events%'`);
    if (r.rows[0]!.n > 0) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

t.test('a ping is answered at once while the same connection waits on the database for a page', async (t) => {
  const ts = await startTestServer();
  t.teardown(() => ts.teardown());
  const id = { email: 'hb@example.com', apiKey: ts.apiKey, secret: ts.secret };
  const c = await TestClient.connect(ts.url, id);
  t.teardown(() => c.close());
  await c.create({ title: 'one' });

  // Another session holds the change log: the page request below waits on it.
  const locker = new pg.Client({ connectionString: ts.tdb.url });
  await locker.connect();
  t.teardown(() => locker.end());
  await locker.query('BEGIN');
  await locker.query('LOCK TABLE change_events IN ACCESS EXCLUSIVE MODE');

  const page = c.next((m) => m.type === 'changes', 30_000);
  c.send({ type: 'get_changes_since', last_sequence: 0 });
  // The page request reaches the server first and is waiting when the ping comes.
  t.ok(await lockWaiter(ts.tdb.db), 'the page request waits on the lock');

  await c.ping();
  t.same(c.all('changes'), [], 'the pong came while the page was still owed');

  await locker.query('COMMIT');
  const changes = await page;
  t.equal(changes.type === 'changes' && changes.events.length, 1, 'the page follows once the database answers');

  // Requests other than ping keep their turn: an ack sent behind a slow page is answered after it.
  await locker.query('BEGIN');
  await locker.query('LOCK TABLE change_events IN ACCESS EXCLUSIVE MODE');
  c.send({ type: 'get_changes_since', last_sequence: 0 });
  c.send({ type: 'ack_changes', up_to_sequence: 1 });
  t.ok(await lockWaiter(ts.tdb.db), 'the second page request waits on the lock');
  await c.ping();
  t.same(c.all('changes_acknowledged'), [], 'the ack waits behind the page');
  await locker.query('COMMIT');
  await c.next((m) => m.type === 'changes_acknowledged');
  t.equal(c.all('changes').length, 1, 'the page came before the ack');
});
