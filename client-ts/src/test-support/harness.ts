import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '../../../server/src/test-support/database.js';
import { startServer, type ServerProcess } from '../../../server/src/test-support/server-process.js';
import { SyncEngine, type EngineOptions } from '../engine.js';
import { EventType, type SyncEvent } from '../events.js';

export { createTestDatabase, startServer, type ServerProcess, type TestDatabase };

export interface Harness {
  tdb: TestDatabase;
  server: ServerProcess;
  apiKey: string;
  secret: string;
  dir: string;
  /** An engine on a fresh database file in this harness's directory; closed at teardown. */
  engine(name: string, email: string, extra?: Partial<EngineOptions>): SyncEngine;
  options(name: string, email: string, extra?: Partial<EngineOptions>): EngineOptions;
  restartServer(signal?: NodeJS.Signals): Promise<ServerProcess>;
  teardown(): Promise<void>;
}

/** A real PostgreSQL database, a real server process on a random port, and engines on real SQLite files. */
export async function harness(): Promise<Harness> {
  const tdb = await createTestDatabase('sync_client_test');
  const { apiKey, secret } = await tdb.credentials();
  let server: ServerProcess;
  try {
    server = await startServer({ databaseUrl: tdb.url });
  } catch (err) {
    await tdb.drop();
    throw err;
  }
  const dir = mkdtempSync(join(tmpdir(), 'json-sync-client-'));
  const engines: SyncEngine[] = [];
  const h: Harness = {
    tdb,
    get server() {
      return server;
    },
    apiKey,
    secret,
    dir,
    options(name, email, extra = {}) {
      return {
        databasePath: join(dir, `${name}.db`),
        serverUrl: server.url,
        email,
        apiKey,
        apiSecret: secret,
        reconnect: { minMs: 50, maxMs: 500 },
        heartbeat: { intervalMs: 1000, timeoutMs: 1000 },
        ...extra,
      };
    },
    engine(name, email, extra = {}) {
      const e = SyncEngine.open(h.options(name, email, extra));
      engines.push(e);
      return e;
    },
    async restartServer(signal: NodeJS.Signals = 'SIGTERM') {
      const port = server.port;
      await server.stop(signal);
      server = await startServer({ databaseUrl: tdb.url, port });
      return server;
    },
    async teardown() {
      for (const e of engines) await e.close(200).catch(() => {});
      await server.stop();
      await tdb.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return h;
}

/** Resolves with the first event of `type` matching `pred`, recorded from now on. */
export function nextEvent(engine: SyncEngine, type: EventType, pred: (e: SyncEvent) => boolean = () => true, timeoutMs = 10_000): Promise<SyncEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out waiting for ${EventType[type]}`));
    }, timeoutMs);
    const off = engine.onEvent((e) => {
      if (!pred(e)) return;
      clearTimeout(timer);
      off();
      resolve(e);
    }, type);
  });
}

/** Records every event an engine fires. */
export function record(engine: SyncEngine): SyncEvent[] {
  const events: SyncEvent[] = [];
  engine.onEvent((e) => events.push(e));
  return events;
}

/** Polls until `check` holds; returns whether it did, so the caller's exact assertions report the difference. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A harness with two engines of one user, both synced; torn down with the test. */
export async function syncedPair(t: { teardown(fn: () => unknown): void }, email: string): Promise<{ h: Harness; a: SyncEngine; b: SyncEngine }> {
  const h = await harness();
  t.teardown(() => h.teardown());
  const a = h.engine('a', email);
  const b = h.engine('b', email);
  await Promise.all([a.whenSynced(10_000), b.whenSynced(10_000)]);
  return { h, a, b };
}
