// ctest fixture: `start ENVFILE` creates a test database, API credentials and a real server on a
// random loopback port, and writes them to ENVFILE for the C/C++ tests; `stop ENVFILE` undoes it.
import { spawn, execFileSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import pg from 'pg';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = join(root, 'server', 'dist', 'cli.js');
const [command, envFile] = process.argv.slice(2);
const base = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function admin(sql) {
  const c = new pg.Client({ connectionString: base });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

function readEnv(file) {
  return Object.fromEntries(readFileSync(file, 'utf8').trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

if (command === 'start') {
  const name = `sync_native_test_${randomBytes(5).toString('hex')}`;
  await admin(`CREATE DATABASE ${name}`);
  const url = Object.assign(new URL(base), { pathname: `/${name}` }).toString();
  const env = { ...process.env, DATABASE_URL: url, LOG_LEVEL: 'warn' };
  execFileSync(process.execPath, [cli, 'migrate'], { env });
  const creds = execFileSync(process.execPath, [cli, 'generate-credentials', '--name', 'native tests'], { env }).toString();
  const logFile = `${envFile}.log`;
  const out = openSync(logFile, 'w');
  const child = spawn(process.execPath, [cli, 'serve', '--host', '127.0.0.1', '--port', '0'], { env, stdio: ['ignore', out, out], detached: true });
  child.unref();
  closeSync(out);
  const deadline = Date.now() + 30_000;
  let port;
  while (!port) {
    if (Date.now() > deadline) throw new Error(`server did not start:\n${readFileSync(logFile, 'utf8')}`);
    port = /listening on ws:\/\/[^:]+:(\d+)\/ws/.exec(readFileSync(logFile, 'utf8'))?.[1];
    if (!port) await new Promise((r) => setTimeout(r, 100));
  }
  writeFileSync(
    envFile,
    [
      `SERVER_URL=ws://127.0.0.1:${port}/ws`,
      `API_KEY=${/API Key: (\S+)/.exec(creds)[1]}`,
      `API_SECRET=${/Secret: (\S+)/.exec(creds)[1]}`,
      `DATABASE_URL=${url}`,
      `DATABASE_NAME=${name}`,
      `SERVER_PID=${child.pid}`,
      `SERVER_PORT=${port}`,
      `CLI=${cli}`,
      '',
    ].join('\n'),
  );
  console.log(`server on port ${port}, database ${name}`);
} else if (command === 'stop') {
  const env = readEnv(envFile);
  try {
    process.kill(Number(env.SERVER_PID), 'SIGTERM');
  } catch {
    // already stopped
  }
  await new Promise((r) => setTimeout(r, 500));
  await admin(`DROP DATABASE IF EXISTS ${env.DATABASE_NAME} WITH (FORCE)`);
  rmSync(envFile, { force: true });
} else {
  console.error('usage: server-fixture.mjs start|stop ENVFILE');
  process.exit(2);
}
