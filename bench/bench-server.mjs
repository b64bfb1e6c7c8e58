// Shared by the benchmarks: a fresh PostgreSQL database with API credentials and a real server on a
// random loopback port, torn down (server stopped, database dropped) by stop(), even after a failure.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'server', 'dist', 'cli.js');
const base = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function admin(sql) {
  const c = new pg.Client({ connectionString: base });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/** The PostgreSQL server the benchmarks run against (host:port, for printing). */
export const databaseHost = new URL(base).host;

/**
 * Creates the database and credentials, then starts `sync-server serve`. `nodeArgs` go to the
 * server's node (e.g. --cpu-prof). Returns its addresses and a stop() that cleans everything up.
 */
export async function startBenchServer(name, { nodeArgs = [] } = {}) {
  const dbName = `sync_${name}_${randomBytes(4).toString('hex')}`;
  const dbUrl = Object.assign(new URL(base), { pathname: `/${dbName}` }).toString();
  await admin(`CREATE DATABASE ${dbName}`);
  let server;
  const stop = async () => {
    if (server && server.exitCode === null && server.signalCode === null) {
      const exited = new Promise((r) => server.once('exit', r));
      server.kill('SIGTERM');
      const timer = setTimeout(() => server.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    await admin(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch((err) => console.error(`could not drop ${dbName}: ${err.message}`));
  };
  try {
    const env = { ...process.env, DATABASE_URL: dbUrl };
    execFileSync(process.execPath, [cli, 'migrate'], { env });
    const creds = execFileSync(process.execPath, [cli, 'generate-credentials', '--name', name], { env }).toString();
    server = spawn(process.execPath, [...nodeArgs, cli, 'serve', '--host', '127.0.0.1', '--port', '0'], {
      env: { ...env, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const port = await new Promise((resolve, reject) => {
      let out = '';
      server.stdout.on('data', (d) => {
        out += d;
        const m = /listening on ws:\/\/[^:]+:(\d+)\/ws/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      server.on('exit', (code) => reject(new Error(`server exited ${code}`)));
    });
    return {
      url: `ws://127.0.0.1:${port}/ws`,
      httpUrl: `http://127.0.0.1:${port}`,
      apiKey: /API Key: (\S+)/.exec(creds)[1],
      secret: /Secret: (\S+)/.exec(creds)[1],
      dbUrl,
      stopServer: async () => {
        if (server.exitCode !== null || server.signalCode !== null) return;
        const exited = new Promise((r) => server.once('exit', r));
        server.kill('SIGTERM');
        await exited;
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
