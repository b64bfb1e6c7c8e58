import t from 'tap';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createTestDatabase } from '@json-sync/test-support';
import { serverDocs } from '../src/test-support/harness.js';
import { Client, EXAMPLE, line } from '../src/test-support/interactive-client.js';

// The original README's command lines (../shared/seed/snippets/05–07), as a new user types them:
//   sync-server generate-credentials --name "My Application"
//   sync-server serve
//   interactive_client --api-key "rpa_…"
//   interactive_client --database bob --api-key "rpa_…" --user-id "user@example.com"
// `sync-server` is the command npm links into node_modules/.bin; `serve` takes its defaults, so the
// server is on port 8080, where the interactive client looks by default.

const SYNC_SERVER = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'node_modules', '.bin', 'sync-server');
const tdb = await createTestDatabase('seed_commands');
const env = { ...process.env, DATABASE_URL: tdb.url, LOG_LEVEL: 'warn' };
const cwd = mkdtempSync(join(tmpdir(), 'json-sync-seed-'));
t.teardown(async () => {
  await tdb.drop();
  rmSync(cwd, { recursive: true, force: true });
});

const generated = await promisify(execFile)(SYNC_SERVER, ['generate-credentials', '--name', 'My Application'], { env });
const apiKey = /^API Key: (rpa_[0-9a-f]{64})$/m.exec(generated.stdout)?.[1];
const secret = /^Secret: (rps_[0-9a-f]{64})$/m.exec(generated.stdout)?.[1];

t.test('generate-credentials --name "My Application" prints the key pair', async (t) => {
  t.match(generated.stdout, /^Application: My Application$/m);
  t.ok(apiKey, 'an API key');
  t.ok(secret, 'a secret');
});

t.test('serve with no flags, then the interactive client with only --api-key, then --database bob --user-id', async (t) => {
  const server = spawn(SYNC_SERVER, ['serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    server.kill('SIGKILL');
  });
  let out = '';
  server.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  server.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
  const deadline = Date.now() + 20_000;
  while (!/listening on ws:\/\/0\.0\.0\.0:8080\/ws/.test(out)) {
    if (server.exitCode !== null || Date.now() > deadline) throw new Error(`sync-server serve did not listen on 8080 (is the port taken?):\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }

  const first = new Client(['--api-key', apiKey!], cwd, { SYNC_API_SECRET: secret! });
  t.teardown(() => void (first.child.exitCode === null && first.child.kill('SIGKILL')));
  const id = await first.add('add Seed task --priority high');
  await first.run('sync', line('synced: every change is uploaded and caught up'), 20_000);
  first.child.stdin.end('quit\n');
  t.equal(await first.exited, 0);
  const docs = await serverDocs({ tdb });
  t.same([...docs.values()].map((d) => d.title), ['Seed task'], 'the task reached the server');
  const users = await tdb.db.query<{ email: string }>('SELECT email FROM users');
  t.same(users.rows, [{ email: 'user@example.com' }], 'as user@example.com, the default user');

  const bob = new Client(['--database', 'bob', '--api-key', apiKey!, '--user-id', 'user@example.com'], cwd, { SYNC_API_SECRET: secret! });
  t.teardown(() => void (bob.child.exitCode === null && bob.child.kill('SIGKILL')));
  await bob.run('sync', line('synced: every change is uploaded and caught up'), 20_000);
  const list = await bob.list();
  t.same(list.map((l) => l.slice(0, 8)), [id], "bob's database has the same user's task");
  bob.child.stdin.end('quit\n');
  t.equal(await bob.exited, 0);
  t.ok(
    (await promisify(execFile)('ls', [cwd])).stdout.split('\n').includes('bob.db'),
    '--database bob is bob.db in the current directory',
  );
});

t.test('without SYNC_API_SECRET the secret is asked for on the terminal and not echoed', async (t) => {
  // `script` gives the example a real terminal; what it prints there is what a user would see.
  const typed = spawn('script', ['-qfec', `${process.execPath} ${EXAMPLE} --api-key ${apiKey} --server ws://127.0.0.1:9/ws`, '/dev/null'], {
    cwd,
    env: { ...process.env, SYNC_API_SECRET: '' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let screen = '';
  typed.stdout.setEncoding('utf8').on('data', (d: string) => (screen += d));
  const waitFor = async (pattern: RegExp) => {
    const until = Date.now() + 10_000;
    while (!pattern.test(screen)) {
      if (Date.now() > until) throw new Error(`timed out waiting for ${pattern}; screen:\n${screen}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  await waitFor(/API secret \(rps_\.\.\.\): /);
  typed.stdin.write(`${secret}\r`);
  await waitFor(/tasks> /);
  typed.stdin.write('quit\r');
  const code = await new Promise<number | null>((resolve) => typed.on('exit', resolve));
  t.equal(code, 0, 'the client ran and quit');
  t.notMatch(screen, secret!, 'the secret never appeared on the screen');
});
