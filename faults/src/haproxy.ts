/**
 * Debian's HAProxy running the project's own deploy/haproxy.cfg (the one docker-compose.yml uses)
 * on loopback, its addresses given through the environment as compose gives them.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './support.js';

export const HAPROXY_CONFIG = fileURLToPath(new URL('../../deploy/haproxy.cfg', import.meta.url));

/** Why HAProxy cannot run here (not installed), or null. */
export function haproxyMissing(): string | null {
  const r = spawnSync('haproxy', ['-v'], { encoding: 'utf8' });
  return r.error ? 'haproxy is not installed (bash scripts/install-deploy-deps.sh installs it)' : null;
}

export interface Backend {
  port: number;
  healthPort: number;
}

export interface LoadBalancer {
  /** ws://127.0.0.1:PORT/ws through HAProxy. */
  url: string;
  /** Each server's state as HAProxy sees it now (UP, DOWN, …), by name: sync1, sync2. */
  states(): Promise<Record<string, string>>;
  stop(): Promise<void>;
}

export async function startHaproxy(backends: [Backend, Backend]): Promise<LoadBalancer> {
  const dir = mkdtempSync(join(tmpdir(), 'json-sync-haproxy-'));
  const socket = join(dir, 'stats.sock');
  const port = await freePort();
  const env = {
    ...process.env,
    HAPROXY_STATS_SOCKET: socket,
    SYNC_LB_BIND: `127.0.0.1:${port}`,
    SYNC_1_ADDR: `127.0.0.1:${backends[0].port}`,
    SYNC_1_HEALTH_PORT: String(backends[0].healthPort),
    SYNC_2_ADDR: `127.0.0.1:${backends[1].port}`,
    SYNC_2_HEALTH_PORT: String(backends[1].healthPort),
  };
  const child = spawn('haproxy', ['-db', '-f', HAPROXY_CONFIG], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const states = () =>
    new Promise<Record<string, string>>((resolve, reject) => {
      const c = connect(socket, () => c.end('show stat\n'));
      let csv = '';
      c.setEncoding('utf8').on('data', (d: string) => (csv += d));
      c.on('error', reject);
      c.on('close', () => {
        // "# pxname,svname,…,status,…": the status column of each server line of the backend.
        const [header, ...lines] = csv.trim().split('\n');
        const columns = (header ?? '').replace(/^# /, '').split(',');
        const [px, sv, st] = ['pxname', 'svname', 'status'].map((name) => columns.indexOf(name));
        const out: Record<string, string> = {};
        for (const line of lines) {
          const f = line.split(',');
          if (f[px!] === 'sync_servers' && f[sv!] !== 'BACKEND') out[f[sv!]!] = f[st!]!;
        }
        resolve(out);
      });
    });

  const stop = async () => {
    child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  // Up once its stats socket answers.
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await states();
      break;
    } catch (err) {
      if (Date.now() > deadline || child.exitCode !== null) {
        await stop();
        throw new Error(`haproxy did not start: ${(err as Error).message}\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return { url: `ws://127.0.0.1:${port}/ws`, states, stop };
}
