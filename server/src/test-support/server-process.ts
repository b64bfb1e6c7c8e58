import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'cli.js');

export interface ServerProcess {
  child: ChildProcess;
  port: number;
  url: string;
  httpUrl: string;
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
  timeoutMs?: number;
}

/** Starts the real `sync-server serve` on a random loopback port and waits until it listens. */
export function startServer(opts: StartOptions = {}): Promise<ServerProcess> {
  const args = [CLI, 'serve', '--host', '127.0.0.1', '--port', String(opts.port ?? 0), ...(opts.dataDir ? ['--data-dir', opts.dataDir] : []), ...(opts.args ?? [])];
  const env: Record<string, string> = { ...(process.env as Record<string, string>), LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn', ...opts.env };
  if (opts.databaseUrl) env.DATABASE_URL = opts.databaseUrl;
  else delete env.DATABASE_URL;
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
    }, opts.timeoutMs ?? 30_000);
    const onData = () => {
      const m = /listening on ws:\/\/[^:]+:(\d+)\/ws/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      const port = Number(m[1]);
      resolve({
        child,
        port,
        url: `ws://127.0.0.1:${port}/ws`,
        httpUrl: `http://127.0.0.1:${port}`,
        stdout: () => out,
        stderr: () => err,
        async stop(signal: NodeJS.Signals = 'SIGTERM') {
          const t0 = Date.now();
          if (child.exitCode === null && child.signalCode === null) child.kill(signal);
          const r = await exited;
          return { ...r, ms: Date.now() - t0 };
        },
      });
    };
    child.stdout!.on('data', onData);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code ?? signal}) before listening\nstdout: ${out}\nstderr: ${err}`));
    });
  });
}
