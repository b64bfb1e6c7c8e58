import t from 'tap';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, startTestServer, TestClient } from '@json-sync/test-support';
import { pgliteCopy } from './test-support/pglite-template.js';

// `serve`'s settings from flags and environment variables: each flag has its variable, a flag
// wins, a wrong value in a variable is exit 2 naming it, and the configuration printed at start
// never shows the database password.

const scratch = mkdtempSync(join(tmpdir(), 'serve-config-test-'));
t.teardown(() => rmSync(scratch, { recursive: true, force: true }));

const VARIABLES: [flag: string, env: string][] = [
  ['--host', 'SYNC_HOST'],
  ['--port', 'SYNC_PORT'],
  ['--tls-cert', 'SYNC_TLS_CERT'],
  ['--tls-key', 'SYNC_TLS_KEY'],
  ['--auth-failure-limit', 'SYNC_AUTH_FAILURE_LIMIT'],
  ['--auth-timeout-seconds', 'SYNC_AUTH_TIMEOUT_SECONDS'],
  ['--max-outbound-mb', 'SYNC_MAX_OUTBOUND_MB'],
  ['--query-timeout-ms', 'SYNC_QUERY_TIMEOUT_MS'],
  ['--log-level', 'LOG_LEVEL'],
  ['--data-dir', 'SYNC_DATA_DIR'],
  ['--max-attachment-bytes', 'SYNC_MAX_ATTACHMENT_BYTES'],
  ['--attachment-quota-bytes', 'SYNC_ATTACHMENT_QUOTA_BYTES'],
  ['--attachment-store', 'SYNC_ATTACHMENT_STORE'],
  ['--attachment-gc-interval-seconds', 'SYNC_ATTACHMENT_GC_INTERVAL_SECONDS'],
  ['--attachment-grace-hours', 'SYNC_ATTACHMENT_GRACE_HOURS'],
  ['--upload-expiry-hours', 'SYNC_UPLOAD_EXPIRY_HOURS'],
];

t.test('serve --help names the environment variable of every flag', async (t) => {
  const r = await runCli(['serve', '--help'], { databaseUrl: null, cwd: scratch });
  t.equal(r.code, 0);
  for (const [flag, env] of VARIABLES) t.match(r.stdout, new RegExp(`^ {2}${flag} .*\\benv ${env}\\b`, 'm'), `${flag}: ${env}`);
  t.match(r.stdout, /DATABASE_URL/);
});

t.test('variables are read, flags win over them, and the printed configuration says where each value came from', async (t) => {
  const password = 'pw-never-printed-0451';
  const ts = await startTestServer({
    prefix: 'serve_config',
    // PostgreSQL trusts local connections here, so a password in the URL is carried but never asked for.
    serverDatabaseUrl: (url) => {
      const u = new URL(url);
      u.password = password;
      u.searchParams.set('password', password);
      return u.toString();
    },
    env: {
      // The fixture passes --host 127.0.0.1 --port 0: these must lose, the bad port value unread.
      SYNC_HOST: 'host.invalid',
      SYNC_PORT: 'eighty',
      SYNC_AUTH_TIMEOUT_SECONDS: '1',
      SYNC_AUTH_FAILURE_LIMIT: '3',
      SYNC_MAX_OUTBOUND_MB: '',
      SYNC_QUERY_TIMEOUT_MS: '1500',
      LOG_LEVEL: 'info',
      SYNC_ATTACHMENT_QUOTA_BYTES: '5000',
    },
    args: ['--auth-failure-limit', '7'],
  });
  t.teardown(() => ts.teardown());
  const out = ts.server.stdout();
  const setting = (name: string) => new RegExp(`^ {2}${name} +(.*?) {2}\\[(.+)\\]$`, 'm').exec(out)?.slice(1);
  t.strictSame(setting('host'), ['127.0.0.1', '--host']);
  t.strictSame(setting('port'), ['0', '--port']);
  t.strictSame(setting('auth-timeout-seconds'), ['1', 'SYNC_AUTH_TIMEOUT_SECONDS']);
  t.strictSame(setting('auth-failure-limit'), ['7 per address per minute', '--auth-failure-limit']);
  t.strictSame(setting('max-outbound-mb'), ['256', 'default'], 'an empty variable counts as unset');
  t.strictSame(setting('query-timeout-ms'), ['1500', 'SYNC_QUERY_TIMEOUT_MS']);
  t.strictSame(setting('log-level'), ['info', 'LOG_LEVEL']);
  t.strictSame(setting('tls'), ['off: ws:// and http:// only', 'default']);
  t.strictSame(setting('max-attachment-bytes'), ['1073741824', 'default']);
  t.strictSame(setting('attachment-quota-bytes'), ['5000', 'SYNC_ATTACHMENT_QUOTA_BYTES']);
  t.strictSame(setting('attachment-store'), ['postgres (the database)', 'default']);
  t.strictSame(setting('attachment-gc'), ['every 3600 s, grace 24 h, unfinished uploads kept 168 h', 'default']);
  const database = setting('database');
  t.match(database?.[0], /^postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:5432\/serve_config_[0-9a-f]+\?password=\*\*\*$/, 'the password shown masked, in the URL and as a parameter');
  t.equal(database?.[1], 'DATABASE_URL');
  t.notOk((out + ts.server.stderr()).includes(password), 'the password is nowhere in the output');

  // SYNC_AUTH_TIMEOUT_SECONDS=1 is in force: a connection that does not authenticate is closed after a second.
  const idle = await TestClient.open(ts.url);
  const opened = Date.now();
  const closed = await idle.closed;
  t.equal(closed.code, 1008);
  t.ok(Date.now() - opened < 3000, `closed after ${Date.now() - opened} ms`);
});

t.test('a wrong value in a variable: exit 2, naming the variable and its value, before anything is printed or opened', async (t) => {
  const cases: [string, string, RegExp][] = [
    ['SYNC_PORT', 'eighty', /SYNC_PORT="eighty": must be a whole number from 0 to 65535/],
    ['SYNC_PORT', '70000', /SYNC_PORT="70000": must be a whole number from 0 to 65535/],
    ['SYNC_AUTH_FAILURE_LIMIT', '0', /SYNC_AUTH_FAILURE_LIMIT="0": must be a whole number from 1/],
    ['SYNC_AUTH_TIMEOUT_SECONDS', '1.5', /SYNC_AUTH_TIMEOUT_SECONDS="1.5": must be a whole number/],
    ['SYNC_MAX_OUTBOUND_MB', '-1', /SYNC_MAX_OUTBOUND_MB="-1": must be a whole number/],
    ['SYNC_QUERY_TIMEOUT_MS', '0', /SYNC_QUERY_TIMEOUT_MS="0": must be a whole number from 1/],
    ['SYNC_MAX_ATTACHMENT_BYTES', '0', /SYNC_MAX_ATTACHMENT_BYTES="0": must be a whole number from 1/],
    ['SYNC_ATTACHMENT_QUOTA_BYTES', '-5', /SYNC_ATTACHMENT_QUOTA_BYTES="-5": must be a whole number from 0/],
    ['SYNC_ATTACHMENT_GC_INTERVAL_SECONDS', 'often', /SYNC_ATTACHMENT_GC_INTERVAL_SECONDS="often": must be a whole number/],
    ['SYNC_ATTACHMENT_STORE', ' ', /SYNC_ATTACHMENT_STORE=" ": must be postgres or a directory/],
    ['LOG_LEVEL', 'loud', /LOG_LEVEL="loud": must be one of fatal, error, warn, info, debug, trace, silent/],
  ];
  const runs = await Promise.all(cases.map(([name, value]) => runCli(['serve'], { databaseUrl: null, cwd: scratch, env: { [name]: value }, timeoutMs: 15_000 })));
  cases.forEach(([name, value, message], i) => {
    const r = runs[i]!;
    t.equal(r.code, 2, `${name}=${value}: exit 2`);
    t.match(r.stderr, message, `${name}=${value}: ${r.stderr.split('\n')[0]}`);
    t.match(r.stderr, /See `sync-server serve --help`/);
    t.equal(r.stdout, '', `${name}=${value}: nothing printed`);
  });
  const flag = await runCli(['serve', '--port', 'eighty'], { databaseUrl: null, cwd: scratch });
  t.equal(flag.code, 2);
  t.match(flag.stderr, /--port must be a whole number from 0 to 65535\n\nUsage: sync-server serve/, 'a flag is a wrong command line: usage follows');
});

t.test('SYNC_DATA_DIR places the embedded database, for the admin commands too; --data-dir wins over it', async (t) => {
  const dataDir = await pgliteCopy();
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const gen = await runCli(['generate-credentials', '--name', 'env dir'], { databaseUrl: null, cwd: scratch, env: { SYNC_DATA_DIR: dataDir } });
  t.equal(gen.code, 0, gen.stderr);
  const key = /^API Key: (rpa_[0-9a-f]{64})$/m.exec(gen.stdout)?.[1];
  const list = await runCli(['list-credentials', '--data-dir', dataDir], { databaseUrl: null, cwd: scratch, env: { SYNC_DATA_DIR: join(scratch, 'elsewhere') } });
  t.equal(list.code, 0, list.stderr);
  t.ok(key && list.stdout.includes(key), 'the key generated through SYNC_DATA_DIR is listed through --data-dir');
  t.notOk(existsSync(join(scratch, 'data')) || existsSync(join(scratch, 'elsewhere')), 'no other embedded database was made');
});

t.test('gc-attachments: its flags, their variables, and a wrong value', async (t) => {
  const help = await runCli(['gc-attachments', '--help'], { databaseUrl: null, cwd: scratch });
  t.equal(help.code, 0);
  for (const [flag, env] of [
    ['--grace-hours', 'SYNC_ATTACHMENT_GRACE_HOURS'],
    ['--upload-expiry-hours', 'SYNC_UPLOAD_EXPIRY_HOURS'],
    ['--attachment-store', 'SYNC_ATTACHMENT_STORE'],
  ]) {
    t.match(help.stdout, new RegExp(`^ {2}${flag} .*\\benv ${env}\\b`, 'm'), `${flag}: ${env}`);
  }
  const wrong = await runCli(['gc-attachments', '--grace-hours', 'soon'], { databaseUrl: null, cwd: scratch });
  t.equal(wrong.code, 2);
  t.match(wrong.stderr, /--grace-hours must be a whole number from 0 to 100000/);
  t.notOk(existsSync(join(scratch, 'data')), 'no database was opened');
});
