import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * The server build the tests run: the built CLI of the installed @json-sync/server package (this
 * checkout's workspace), unless SYNC_SERVER_CLI names another (e.g. a build of another revision).
 * The fixture only ever spawns it: nothing here imports the server's code.
 */
export const CLI = process.env.SYNC_SERVER_CLI || join(dirname(createRequire(import.meta.url).resolve('@json-sync/server/package.json')), 'dist', 'cli.js');

export interface ServerProcess {
  child: ChildProcess;
  port: number;
  /** ws://127.0.0.1:PORT/ws, or wss:// when the server was given a certificate. */
  url: string;
  /** http://127.0.0.1:PORT, or https://. */
  httpUrl: string;
  /** http://127.0.0.1:PORT/health of the health-check listener, when started with `--health-port`. */
  healthUrl: string | undefined;
  stdout: () => string;
  stderr: () => string;
  /** Sends a signal and resolves with the exit code (null when killed by a signal). */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
}

export interface StartOptions {
  databaseUrl?: string;
  dataDir?: string;
  port?: number;
  args?: string[];
  env?: Record<string, string>;
  /** Flags for the server's own node (e.g. --cpu-prof). */
  nodeArgs?: string[];
  /**
   * Start the server detached, writing its output to this file, so it outlives the process that
   * started it (a ctest fixture). Stop it with `stopDetached(pid)`.
   */
  detachedLog?: string;
  timeoutMs?: number;
}

const LISTENING = /listening on (wss?):\/\/[^:]+:(\d+)\/ws/;
/** Printed before the listening line by a server given `--health-port`. */
const HEALTH = /^health checks on http:\/\/[^:]+:(\d+)\/health$/m;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Signals a server started with `detachedLog` and waits (up to 10 s, then SIGKILL) until it is gone. */
export async function stopDetached(pid: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  try {
    process.kill(pid, signal);
  } catch {
    return;
  }
  const deadline = Date.now() + 10_000;
  while (alive(pid)) {
    if (Date.now() > deadline) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        return;
      }
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Starts the real `sync-server serve` on a random loopback port and waits until it listens. */
export function startServer(opts: StartOptions = {}): Promise<ServerProcess> {
  const args = [
    ...(opts.nodeArgs ?? []),
    CLI,
    'serve',
    '--host',
    '127.0.0.1',
    '--port',
    String(opts.port ?? 0),
    ...(opts.dataDir ? ['--data-dir', opts.dataDir] : []),
    ...(opts.args ?? []),
  ];
  const env: Record<string, string> = { ...(process.env as Record<string, string>), LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn', ...opts.env };
  if (opts.databaseUrl) env.DATABASE_URL = opts.databaseUrl;
  else delete env.DATABASE_URL;
  return opts.detachedLog ? startDetached(args, env, opts.detachedLog, opts.timeoutMs) : startAttached(args, env, opts.timeoutMs);
}

/** The handle of a server whose output said `listening on ws://…` (or wss:// with TLS): `listening` is that match. */
function handle(child: ChildProcess, listening: RegExpExecArray, out: () => string, err: () => string, stop: ServerProcess['stop']): ServerProcess {
  const [, scheme, port] = listening;
  const http = scheme === 'wss' ? 'https' : 'http';
  const health = HEALTH.exec(out())?.[1];
  const healthUrl = health ? `http://127.0.0.1:${health}/health` : undefined;
  return { child, port: Number(port), url: `${scheme}://127.0.0.1:${port}/ws`, httpUrl: `${http}://127.0.0.1:${port}`, healthUrl, stdout: out, stderr: err, stop };
}

function startAttached(args: string[], env: Record<string, string>, timeoutMs = 30_000): Promise<ServerProcess> {
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d;
    if (process.env.TEST_SERVER_STDERR) process.stderr.write(d);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start in time\nstdout: ${out}\nstderr: ${err}`));
    }, timeoutMs);
    const onData = () => {
      const m = LISTENING.exec(out);
      if (!m) return;
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      resolve(
        handle(
          child,
          m,
          () => out,
          () => err,
          async (signal: NodeJS.Signals = 'SIGTERM') => {
            const t0 = Date.now();
            if (child.exitCode === null && child.signalCode === null) child.kill(signal);
            const r = await exited;
            return { ...r, ms: Date.now() - t0 };
          },
        ),
      );
    };
    child.stdout!.on('data', onData);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code ?? signal}) before listening\nstdout: ${out}\nstderr: ${err}`));
    });
  });
}

async function startDetached(args: string[], env: Record<string, string>, logFile: string, timeoutMs = 30_000): Promise<ServerProcess> {
  const fd = openSync(logFile, 'w');
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', fd, fd], detached: true });
  child.unref();
  closeSync(fd);
  const pid = child.pid!;
  const log = () => readFileSync(logFile, 'utf8');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = LISTENING.exec(log());
    if (m) {
      return handle(child, m, log, log, async (signal: NodeJS.Signals = 'SIGTERM') => {
        const t0 = Date.now();
        await stopDetached(pid, signal);
        return { code: null, signal, ms: Date.now() - t0 };
      });
    }
    if (!alive(pid) || Date.now() > deadline) {
      await stopDetached(pid, 'SIGKILL');
      throw new Error(`server did not start:\n${log()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
