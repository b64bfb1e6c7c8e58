import t from 'tap';
import { createTestDatabase, runCli } from '@json-sync/test-support';
import { createLogger } from '../logger.js';
import { maskDatabaseUrl } from '../serve-config.js';
import { parseHosts } from './hosts.js';
import { PostgresDatabase } from './postgres.js';

t.test("libpq's host list becomes one URL per host, in order, without target_session_attrs", async (t) => {
  t.same(parseHosts('postgres://u:p%40ss@h1:5432,h2:5433/db?target_session_attrs=read-write&sslmode=disable'), {
    targets: ['postgres://u:p%40ss@h1:5432/db?sslmode=disable', 'postgres://u:p%40ss@h2:5433/db?sslmode=disable'],
    readWrite: true,
  });
  t.same(parseHosts('postgresql://h1,[::1]:6432/db?target_session_attrs=primary'), { targets: ['postgresql://h1/db', 'postgresql://[::1]:6432/db'], readWrite: true });
  t.same(parseHosts('postgres://u@h/db'), { targets: ['postgres://u@h/db'], readWrite: false }, 'one host: as given');
  t.same(parseHosts('host=/tmp dbname=x'), { targets: ['host=/tmp dbname=x'], readWrite: false }, "libpq's key=value form: as given");
  t.throws(() => parseHosts('postgres://h1,h2/db?target_session_attrs=standby'), /target_session_attrs=standby is not supported/);
  t.equal(maskDatabaseUrl('postgres://u:secret@h1:5432,h2:5432/db?target_session_attrs=read-write'), 'postgres://u:***@h1:5432,h2:5432/db?target_session_attrs=read-write');
});

t.test('a host list: a dead first host is skipped, the CLI and the pool use the next one', async (t) => {
  const tdb = await createTestDatabase('hosts_test');
  t.teardown(() => tdb.drop());
  const live = new URL(tdb.url);
  // Port 1 on loopback: nothing listens there, the connection is refused at once.
  const dead = 1;
  const url = `postgres://${live.username}@127.0.0.1:${dead},${live.host}${live.pathname}?target_session_attrs=read-write`;

  const migrate = await runCli(['migrate'], { databaseUrl: url });
  t.equal(migrate.code, 0, `sync-server migrate exits 0 on a host list (${migrate.stderr.trim()})`);

  const db = new PostgresDatabase(url, createLogger('silent'), 2);
  t.teardown(() => db.close());
  const r = await db.query<{ port: number }>('SELECT inet_server_port() AS port');
  t.equal(r.rows[0]!.port, Number(live.port || 5432), 'queries go to the live host');

  const none = new PostgresDatabase(`postgres://postgres@127.0.0.1:${dead}/x?target_session_attrs=read-write`, createLogger('silent'), 2);
  await t.rejects(none.query('SELECT 1'), /no host of DATABASE_URL accepts writes/, 'no primary at start-up is an error naming the hosts');
  await none.close();
});
