// What the client benchmark's phases share: the documents they write, engines on files in one
// temporary directory (closed at the end), timing helpers.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SyncEngine } from '../../client-ts/dist/src/index.js';

export const dir = mkdtempSync(join(tmpdir(), 'json-sync-client-bench-'));
export const now = () => performance.now();
export const nextTick = () => new Promise((r) => setImmediate(r));

const DESCRIPTION = 'Write the quarterly report, collect the figures from every team and send it round before Friday.';
export const content = (i) => ({ title: `Task ${i}`, description: DESCRIPTION, status: 'open', priority: i % 5, tags: ['work', 'report'], done: false });
export const updated = (i, j) => ({ ...content(i), status: 'in-progress', counter: j });

const engines = [];

/** An engine on a new file; offline (no server) unless `extra` says where to connect. */
export function openEngine(name, extra = {}) {
  const e = SyncEngine.open({
    databasePath: join(dir, `${name}.db`),
    serverUrl: 'ws://127.0.0.1:9/ws',
    email: `${name}@example.com`,
    apiKey: 'rpa_none',
    apiSecret: 'rps_none',
    reconnect: { minMs: 50, maxMs: 500 },
    heartbeat: { intervalMs: 5000, timeoutMs: 5000 },
    ...extra,
  });
  engines.push(e);
  return e;
}

export async function closeAll() {
  for (const e of engines.splice(0)) await e.close(200).catch(() => {});
  rmSync(dir, { recursive: true, force: true });
}

export function percentiles(samples) {
  const s = [...samples].sort((a, b) => a - b);
  return { p50: s[Math.floor(s.length * 0.5)], p99: s[Math.min(s.length - 1, Math.floor(s.length * 0.99))], max: s[s.length - 1] };
}

/** Resolves when `engine` fires an event of one of `types` for which `pred` holds. */
export function eventOf(engine, types, pred = () => true, timeoutMs = 60_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no matching event within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = engine.onEvent((e) => {
      if (!pred(e)) return;
      clearTimeout(timer);
      off();
      resolve(e);
    }, types);
  });
}
