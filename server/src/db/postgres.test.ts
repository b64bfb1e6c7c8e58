import t from 'tap';
import pg from 'pg';
import { createTestDatabase } from '../test-support/database.js';

const tdb = await createTestDatabase('postgres_db_test');
t.teardown(() => tdb.drop());

async function terminate(pid: number): Promise<void> {
  const admin = new pg.Client({ connectionString: tdb.url });
  await admin.connect();
  try {
    await admin.query('SELECT pg_terminate_backend($1)', [pid]);
  } finally {
    await admin.end();
  }
}

t.test('a backend terminated mid-transaction fails that transaction and nothing else', async (t) => {
  const failed = await tdb.db
    .transaction(async (tx) => {
      const r = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      await tx.query('INSERT INTO applications (id, name) VALUES (gen_random_uuid(), $1)', ['lost with its transaction']);
      await terminate(r.rows[0]!.pid);
      // The socket error arrives as an 'error' event on the checked-out client: it must not be unhandled.
      await new Promise((resolve) => setTimeout(resolve, 200));
      await tx.query('SELECT 1');
    })
    .then(
      () => null,
      (err: Error) => err,
    );
  t.ok(failed instanceof Error, 'the transaction rejects');
  t.match(failed?.message, /terminat|Connection/i, `with the connection's error (${failed?.message})`);
  const after = await tdb.db.query<{ n: number }>("SELECT count(*)::int AS n FROM applications WHERE name = 'lost with its transaction'");
  t.equal(after.rows[0]!.n, 0, 'the transaction did not commit');
  const again = await tdb.db.transaction((tx) => tx.query<{ one: number }>('SELECT 1 AS one'));
  t.same(again.rows, [{ one: 1 }], 'the pool serves the next transaction on a fresh connection');
});
