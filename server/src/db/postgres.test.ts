import t from 'tap';
import { createTestDatabase } from '@json-sync/test-support';
import { createLogger } from '../logger.js';
import { PostgresDatabase } from './postgres.js';

const tdb = await createTestDatabase('postgres_db_test');
const db = new PostgresDatabase(tdb.url, createLogger('silent'), 4);
t.teardown(async () => {
  await db.close();
  await tdb.drop();
});

t.test('a backend terminated mid-transaction fails that transaction and nothing else', async (t) => {
  const failed = await db
    .transaction(async (tx) => {
      const r = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      await tx.query('INSERT INTO applications (id, name) VALUES (gen_random_uuid(), $1)', ['lost with its transaction']);
      await tdb.db.query('SELECT pg_terminate_backend($1)', [r.rows[0]!.pid]);
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
  const after = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM applications WHERE name = 'lost with its transaction'");
  t.equal(after.rows[0]!.n, 0, 'the transaction did not commit');
  const again = await db.transaction((tx) => tx.query<{ one: number }>('SELECT 1 AS one'));
  t.same(again.rows, [{ one: 1 }], 'the pool serves the next transaction on a fresh connection');
});
