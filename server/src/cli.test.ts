import t from 'tap';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, runCli, startServer, TestClient, type CliRun, type ServerProcess } from '@json-sync/test-support';

// Every command runs in a scratch directory, so a command that wrongly falls back to the
// embedded database would create ./data there (checked below) instead of in the repository.
const scratch = mkdtempSync(join(tmpdir(), 'cli-test-'));
const tdb = await createTestDatabase('cli_test');
t.teardown(async () => {
  await tdb.drop();
  rmSync(scratch, { recursive: true, force: true });
});

/** Runs `node server/dist/cli.js ...args` in the scratch directory; `databaseUrl: null` runs on the embedded database. */
function cli(args: string[], databaseUrl: string | null = tdb.url, timeoutMs = 30_000): Promise<CliRun> {
  return runCli(args, { databaseUrl, cwd: scratch, timeoutMs });
}

const KEY_LINE = /^API Key: (rpa_[0-9a-f]{64})$/gm;
const SECRET_LINE = /^Secret: (rps_[0-9a-f]{64})$/gm;

function printedCredentials(out: string): { keys: string[]; secrets: string[] } {
  return { keys: [...out.matchAll(KEY_LINE)].map((m) => m[1]!), secrets: [...out.matchAll(SECRET_LINE)].map((m) => m[1]!) };
}

const COMMANDS = ['serve', 'generate-credentials', 'list-credentials', 'revoke-credentials', 'migrate', 'gc-attachments', 'prune-log'];

t.test('--help at top level lists every command and exits 0', async (t) => {
  const r = await cli(['--help']);
  t.equal(r.code, 0);
  t.match(r.stdout, /^Usage: sync-server <command>/m);
  for (const c of COMMANDS) t.match(r.stdout, new RegExp(`^\\s+${c}\\s`, 'm'), `mentions ${c}`);
  t.equal(r.stderr, '');
});

t.test('--help for every command prints its usage and exits 0', async (t) => {
  const runs = await Promise.all(COMMANDS.map((c) => cli([c, '--help'])));
  COMMANDS.forEach((c, i) => {
    const r = runs[i]!;
    t.equal(r.code, 0, `${c} --help exits 0`);
    t.match(r.stdout, new RegExp(`^Usage: sync-server ${c}\\b`, 'm'), `${c} --help prints its usage`);
    t.match(r.stdout, /--data-dir/, `${c} --help lists --data-dir`);
    t.equal(r.stderr, '', `${c} --help writes nothing to stderr`);
  });
  t.match(runs[COMMANDS.indexOf('generate-credentials')]!.stdout, /--name/);
  t.match(runs[COMMANDS.indexOf('serve')]!.stdout, /--port/);
  t.match(runs[COMMANDS.indexOf('prune-log')]!.stdout, /--older-than-days/);
  t.match(runs[COMMANDS.indexOf('gc-attachments')]!.stdout, /--grace-hours/);
});

t.test('wrong command lines print usage on stderr and exit 2', async (t) => {
  const cases: [string, string[]][] = [
    ['no command', []],
    ['unknown command', ['frobnicate']],
    ['unknown flag', ['list-credentials', '--bogus']],
    ['missing flag value at the end', ['generate-credentials', '--name']],
    ['missing required --name', ['generate-credentials']],
    ['extra positional argument', ['list-credentials', 'extra']],
    ['revoke-credentials with two keys', ['revoke-credentials', `rpa_${'a'.repeat(64)}`, `rpa_${'b'.repeat(64)}`]],
    ['non-numeric --port', ['serve', '--port', 'eighty']],
    ['prune-log without --older-than-days', ['prune-log']],
  ];
  const before = await tdb.db.query<{ n: number }>('SELECT count(*)::int AS n FROM api_credentials');
  const runs = await Promise.all(cases.map(([, args]) => cli(args, tdb.url, 15_000)));
  cases.forEach(([name, args], i) => {
    const r = runs[i]!;
    t.equal(r.code, 2, `${name} (${args.join(' ')}) exits 2`);
    t.match(r.stderr, /Usage: sync-server/, `${name}: usage on stderr`);
    t.equal(r.stdout, '', `${name}: nothing on stdout`);
  });
  const after = await tdb.db.query<{ n: number }>('SELECT count(*)::int AS n FROM api_credentials');
  t.equal(after.rows[0]!.n, before.rows[0]!.n, 'a refused generate-credentials created nothing');
  t.notOk(existsSync(join(scratch, 'data')), 'no embedded database was opened');
});

t.test('credentials on PostgreSQL: generate, list, revoke', async (t) => {
  const gen = await cli(['generate-credentials', '--name', 'cli app']);
  t.equal(gen.code, 0, gen.stderr);
  const { keys, secrets } = printedCredentials(gen.stdout);
  t.equal(keys.length, 1, 'one API Key line');
  t.equal(secrets.length, 1, 'one Secret line');
  const [apiKey, secret] = [keys[0]!, secrets[0]!];
  t.equal(gen.stdout.split(secret).length - 1, 1, 'the secret is printed exactly once');
  const row = await tdb.db.query<{ secret: string; name: string; active: boolean }>('SELECT secret, name, active FROM api_credentials WHERE api_key = $1', [apiKey]);
  t.strictSame(row.rows, [{ secret, name: 'cli app', active: true }], 'the printed pair is the stored pair');

  const list = await cli(['list-credentials']);
  t.equal(list.code, 0, list.stderr);
  const line = list.stdout.split('\n').find((l) => l.includes(apiKey));
  t.ok(line, 'the key is listed');
  t.match(line, /\bactive\b/);
  t.match(line, /cli app/);
  t.notOk(list.stdout.includes(secret), 'the secret is never listed');
  t.notMatch(list.stdout, /rps_/, 'no secret of any key is listed');

  const unknownKey = `rpa_${randomBytes(32).toString('hex')}`;
  const unknown = await cli(['revoke-credentials', unknownKey]);
  t.equal(unknown.code, 1, 'revoking an unknown key exits 1');
  t.match(unknown.stderr, /no such API key/i);
  t.ok(unknown.stderr.includes(unknownKey), 'the message names the key');
  t.notMatch(unknown.stderr, /Usage:/, 'not a usage error');

  const revoke = await cli(['revoke-credentials', apiKey]);
  t.equal(revoke.code, 0, revoke.stderr);
  t.ok(revoke.stdout.includes(apiKey), 'names the revoked key');
  const after = await tdb.db.query<{ active: boolean; revoked: boolean }>('SELECT active, revoked_at IS NOT NULL AS revoked FROM api_credentials WHERE api_key = $1', [
    apiKey,
  ]);
  t.strictSame(after.rows, [{ active: false, revoked: true }]);
  const list2 = await cli(['list-credentials']);
  t.equal(list2.code, 0, list2.stderr);
  const line2 = list2.stdout.split('\n').find((l) => l.includes(apiKey));
  t.match(line2, /\brevoked\b/, 'the list shows the key revoked');
  t.notMatch(line2, /\bactive\b/);
});

t.test('migrate on an empty database creates the schema and is idempotent', async (t) => {
  const empty = await createTestDatabase('cli_migrate', { empty: true });
  t.teardown(() => empty.drop());
  const tables = async () =>
    (await empty.db.query<{ t: string }>("SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1")).rows.map((r) => r.t);
  t.strictSame(await tables(), [], 'starts empty');

  const first = await cli(['migrate'], empty.url);
  t.equal(first.code, 0, first.stderr);
  const schema = await tables();
  for (const table of ['applications', 'api_credentials', 'users', 'documents', 'change_events', 'conflicts', 'client_acks', 'auth_replays', 'schema_migrations']) {
    t.ok(schema.includes(table), `created ${table}`);
  }
  const applied = (await empty.db.query('SELECT version, applied_at FROM schema_migrations ORDER BY version')).rows;
  t.ok(applied.length >= 1, 'records applied migrations');

  const second = await cli(['migrate'], empty.url);
  t.equal(second.code, 0, second.stderr);
  t.strictSame(await tables(), schema, 'the second run changes no tables');
  t.strictSame((await empty.db.query('SELECT version, applied_at FROM schema_migrations ORDER BY version')).rows, applied, 'the second run applies nothing');
});

t.test('prune-log with --older-than-days runs', async (t) => {
  const r = await cli(['prune-log', '--older-than-days', '30']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /Removed 0 change-log entries/);
});

// PGlite takes seconds per open, so the embedded-database behaviour shares one directory and
// opens it as few times as possible: serve (first start), admin command refused, serve again,
// then generate/list once the server is stopped.
t.test('embedded database', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'cli-embedded-'));
  const running: ServerProcess[] = [];
  t.teardown(async () => {
    await Promise.all(running.map((s) => s.stop()));
    rmSync(dataDir, { recursive: true, force: true });
  });

  const first = await startServer({ dataDir, timeoutMs: 60_000 });
  running.push(first);
  const printed = printedCredentials(first.stdout());
  t.equal(printed.keys.length, 1, 'first start prints one API Key line');
  t.equal(printed.secrets.length, 1, 'first start prints one Secret line');
  const defaultKey = printed.keys[0]!;
  const defaultSecret = printed.secrets[0]!;

  await t.test('the printed credentials authenticate', async (t) => {
    const c = await TestClient.connect(first.url, { email: 'embedded@example.com', apiKey: defaultKey, secret: defaultSecret });
    t.ok(c.userId, 'auth_success');
    c.close();
  });

  await t.test('an admin command while serve holds the directory says the database is in use', async (t) => {
    const r = await cli(['list-credentials', '--data-dir', dataDir], null);
    t.equal(r.code, 1);
    t.match(r.stderr, /in use by (another )?process/i);
    t.ok(r.stderr.includes(String(first.child.pid)), 'names the holding process');
    t.match(r.stderr, /stop (that|the) server|server is stopped/i, 'says the server must be stopped');
    t.notMatch(r.stderr, /Usage:/, 'not a usage error');
  });

  const stopped = await first.stop('SIGTERM');
  running.length = 0;
  t.equal(stopped.code, 0, 'serve exits 0 on SIGTERM');

  const secondStart = await startServer({ dataDir, timeoutMs: 60_000 }).catch((err: Error) => err);
  await t.test('the second start does not print credentials again', async (t) => {
    if (secondStart instanceof Error) return t.fail(`second start failed: ${secondStart.message}`);
    running.push(secondStart);
    t.notMatch(secondStart.stdout(), /API Key:|Secret:/);
    const s = await secondStart.stop('SIGTERM');
    running.length = 0;
    t.equal(s.code, 0);
  });

  await t.test('generate-credentials then list-credentials on the stopped directory', async (t) => {
    const gen = await cli(['generate-credentials', '--name', 'embedded app', '--data-dir', dataDir], null);
    t.equal(gen.code, 0, gen.stderr);
    const made = printedCredentials(gen.stdout);
    t.equal(made.keys.length, 1);
    t.equal(made.secrets.length, 1);
    const list = await cli(['list-credentials', '--data-dir', dataDir], null);
    t.equal(list.code, 0, list.stderr);
    t.ok(list.stdout.includes(made.keys[0]!), 'lists the generated key');
    t.ok(list.stdout.includes(defaultKey), 'lists the key serve generated');
    t.equal(list.stdout.match(/rpa_[0-9a-f]{64}/g)?.length, 2, 'the second start generated no further pair');
    t.notMatch(list.stdout, /rps_/, 'no secrets listed');
  });
});
