/**
 * The JavaScript side of libsync_client, bundled (with the engine and its dependencies) into one
 * CommonJS file that the embedded runtime loads. The C library calls `dispatch(op, engineId, args)`
 * through the Node-API bridge for everything that writes or waits — the operations of
 * contract/ops.ts, whose table types the handlers below; events go back through
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
import type { IndexSpec } from '../../client-ts/src/query/query-api.js';
import { RESULT_CODES, resultCodeOf, type ResultCode } from './abi.js';
import { AttachmentFetches } from './attachment-fetches.js';
import { CONSTANTS, type EngineOpHandlers } from './contract/ops.js';

/** What the C++ bridge hands to `start`. */
export interface Bridge {
  pushEvent(engine: number, type: number, documentId: string | null, title: string | null, content: string | null, error: string | null, numeric: number, flag: boolean): void;
  /** The engine's live documents and unanswered changes, after each commit that may change them. */
  publishCounts(engine: number, documents: number, pending: number): void;
  /** Whether calls from C threads are queued for this thread and not yet picked up. */
  callsWaiting(): boolean;
  /**
   * Checkpoints the file's WAL on the library's checkpoint thread, soon; returns at once, with why
   * the file's previous checkpoint there failed, if it did.
   */
  checkpoint(databasePath: string): string | undefined;
  log(level: number, message: string): void;
}

export interface HostOptions {
  /** The better-sqlite3 build for this runtime's ABI. */
  sqliteBinding: string;
}

export interface Reply {
  code: ResultCode;
  message?: string;
  /** What the C side receives: text, or bytes (an attachment's). */
  value?: string | Buffer;
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

/** What the C++ bridge calls: `args` is the operation's arguments as one object, built from the contract (contract/ops.ts). */
export type Dispatch = (op: string, engineId: number, args: object) => Reply | Promise<Reply>;

/** A handler of some operation, as the dispatcher holds it (each is typed by its table where it is written). */
export type AnyHandler = (engineId: number, args: never) => unknown;

/** A refusal with a result code of the C API's own (INVALID_URL, INVALID_CREDENTIALS), beyond the engine's error codes. */
class Refused extends Error {
  constructor(readonly reply: Reply) {
    super(reply.message);
  }
}

/**
 * Starts the host: the handlers of every operation of contract/ops.ts, plus `extra` ones (the test
 * build's, host-testing.ts). Returns the dispatch function the bridge calls.
 */
export function start(bridge: Bridge, options: HostOptions, extra: Readonly<Record<string, AnyHandler>> = {}): Dispatch {
  keepStdioToTheHost(bridge);
  surviveProcessExit(bridge);
  const engines = new Map<number, SyncEngine>();
  /** Open live queries by `engine/watch`: the function that stops each. */
  const watches = new Map<string, () => void>();
  /** Each engine's sync_engine_fetch_attachment calls in flight (attachment-fetches.ts). */
  const fetches = new Map<number, AttachmentFetches>();
  /** Engines the host set offline: flushing them fails at once instead of waiting out the timeout. */
  const offline = new Set<number>();
  const logger: Logger = {
    debug: (m) => bridge.log(LOG.debug, m),
    info: (m) => bridge.log(LOG.info, m),
    warn: (m) => bridge.log(LOG.warn, m),
    error: (m) => bridge.log(LOG.error, m),
  };

  const parseJson = (text: string, what: string): unknown => {
    try {
      return JSON.parse(text);
    } catch (err) {
      throw new SyncError('invalid_input', `${what} is not valid JSON: ${(err as Error).message}`);
    }
  };
  const engineOf = (id: number): SyncEngine => {
    const e = engines.get(id);
    if (!e) throw new SyncError('closed', 'the engine is destroyed');
    return e;
  };
  const ops: EngineOpHandlers = {
    /** The C side allocates the id first, so events of the engine's first moments find their queue. */
    create(id, { database_url, server_url, email, api_key, api_secret, options: o }) {
      if (engines.has(id)) throw new SyncError('invalid_input', `engine ${id} exists`);
      const databasePath = databasePathOf(database_url);
      const refused = openArgumentError(databasePath, server_url, api_key, api_secret);
      if (refused) throw new Refused(refused);
      const absolutePath = resolve(databasePath!);
      // The engine keys its file and keeps no copy; neither does this host once it is open (or refused).
      const engine = withKey(o.encryption_key, () => SyncEngine.open({
        databasePath: absolutePath,
        serverUrl: server_url,
        email,
        apiKey: api_key,
        apiSecret: api_secret,
        ...(o.client_id ? { clientId: o.client_id } : {}),
        reconnect: { minMs: o.reconnect_min_ms, maxMs: o.reconnect_max_ms },
        heartbeat: { intervalMs: o.heartbeat_interval_ms, timeoutMs: o.heartbeat_timeout_ms },
        durability: o.durability === 1 ? 'full' : 'normal',
        online: !o.start_offline,
        ...(o.tls_ca_file !== null ? { tlsCa: o.tls_ca_file } : {}),
        queryTimeLimitMs: o.query_time_limit_ms,
        ...(o.encryption_key !== null ? { encryptionKey: o.encryption_key } : {}),
        attachmentFetch: o.attachment_fetch_eager ? 'eager' : 'lazy',
        attachmentCacheBytes: o.attachment_cache_mib * 1024 * 1024,
        logger,
        nativeBinding: options.sqliteBinding,
      }));
      const attachmentFetches = new AttachmentFetches(engine, (type, reference, numeric, error) =>
        bridge.pushEvent(id, type, null, null, JSON.stringify(reference), error, numeric, false),
      );
      fetches.set(id, attachmentFetches);
      engine.onEvent((e) => {
        attachmentFetches.seen(e);
        bridge.pushEvent(id, e.type, e.documentId, e.title, e.content === null ? null : JSON.stringify(e.content), e.error, e.numericData, e.booleanData);
      });
      const publish = () => bridge.publishCounts(id, engine.countDocuments(), engine.pendingCount());
      engine.onCountsChanged(publish);
      publish();
      // C writes go ahead of incoming changes: a slice of them ends as soon as a call waits.
      engine.yieldSlicesWhen(bridge.callsWaiting);
      // ...and never wait for a checkpoint: the library runs them on a thread of its own.
      engine.checkpointWith(() => {
        const failed = bridge.checkpoint(absolutePath);
        if (failed) logger.warn(`a WAL checkpoint of ${absolutePath} failed (the next one tries again): ${failed}`);
      });
      engines.set(id, engine);
      if (o.start_offline) offline.add(id);
      return absolutePath;
    },
    async destroy(id) {
      const engine = engines.get(id);
      engines.delete(id);
      fetches.delete(id);
      offline.delete(id);
      for (const key of watches.keys()) if (key.startsWith(`${id}/`)) watches.delete(key);
      await engine?.close(500);
    },
    rekey(id, { key }) {
      withKey(key, () => engineOf(id).rekey(key));
    },
    create_document(id, { json }) {
      return engineOf(id).createDocument(parseJson(json, 'content') as JsonObject);
    },
    create_documents(id, { json_array }) {
      const contents = parseJson(json_array, 'contents');
      if (!Array.isArray(contents)) throw new SyncError('invalid_input', 'contents must be a JSON array of objects');
      return JSON.stringify(engineOf(id).createDocuments(contents as JsonObject[]));
    },
    create_document_with_id(id, { id: docId, json }) {
      const engine = engineOf(id);
      const content = parseJson(json, 'content') as JsonObject;
      // A retry after SYNC_RESULT_TIMEOUT: the first attempt may have landed. Same id and content is success.
      const existing = isUuid(docId) ? engine.getDocument(docId) : null;
      if (existing && existing.deletedAt === null && jsonEqual(existing.content, content)) return;
      engine.createDocument(content, { id: docId });
    },
    update_document(id, { id: docId, json }) {
      engineOf(id).updateDocument(docId, parseJson(json, 'content') as JsonObject);
    },
    patch_document(id, { id: docId, patch_json }) {
      engineOf(id).patchDocument(docId, parseJson(patch_json, 'patch') as PatchOp[]);
    },
    merge_document(id, { id: docId, merge_json }) {
      engineOf(id).mergeDocument(docId, parseJson(merge_json, 'merge patch') as JsonObject);
    },
    delete_document(id, { id: docId }) {
      engineOf(id).deleteDocument(docId);
    },
    async flush(id, { timeout_ms }) {
      const engine = engineOf(id);
      if (offline.has(id)) throw new SyncError('connection', 'the engine is offline (sync_engine_set_online(engine, false))');
      await engine.whenSynced(Math.min(timeout_ms, 2 ** 31 - 1));
    },
    set_online(id, { online }) {
      engineOf(id).setOnline(online);
      if (online) offline.delete(id);
      else offline.add(id);
    },
    undo(id, { id: docId }) {
      engineOf(id).undo(docId);
    },
    redo(id, { id: docId }) {
      engineOf(id).redo(docId);
    },
    get_history(id, { id: docId }) {
      const engine = engineOf(id);
      if (!engine.getDocument(docId)) throw new SyncError('not_found', `no document ${docId}`);
      return JSON.stringify(
        engine.history(docId).map((h) => ({
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
      );
    },
    get_conflicts(id) {
      return JSON.stringify(
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
      );
    },
    compile_query(id, { query }) {
      return engineOf(id).readerStatement(query) ?? '';
    },
    query(id, { query }) {
      return JSON.stringify(engineOf(id).query(query));
    },
    explain_query(id, { query }) {
      return JSON.stringify(engineOf(id).explain(query));
    },
    create_index(id, { spec }) {
      engineOf(id).createIndex(parseJson(spec, 'index spec') as IndexSpec);
    },
    create_text_index(id, { spec }) {
      engineOf(id).createTextIndex(parseJson(spec, 'index spec') as IndexSpec);
    },
    drop_index(id, { name }) {
      engineOf(id).dropIndex(name);
    },
    list_indexes(id) {
      return JSON.stringify(engineOf(id).listIndexes());
    },
    watch_query(id, { watch_id, query, total }) {
      const key = `${id}/${watch_id}`;
      if (watches.has(key)) throw new SyncError('invalid_input', `live query ${watch_id} is open already`);
      const stop = engineOf(id).watch(query, (diff) => bridge.pushEvent(id, CONSTANTS.live_query_event, null, null, JSON.stringify(diff), null, watch_id, false), { total });
      watches.set(key, stop);
    },
    unwatch_query(id, { watch_id }) {
      const key = `${id}/${watch_id}`;
      watches.get(key)?.();
      watches.delete(key);
    },
    add_attachment(id, { bytes, content_type }) {
      return JSON.stringify(engineOf(id).addAttachment(bytes, contentTypeOption(content_type)));
    },
    async add_attachment_file(id, { path, content_type }) {
      return JSON.stringify(await engineOf(id).addAttachmentFile(path, contentTypeOption(content_type)));
    },
    get_attachment(id, { attachment_id }) {
      const bytes = engineOf(id).readAttachment(attachment_id);
      if (!bytes) throw new SyncError('not_found', `attachment ${attachment_id} is not in the local store (fetch it first)`);
      return bytes;
    },
    async save_attachment(id, { attachment_id, path }) {
      await engineOf(id).saveAttachment(attachment_id, path);
    },
    async fetch_attachment(id, { attachment_id }) {
      engineOf(id);
      await fetches.get(id)!.start(attachment_id);
    },
    attachment_state(id, { attachment_id }) {
      const state = engineOf(id).attachmentState(attachment_id);
      if (!state) throw new SyncError('not_found', `this engine knows no attachment ${attachment_id}`);
      return JSON.stringify(state);
    },
    pending_attachment_uploads(id) {
      return String(engineOf(id).pendingAttachmentUploads());
    },
    /** What is committed locally is already durable: every engine closes at once. */
    async shutdown() {
      const all = [...engines.values()];
      engines.clear();
      fetches.clear();
      await Promise.all(all.map((e) => e.close(0).catch(() => {})));
    },
  };
  return dispatcher({ ...ops, ...extra });
}

/** Answers each call with its handler's value (text, or nothing) or, when it throws, the error's result code. */
function dispatcher(handlers: Readonly<Record<string, AnyHandler>>): Dispatch {
  const answer = (value: unknown): Reply =>
    typeof value === 'string' || Buffer.isBuffer(value) ? { code: RESULT_CODES.SUCCESS, value } : { code: RESULT_CODES.SUCCESS };
  const fail = (err: unknown): Reply => {
    if (err instanceof Refused) return err.reply;
    if (err instanceof SyncError) return { code: resultCodeOf(err.code), message: err.message };
    return { code: RESULT_CODES.UNKNOWN, message: (err as Error)?.message ?? String(err) };
  };
  return (op, engineId, args) => {
    const handler = Object.prototype.hasOwnProperty.call(handlers, op) ? handlers[op] : undefined;
    if (!handler) return { code: RESULT_CODES.UNKNOWN, message: `unknown operation ${op}` };
    try {
      const r = handler(engineId, args as never);
      return r instanceof Promise ? r.then(answer, fail) : answer(r);
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

/** A C content_type (NULL: the engine's default) as the engine's option. */
function contentTypeOption(contentType: string | null): { contentType?: string } {
  return contentType === null ? {} : { contentType };
}

/** Runs `use` and zeroes `key` (the bridge's copy of C's key bytes) after it, whatever happens. */
function withKey<T>(key: Buffer | null, use: () => T): T {
  try {
    return use();
  } finally {
    key?.fill(0);
  }
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
