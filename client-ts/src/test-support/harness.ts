import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JsonObject } from '@json-sync/core';
import { startTestServer, type TestDatabase, type ServerProcess, type TestServerOptions } from '@json-sync/test-support';
import { SyncEngine, type EngineOptions } from '../engine.js';
import { EventType, type SyncEvent } from '../events.js';
import { suiteEncryption } from './encryption.js';

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
export async function harness(serverOptions: Omit<TestServerOptions, 'prefix'> = {}): Promise<Harness> {
  const ts = await startTestServer({ prefix: 'sync_client_test', ...serverOptions });
  const dir = mkdtempSync(join(tmpdir(), 'json-sync-client-'));
  const engines: SyncEngine[] = [];
  const h: Harness = {
    tdb: ts.tdb,
    get server() {
      return ts.server;
    },
    apiKey: ts.apiKey,
    secret: ts.secret,
    dir,
    options(name, email, extra = {}) {
      return {
        databasePath: join(dir, `${name}.db`),
        serverUrl: ts.url,
        email,
        apiKey: ts.apiKey,
        apiSecret: ts.secret,
        reconnect: { minMs: 50, maxMs: 500 },
        heartbeat: { intervalMs: 1000, timeoutMs: 1000 },
        ...suiteEncryption(),
        ...extra,
      };
    },
    engine(name, email, extra = {}) {
      const e = SyncEngine.open(h.options(name, email, extra));
      engines.push(e);
      return e;
    },
    restartServer: (signal) => ts.restart(signal),
    async teardown() {
      for (const e of engines) await e.close(200).catch(() => {});
      await ts.teardown();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return h;
}

export interface LocalEngines {
  dir: string;
  options(name: string, extra?: Partial<EngineOptions>): EngineOptions;
  /** An engine on a fresh database file that stays offline; closed at teardown. */
  engine(name: string, extra?: Partial<EngineOptions>): SyncEngine;
}

/** Engines that never reach a server (none is started): for behaviour that is purely local. */
export function localEngines(t: { teardown(fn: () => unknown): void }): LocalEngines {
  const dir = mkdtempSync(join(tmpdir(), 'json-sync-local-'));
  const engines: SyncEngine[] = [];
  t.teardown(async () => {
    for (const e of engines) await e.close(50).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });
  const local: LocalEngines = {
    dir,
    options: (name, extra = {}) => ({
      databasePath: join(dir, `${name}.db`),
      // Nothing listens on the discard port: an engine told to go online finds no server.
      serverUrl: 'ws://127.0.0.1:9/ws',
      email: `${name}@example.com`,
      apiKey: `rpa_${'0'.repeat(64)}`,
      apiSecret: `rps_${'0'.repeat(64)}`,
      ...suiteEncryption(),
      ...extra,
    }),
    engine(name, extra = {}) {
      const e = SyncEngine.open({ ...local.options(name, extra), online: false });
      engines.push(e);
      return e;
    },
  };
  return local;
}

/** A document as the server stores it. */
export interface ServerDoc {
  id: string;
  title: string | null;
  content: JsonObject;
  syncRevision: number;
  deleted: boolean;
}

const SERVER_DOC_SQL = 'SELECT id::text AS id, title, content, sync_revision, deleted_at IS NOT NULL AS deleted FROM documents';

function toServerDoc(r: { id: string; title: string | null; content: JsonObject; sync_revision: number; deleted: boolean }): ServerDoc {
  return { id: r.id, title: r.title, content: r.content, syncRevision: r.sync_revision, deleted: r.deleted };
}

/** One document as the server has it (deleted ones too), or undefined. */
export async function serverDoc(h: Pick<Harness, 'tdb'>, id: string): Promise<ServerDoc | undefined> {
  const r = await h.tdb.db.query<Parameters<typeof toServerDoc>[0]>(`${SERVER_DOC_SQL} WHERE id = $1`, [id]);
  return r.rows[0] ? toServerDoc(r.rows[0]) : undefined;
}

/** Every document the server has (all users, deleted ones too), by id. */
export async function serverDocs(h: Pick<Harness, 'tdb'>): Promise<Map<string, ServerDoc>> {
  const r = await h.tdb.db.query<Parameters<typeof toServerDoc>[0]>(`${SERVER_DOC_SQL} ORDER BY id`);
  return new Map(r.rows.map((row) => [row.id, toServerDoc(row)]));
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
