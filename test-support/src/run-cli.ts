import { spawn } from 'node:child_process';
import { CLI } from './server-process.js';

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** DATABASE_URL for the command; `null` runs it on the embedded database (DATABASE_URL unset). */
  databaseUrl: string | null;
  cwd?: string;
  env?: Record<string, string>;
  /** A command that should have ended but serves instead is killed after this long (default 30 s). */
  timeoutMs?: number;
}

/** Runs `sync-server …args` (the build the tests use) to its end and returns its exit code and output. */
export function runCli(args: string[], opts: CliOptions): Promise<CliRun> {
  const env: Record<string, string> = { ...(process.env as Record<string, string>), LOG_LEVEL: 'warn', ...opts.env };
  if (opts.databaseUrl) env.DATABASE_URL = opts.databaseUrl;
  else delete env.DATABASE_URL;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: opts.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The key pair `generate-credentials` (or a first start on an embedded database) printed. */
export function credentialsFrom(stdout: string): { apiKey: string; secret: string } {
  const apiKey = /^API Key: (rpa_[0-9a-f]{64})$/m.exec(stdout)?.[1];
  const secret = /^Secret: (rps_[0-9a-f]{64})$/m.exec(stdout)?.[1];
  if (!apiKey || !secret) throw new Error(`no credentials printed:\n${stdout}`);
  return { apiKey, secret };
}
