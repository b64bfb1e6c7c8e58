/**
 * The JavaScript side of libsync_client, bundled (with the engine and its dependencies) into one
 * CommonJS file that the embedded runtime loads. The C library calls `dispatch(op, engineId, args)`
 * through the Node-API bridge for everything that writes or waits; events go back through
 * `bridge.pushEvent`. Reads never come here: the C library answers them on the caller's thread,
 * from the database file (on connections of its own, through this runtime's SQLite) and from the
 * counts published with `bridge.publishCounts`.
 */
import { resolve } from 'node:path';
import { Writable } from 'node:stream';
import { API_KEY_PATTERN, API_SECRET_PATTERN, isUuid, jsonEqual, type JsonObject, type PatchOp } from '@json-sync/core';
import { SyncEngine } from '../../client-ts/src/engine.js';
import { SyncError } from '../../client-ts/src/errors.js';
import type { Logger } from '../../client-ts/src/logger.js';
import { RESULT_CODES, resultCodeOf, type ResultCode } from './abi.js';

/** What the C++ bridge hands to `start`. */
export interface Bridge {
  pushEvent(engine: number, type: number, documentId: string | null, title: string | null, content: string | null, error: string | null, numeric: number, flag: boolean): void;
  /** The engine's live documents and unanswered changes, after each commit that may change them. */
  publishCounts(engine: number, documents: number, pending: number): void;
  /** Whether calls from C threads are queued for this thread and not yet picked up. */
  callsWaiting(): boolean;
  log(level: number, message: string): void;
}

export interface HostOptions {
  /** The better-sqlite3 build for this runtime's ABI. */
  sqliteBinding: string;
}

export interface Reply {
  code: ResultCode;
  message?: string;
  /** What the C side receives as text (the only kind of value it reads). */
  value?: string;
}

const LOG = { debug: 0, info: 1, warn: 2, error: 3 } as const;

/**
 * process.exit() inside the runtime must not end the host. The C++ side installs a process-exit
 * handler that only logs; but process.exit() has already marked the process as exiting, and Node
 * then refuses new connections (net.connect never completes). Clear that mark once the handler
 * returned, so the engines keep syncing.
 */
function surviveProcessExit(bridge: Bridge): void {
  const proc = process as unknown as { reallyExit(code: number): void; _exiting: boolean };
  const reallyExit = proc.reallyExit.bind(process);
  proc.reallyExit = (code: number) => {
    reallyExit(code);
    proc._exiting = false;
    process.exitCode = undefined;
  };
  // An uncaught exception would take the same exit path (without reallyExit): log it instead.
  process.on('uncaughtException', (err) => bridge.log(LOG.error, `uncaught exception in the sync engine: ${err?.stack ?? err}`));
}

/**
 * The host owns stdout and stderr. Node opens them lazily on first use (a warning, a console call)
 * and would then make them non-blocking and write into the host's output: route everything the
 * runtime would print to the log callback instead.
 */
function keepStdioToTheHost(bridge: Bridge): void {
  const sink = (level: number) =>
    new Writable({
      write(chunk: Buffer | string, _encoding, done) {
        const text = String(chunk).replace(/\n$/, '');
        if (text) bridge.log(level, text);
        done();
      },
    });
  const stdout = sink(LOG.info);
  const stderr = sink(LOG.warn);
  Object.defineProperty(process, 'stdout', { configurable: true, enumerable: true, get: () => stdout });
  Object.defineProperty(process, 'stderr', { configurable: true, enumerable: true, get: () => stderr });
}

export function start(bridge: Bridge, options: HostOptions): (op: string, engineId: number, args: string[]) => Reply | Promise<Reply> {
  keepStdioToTheHost(bridge);
  surviveProcessExit(bridge);
  const engines = new Map<number, SyncEngine>();
  /** Engines the host set offline: flushing them fails at once instead of waiting out the timeout. */
  const offline = new Set<number>();
  const logger: Logger = {
    debug: (m) => bridge.log(LOG.debug, m),
    info: (m) => bridge.log(LOG.info, m),
    warn: (m) => bridge.log(LOG.warn, m),
    error: (m) => bridge.log(LOG.error, m),
  };

  const ok = (value?: string): Reply => (value === undefined ? { code: RESULT_CODES.SUCCESS } : { code: RESULT_CODES.SUCCESS, value });
  const fail = (err: unknown): Reply => {
    if (err instanceof SyncError) return { code: resultCodeOf(err.code), message: err.message };
    return { code: RESULT_CODES.UNKNOWN, message: (err as Error)?.message ?? String(err) };
  };
  const parseJson = (text: string | undefined, what: string): unknown => {
    try {
      return JSON.parse(text ?? '');
    } catch (err) {
      throw new SyncError('invalid_input', `${what} is not valid JSON: ${(err as Error).message}`);
    }
  };
  const engineOf = (id: number): SyncEngine => {
    const e = engines.get(id);
    if (!e) throw new SyncError('closed', 'the engine is destroyed');
    return e;
  };
  const ops: Record<string, (engineId: number, a: string[]) => Reply | Promise<Reply>> = {
    /**
     * The C side allocates the id first, so events of the engine's first moments find their queue.
     * Answers the database file's absolute path, which the C side opens for reading.
     */
    create(id, a) {
      const [dbUrl, serverUrl, email, apiKey, apiSecret, optionsJson] = a;
      const o = parseJson(optionsJson, 'options') as {
        reconnect_min_ms: number;
        reconnect_max_ms: number;
        heartbeat_interval_ms: number;
        heartbeat_timeout_ms: number;
        durability: number;
        client_id: string | null;
        start_offline: boolean;
        tls_ca_file: string | null;
      };
      if (engines.has(id)) throw new SyncError('invalid_input', `engine ${id} exists`);
      const databasePath = databasePathOf(dbUrl!);
      const refused = openArgumentError(databasePath, serverUrl!, apiKey!, apiSecret!);
      if (refused) return refused;
      const absolutePath = resolve(databasePath!);
      const engine = SyncEngine.open({
        databasePath: absolutePath,
        serverUrl: serverUrl!,
        email: email!,
        apiKey: apiKey!,
        apiSecret: apiSecret!,
        ...(o.client_id ? { clientId: o.client_id } : {}),
        reconnect: { minMs: o.reconnect_min_ms, maxMs: o.reconnect_max_ms },
        heartbeat: { intervalMs: o.heartbeat_interval_ms, timeoutMs: o.heartbeat_timeout_ms },
        durability: o.durability === 1 ? 'full' : 'normal',
        online: !o.start_offline,
        ...(o.tls_ca_file !== null ? { tlsCa: o.tls_ca_file } : {}),
        logger,
        nativeBinding: options.sqliteBinding,
      });
      engine.onEvent((e) =>
        bridge.pushEvent(id, e.type, e.documentId, e.title, e.content === null ? null : JSON.stringify(e.content), e.error, e.numericData, e.booleanData),
      );
      const publish = () => bridge.publishCounts(id, engine.countDocuments(), engine.pendingCount());
      engine.onCountsChanged(publish);
      publish();
      // C writes go ahead of incoming changes: a slice of them ends as soon as a call waits.
      engine.yieldSlicesWhen(bridge.callsWaiting);
      engines.set(id, engine);
      if (o.start_offline) offline.add(id);
      return ok(absolutePath);
    },
    async destroy(id) {
      const engine = engines.get(id);
      engines.delete(id);
      offline.delete(id);
      await engine?.close(500);
      return ok();
    },
    create_document(id, [json]) {
      return ok(engineOf(id).createDocument(parseJson(json, 'content') as JsonObject));
    },
    /** All or nothing, in one transaction; answers the new ids as a JSON array, in order. */
    create_documents(id, [json]) {
      const contents = parseJson(json, 'contents');
      if (!Array.isArray(contents)) throw new SyncError('invalid_input', 'contents must be a JSON array of objects');
      return ok(JSON.stringify(engineOf(id).createDocuments(contents as JsonObject[])));
    },
    create_document_with_id(id, [docId, json]) {
      const engine = engineOf(id);
      const content = parseJson(json, 'content') as JsonObject;
      // A retry after SYNC_RESULT_TIMEOUT: the first attempt may have landed. Same id and content is success.
      const existing = isUuid(docId) ? engine.getDocument(docId!) : null;
      if (existing && existing.deletedAt === null && jsonEqual(existing.content, content)) return ok(docId);
      return ok(engine.createDocument(content, { id: docId! }));
    },
    update_document(id, [docId, json]) {
      engineOf(id).updateDocument(docId!, parseJson(json, 'content') as JsonObject);
      return ok();
    },
    patch_document(id, [docId, json]) {
      engineOf(id).patchDocument(docId!, parseJson(json, 'patch') as PatchOp[]);
      return ok();
    },
    merge_document(id, [docId, json]) {
      engineOf(id).mergeDocument(docId!, parseJson(json, 'merge patch') as JsonObject);
      return ok();
    },
    delete_document(id, [docId]) {
      engineOf(id).deleteDocument(docId!);
      return ok();
    },
    async flush(id, [timeout]) {
      const engine = engineOf(id);
      if (offline.has(id)) throw new SyncError('connection', 'the engine is offline (sync_engine_set_online(engine, false))');
      await engine.whenSynced(Math.min(Number(timeout), 2 ** 31 - 1));
      return ok();
    },
    set_online(id, [online]) {
      engineOf(id).setOnline(online === '1');
      if (online === '1') offline.delete(id);
      else offline.add(id);
      return ok();
    },
    undo(id, [docId]) {
      engineOf(id).undo(docId!);
      return ok();
    },
    redo(id, [docId]) {
      engineOf(id).redo(docId!);
      return ok();
    },
    get_history(id, [docId]) {
      const engine = engineOf(id);
      if (!engine.getDocument(docId!)) throw new SyncError('not_found', `no document ${docId}`);
      return ok(
        JSON.stringify(
          engine.history(docId!).map((h) => ({
            id: h.id,
            document_id: h.documentId,
            origin: h.origin,
            kind: h.kind,
            forward: h.forward,
            reverse: h.reverse,
            mutation_id: h.mutationId,
            sequence: h.sequence,
            sync_revision: h.syncRevision,
            undone: h.undone,
            created_at: h.createdAt,
          })),
        ),
      );
    },
    get_conflicts(id) {
      return ok(
        JSON.stringify(
          engineOf(id)
            .conflicts()
            .map((c) => ({
              document_id: c.documentId,
              mutation_id: c.mutationId,
              kind: c.kind,
              reason: c.reason,
              message: c.message,
              rejected: c.rejected,
              server_document: c.serverDocument,
              created_at: c.createdAt,
            })),
        ),
      );
    },
    /** At process exit: close every engine at once (what is committed locally is already durable). */
    async shutdown() {
      const all = [...engines.values()];
      engines.clear();
      await Promise.all(all.map((e) => e.close(0).catch(() => {})));
      return ok();
    },
    /** Test hooks: a JS-side process.exit, and a JS thread kept busy (to provoke call timeouts). */
    test_process_exit() {
      process.exit(3);
    },
    test_block(_, [ms]) {
      const until = Date.now() + Number(ms);
      while (Date.now() < until);
      return ok();
    },
  };

  return (op, engineId, args) => {
    const fn = Object.prototype.hasOwnProperty.call(ops, op) ? ops[op] : undefined;
    if (!fn) return { code: RESULT_CODES.UNKNOWN, message: `unknown operation ${op}` };
    try {
      const r = fn(engineId, args);
      return r instanceof Promise ? r.catch(fail) : r;
    } catch (err) {
      return fail(err);
    }
  };
}

/** `sqlite:PATH?mode=rwc`, `sqlite://PATH` or a plain path → the file path; null when it names none. */
export function databasePathOf(url: string): string | null {
  let path = url;
  if (path.startsWith('sqlite:')) {
    path = path.slice('sqlite:'.length);
    if (path.startsWith('//')) path = path.slice(2);
    const q = path.indexOf('?');
    if (q !== -1) path = path.slice(0, q);
  }
  return path === '' ? null : path;
}

/**
 * The open failures a C caller gets a code of its own for, beyond SyncEngine.open's `locked`: the
 * engine reports these as `invalid_input` (or, for credentials, not at all until the server refuses
 * them), so they are told apart here, before it runs.
 */
export function openArgumentError(databasePath: string | null, serverUrl: string, apiKey: string, apiSecret: string): Reply | null {
  if (databasePath === null) return { code: RESULT_CODES.INVALID_URL, message: 'database_url names no file' };
  if (databasePath === ':memory:') {
    return { code: RESULT_CODES.INVALID_URL, message: 'database_url must name a file: the C library reads it on connections of its own' };
  }
  let protocol = '';
  try {
    protocol = new URL(serverUrl).protocol;
  } catch {
    // not a URL at all: refused below like any other scheme
  }
  if (protocol !== 'ws:' && protocol !== 'wss:') {
    return { code: RESULT_CODES.INVALID_URL, message: `server_url must be a ws:// or wss:// URL, not ${JSON.stringify(serverUrl)}` };
  }
  const issued = 'followed by 64 lowercase hex digits, as `sync-server generate-credentials` prints it';
  if (!API_KEY_PATTERN.test(apiKey)) return { code: RESULT_CODES.INVALID_CREDENTIALS, message: `api_key must be rpa_ ${issued}` };
  if (!API_SECRET_PATTERN.test(apiSecret)) return { code: RESULT_CODES.INVALID_CREDENTIALS, message: `api_secret must be rps_ ${issued}` };
  return null;
}
