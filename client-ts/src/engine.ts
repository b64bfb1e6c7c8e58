import {
  applyPatch,
  assertDocumentContent,
  diff,
  isPlainObject,
  isUuid,
  newUuid,
  newTimeOrderedUuid,
  parsePatch,
  ProtocolError,
  reversePatch,
  type AttachmentRef,
  type JsonObject,
  type PatchOp,
  type ServerMessageOf,
  type WireDocument,
} from '@json-sync/core';
import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { SyncError } from './errors.js';
import { EventType, type EventHandler, type EventName } from './events.js';
import { silentLogger, type Logger } from './logger.js';
import { applyMergePatch } from './merge-patch.js';
import type { ChangeOrigin, MutationKind } from './change-kinds.js';
import type { EncryptionKey } from './storage/encryption.js';
import { LocalStore, type ChangeRow, type ViewRow } from './storage/local-store.js';
import { assembleSync, type SyncParts } from './sync/assemble.js';
import { EventHub } from './sync/event-hub.js';
import { createPlan, type Current } from './sync/local-changes.js';
import { UndoStack, type Direction } from './sync/undo.js';
import { Indexes } from './query/indexes.js';
import { LiveQueries } from './query/live-queries.js';
import type { IndexInfo, IndexSpec, LiveHandler, QueryDocumentJson } from './query/query-api.js';
import { Queries } from './query/queries.js';
import { Transport } from './transport/transport.js';
import { Attachments, type AttachmentState } from './attachments/attachments.js';
import type { ByteSource } from './attachments/adding.js';
import type { AddOptions, AttachmentId } from './attachments/input.js';

export interface EngineOptions {
  databasePath: string;
  serverUrl: string;
  email: string;
  apiKey: string;
  apiSecret: string;
  /** Kept in the database file; generated on first open when not given. */
  clientId?: string;
  reconnect?: { minMs: number; maxMs: number };
  heartbeat?: { intervalMs: number; timeoutMs: number };
  /** 'normal' (default): a returned change survives the process being killed, not power loss. 'full': fsync per commit. */
  durability?: 'normal' | 'full';
  logger?: Logger;
  /** Start connecting at once (default true). */
  online?: boolean;
  /** Path of a better-sqlite3 native build to load instead of the package's own. */
  nativeBinding?: string;
  /**
   * Certificate authority to trust for wss:// besides the system's: PEM text, or the path of a PEM
   * file. A server whose certificate it does not verify is refused (ConnectionLost says why).
   */
  tlsCa?: string;
  /**
   * A query running longer is stopped with a `timeout` error (default 2000). On this engine's
   * connection the limit is checked by `$regex`, the one part whose cost per row is not SQLite's
   * own; every other query is a bounded walk over the documents (docs/queries.md). The C library's
   * reads are interrupted at the limit whatever they do.
   */
  queryTimeLimitMs?: number;
  /**
   * Encrypts the database file (ChaCha20-Poly1305): 32 raw bytes, or a passphrase (PBKDF2-HMAC-SHA256
   * over a per-database salt; see storage/encryption.ts). An existing plain file is encrypted at
   * open, crash-safely. The engine keeps no copy of it; a wrong or missing key fails with
   * `wrong_key`, and nothing is changed.
   */
  encryptionKey?: EncryptionKey;
  /**
   * When attachments' bytes are downloaded: 'lazy' (default) on the first read; 'eager' every
   * attachment a local document refers to, as soon as the document arrives.
   */
  attachmentFetch?: 'lazy' | 'eager';
  /**
   * Bytes of complete attachments kept (default 512 MiB). Beyond it, those no local document refers
   * to and that are not waiting to upload are removed, least recently used first.
   */
  attachmentCacheBytes?: number;
}

export interface DocumentSnapshot<C extends JsonObject = JsonObject> {
  id: string;
  title: string | null;
  content: C;
  /** The server revision the local view rests on; null until the create is acknowledged. */
  syncRevision: number | null;
  /** Local mutations of this document the server has not answered yet. */
  pending: number;
  createdAt: string;
  updatedAt: string;
  deletedAt: string | null;
}

/** A query: its JSON object (docs/queries.md), or that object as JSON text. */
export type QueryInput = JsonObject | string;

/** A page of a query's result; `next` is the `after` of the next page (null: this was the last). */
export interface QueryPage<C extends JsonObject = JsonObject> {
  documents: DocumentSnapshot<C>[];
  next: string | null;
}

export interface ConflictRecord {
  documentId: string;
  mutationId: string;
  kind: string;
  /** `conflict` (the server kept its version), `rebase` (no longer applied on the server's version), or the server's error code for a rejected mutation. */
  reason: string;
  message: string | null;
  rejected: unknown;
  serverDocument: WireDocument | null;
  createdAt: string;
}

export interface HistoryEntry {
  id: number;
  documentId: string;
  origin: ChangeOrigin;
  kind: MutationKind;
  forward: unknown;
  reverse: unknown;
  mutationId: string | null;
  sequence: number | null;
  syncRevision: number | null;
  undone: boolean;
  createdAt: string;
}

/** Node's timers overflow above 2^31 - 1 ms (they would fire at once). */
const MAX_DELAY_MS = 2 ** 31 - 1;
/** The C library's default too (sync_engine_config_init's query_time_limit_ms). */
const DEFAULT_QUERY_TIME_LIMIT_MS = 2000;
const DEFAULT_ATTACHMENT_CACHE_BYTES = 512 * 1024 * 1024;

function isDelay(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= MAX_DELAY_MS;
}

/**
 * The offline-first sync engine. Every document call completes on the local SQLite file and
 * returns at once; a background connection uploads the outbox, applies the server's change
 * stream in sequence order and keeps the local view = server state + pending local edits.
 * The work is done by its parts in ./sync (docs/architecture.md draws them): the session owns the
 * connection's state and drives the replica, sender and catch-up; the inbox applies server
 * messages through it; local changes write and hand their entries to the sender.
 */
export class SyncEngine {
  readonly clientId: string;
  private readonly sync: SyncParts;
  private readonly store: LocalStore;
  private readonly transport: Transport;
  private readonly events: EventHub;
  private readonly undoStack: UndoStack;
  private readonly indexes: Indexes;
  private readonly queries: Queries;
  private readonly live: LiveQueries;
  private readonly attachments: Attachments;
  private closed = false;
  /** What the application asked for: connect (true) or stay offline (false). */
  private wantOnline: boolean;
  private syncWaiters: { resolve: () => void; reject: (e: Error) => void; timer: NodeJS.Timeout }[] = [];
  /** Whether calls from outside wait for this thread (see yieldSlicesWhen). */
  private callsWaiting: () => boolean = () => false;

  private constructor(opts: EngineOptions) {
    for (const key of ['databasePath', 'serverUrl', 'email', 'apiKey', 'apiSecret'] as const) {
      if (typeof opts[key] !== 'string' || opts[key] === '') throw new SyncError('invalid_input', `${key} must be a non-empty string`);
    }
    if (opts.clientId !== undefined && !isUuid(opts.clientId)) throw new SyncError('invalid_input', 'clientId must be a lowercase UUID');
    if (!isWebSocketUrl(opts.serverUrl)) throw new SyncError('invalid_input', `serverUrl must be a ws:// or wss:// URL, not ${JSON.stringify(opts.serverUrl)}`);
    const reconnect = opts.reconnect ?? { minMs: 250, maxMs: 30_000 };
    const heartbeat = opts.heartbeat ?? { intervalMs: 15_000, timeoutMs: 10_000 };
    if (!isDelay(reconnect.minMs) || !isDelay(reconnect.maxMs) || reconnect.maxMs < reconnect.minMs) {
      throw new SyncError('invalid_input', `reconnect needs whole milliseconds with 0 < minMs <= maxMs <= ${MAX_DELAY_MS}`);
    }
    if (!isDelay(heartbeat.intervalMs) || !isDelay(heartbeat.timeoutMs)) throw new SyncError('invalid_input', `heartbeat needs whole milliseconds from 1 to ${MAX_DELAY_MS}`);
    if (opts.durability !== undefined && opts.durability !== 'normal' && opts.durability !== 'full') throw new SyncError('invalid_input', "durability is 'normal' or 'full'");
    if (opts.queryTimeLimitMs !== undefined && !isDelay(opts.queryTimeLimitMs)) throw new SyncError('invalid_input', `queryTimeLimitMs: whole milliseconds from 1 to ${MAX_DELAY_MS}`);
    if (opts.attachmentFetch !== undefined && opts.attachmentFetch !== 'lazy' && opts.attachmentFetch !== 'eager') throw new SyncError('invalid_input', "attachmentFetch is 'lazy' or 'eager'");
    const cacheBytes = opts.attachmentCacheBytes ?? DEFAULT_ATTACHMENT_CACHE_BYTES;
    if (typeof cacheBytes !== 'number' || !Number.isSafeInteger(cacheBytes) || cacheBytes < 0) throw new SyncError('invalid_input', 'attachmentCacheBytes must be a whole number of bytes, 0 or more');
    const tlsCa = opts.tlsCa === undefined ? undefined : readCa(opts.tlsCa);
    const log = opts.logger ?? silentLogger;
    const store = LocalStore.open(opts.databasePath, {
      durability: opts.durability ?? 'normal',
      nativeBinding: opts.nativeBinding,
      encryptionKey: opts.encryptionKey ?? null,
    });
    let clientId = store.getState('client_id');
    if (!clientId) {
      clientId = opts.clientId ?? newUuid();
      store.setState('client_id', clientId);
    }
    this.clientId = clientId;
    this.store = store;
    this.events = new EventHub(log);
    this.transport = new Transport(
      {
        serverUrl: opts.serverUrl,
        email: opts.email,
        apiKey: opts.apiKey,
        apiSecret: opts.apiSecret,
        clientId,
        reconnect,
        heartbeat,
        clockOffset: Number(store.getState('clock_offset') ?? 0),
        ...(tlsCa ? { tlsCa } : {}),
        logger: log,
      },
      {
        attempt: (n) => this.events.emit(EventType.ConnectionAttempted, { numericData: n }),
        authenticated: (m) => this.onAuthenticated(m),
        message: (m) => {
          if (!this.attachments.handles(m)) this.sync.inbox.push(m);
        },
        binary: (frame) => this.attachments.frame(frame),
        invalid: (error, raw) => this.sync.inbox.push({ type: 'invalid', error, raw }),
        authError: (reason) => this.events.emit(EventType.SyncError, { error: reason }),
        clockOffset: (s) => store.setState('clock_offset', String(s)),
        lost: (reason, code) => this.onLost(reason, code),
        refused: (reason) => this.events.emit(EventType.ConnectionLost, { error: reason }),
      },
    );
    this.sync = assembleSync({
      store,
      wire: this.transport,
      events: this.events,
      log,
      clientId,
      isClosed: () => this.closed,
      drained: () => this.checkSynced(),
      yielding: () => this.callsWaiting(),
      admit: (id, content) => this.indexes.assertUnique(id, content),
    });
    this.indexes = new Indexes(store);
    this.queries = new Queries(store.db, () => this.indexes.catalog(), opts.queryTimeLimitMs ?? DEFAULT_QUERY_TIME_LIMIT_MS);
    this.live = new LiveQueries(store, this.queries, log);
    this.sync.counts.onCommitted(() => this.live.committed());
    this.undoStack = new UndoStack(store);
    this.attachments = new Attachments(
      { store, wire: this.transport, events: this.events, log, isClosed: () => this.closed },
      { fetch: opts.attachmentFetch ?? 'lazy', cacheBytes },
    );
    // Connect on the next turn: handlers attached right after open() see the first ConnectionAttempted.
    this.wantOnline = opts.online !== false;
    setImmediate(() => {
      if (!this.closed && this.wantOnline) this.transport.setOnline(true);
    });
  }

  /** Opens (or creates) the database and returns at once; connecting goes on in the background. */
  static open(opts: EngineOptions): SyncEngine {
    if (!opts || typeof opts !== 'object') throw new SyncError('invalid_input', 'options are required');
    return new SyncEngine(opts);
  }

  /**
   * Re-encrypts the database with `newKey` (32 bytes or a passphrase), encrypts a plain one, or
   * (null) decrypts it — in place, crash-safely: killed midway, the file opens with the old key
   * (or none) until the rekey commits, with the new one after. Synchronous: writes and incoming
   * changes wait until it is done (about a second per 30 MB). Store the new key only once it
   * returns.
   */
  rekey(newKey: EncryptionKey | null): void {
    this.ensureOpen();
    this.store.rekey(newKey);
  }

  /** Whether the database file is encrypted. */
  isEncrypted(): boolean {
    return this.store.isEncrypted();
  }

  // ---- documents ------------------------------------------------------------------------------

  createDocument<C extends JsonObject>(content: C, options: { id?: string } = {}): string {
    this.ensureOpen();
    const id = options.id ?? newTimeOrderedUuid();
    if (!isUuid(id)) throw new SyncError('invalid_input', 'document id must be a lowercase canonical UUID');
    const c = checked(content);
    this.localChange(id, 'local', createPlan(id, c.content, c.text));
    return id;
  }

  /**
   * Creates many documents in one transaction (far faster than one call each): all are written
   * or, if any is refused, none. Returns their ids in order.
   */
  createDocuments<C extends JsonObject>(contents: C[], options: { ids?: string[] } = {}): string[] {
    this.ensureOpen();
    if (!Array.isArray(contents)) throw new SyncError('invalid_input', 'createDocuments takes an array of contents');
    const ids = options.ids ?? contents.map(() => newTimeOrderedUuid());
    if (!Array.isArray(ids) || ids.length !== contents.length) throw new SyncError('invalid_input', 'ids must be an array as long as contents');
    if (new Set(ids).size !== ids.length) throw new SyncError('invalid_input', 'ids must not repeat');
    const items = contents.map((content, i) => {
      const id = ids[i];
      if (typeof id !== 'string' || !isUuid(id)) throw new SyncError('invalid_input', `ids[${i}] must be a lowercase canonical UUID`);
      return { id, ...checked(content) };
    });
    this.attachments.localWrite(() => this.sync.local.createMany(items));
    return ids;
  }

  /** Full replacement: keys missing from `content` are removed. Sent as a minimal RFC 6902 patch. */
  updateDocument<C extends JsonObject>(id: string, content: C): void {
    this.ensureOpen();
    const next = checked(content);
    this.localChange(id, 'local', (c) => {
      const current = requireLive(id, c);
      const ops = diff(current, next.content);
      return ops.length === 0 ? null : { kind: 'update', content: next.content, contentText: next.text, forward: ops, reverse: reversePatch(current, next.content) };
    });
  }

  /** Applies RFC 6902 operations; they are sent as given, each with its known members only. */
  patchDocument(id: string, ops: PatchOp[]): void {
    this.ensureOpen();
    const clean = translated(() => parsePatch(ops));
    this.localChange(id, 'local', (c) => {
      const current = requireLive(id, c);
      const next = translated(() => applyPatch(current, clean));
      return { kind: 'update', content: next, forward: clean, reverse: reversePatch(current, next) };
    });
  }

  /** RFC 7386 merge patch (null removes a member), turned into RFC 6902 ops locally. */
  mergeDocument(id: string, partial: JsonObject): void {
    this.ensureOpen();
    if (!isPlainObject(partial)) throw new SyncError('invalid_input', 'a merge patch must be a JSON object');
    translated(() => assertDocumentContent(partial));
    this.localChange(id, 'local', (c) => {
      const current = requireLive(id, c);
      const next = checked(applyMergePatch(current, partial));
      const ops = diff(current, next.content);
      return ops.length === 0 ? null : { kind: 'update', content: next.content, contentText: next.text, forward: ops, reverse: reversePatch(current, next.content) };
    });
  }

  deleteDocument(id: string): void {
    this.ensureOpen();
    this.localChange(id, 'local', (c) => ({ kind: 'delete', content: null, forward: null, reverse: requireLive(id, c) }));
  }

  getDocument<C extends JsonObject = JsonObject>(id: string): DocumentSnapshot<C> | null {
    this.ensureOpen();
    if (typeof id !== 'string') throw new SyncError('invalid_input', 'document id must be a string');
    const view = this.store.getView(id);
    return view ? snapshot<C>(view) : null;
  }

  listDocuments<C extends JsonObject = JsonObject>(options: { includeDeleted?: boolean } = {}): DocumentSnapshot<C>[] {
    this.ensureOpen();
    return this.store.listViews(options.includeDeleted === true).map((v) => snapshot<C>(v));
  }

  countDocuments(): number {
    this.ensureOpen();
    return this.sync.counts.documents;
  }

  /** Outbox entries the server has not answered yet. */
  pendingCount(): number {
    this.ensureOpen();
    return this.sync.outbox.pending;
  }

  isConnected(): boolean {
    return !this.closed && this.transport.live;
  }

  /** Stop (false) or resume (true) connecting. Local calls keep working either way. */
  setOnline(online: boolean): void {
    this.ensureOpen();
    if (typeof online !== 'boolean') throw new SyncError('invalid_input', 'setOnline takes a boolean');
    this.wantOnline = online;
    this.transport.setOnline(online);
  }

  /** Resolves when the outbox is empty and catch-up is done; rejects with code `timeout` otherwise. */
  whenSynced(timeoutMs = 10_000): Promise<void> {
    this.ensureOpen();
    if (this.isSynced()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.syncWaiters = this.syncWaiters.filter((w) => w !== waiter);
          reject(new SyncError('timeout', `not synced within ${timeoutMs} ms (${this.sync.outbox.size} outbox entries, ${this.isConnected() ? 'connected' : 'not connected'})`));
        }, timeoutMs),
      };
      this.syncWaiters.push(waiter);
    });
  }

  conflicts(): ConflictRecord[] {
    this.ensureOpen();
    return this.store.conflicts().map((c) => ({
      documentId: c.document_id,
      mutationId: c.mutation_id,
      kind: c.kind,
      reason: c.reason,
      message: c.message,
      rejected: c.rejected === null ? null : JSON.parse(c.rejected),
      serverDocument: c.server_document === null ? null : (JSON.parse(c.server_document) as WireDocument),
      createdAt: c.created_at,
    }));
  }

  /** Local and remote changes of one document, oldest first. */
  history(id: string): HistoryEntry[] {
    this.ensureOpen();
    return this.store.history(id).map(toHistoryEntry);
  }

  /**
   * Reverts this engine's latest local change to the document not yet undone, as a new change that
   * syncs. Fails with `conflict` (writing nothing) when a later change touched an overlapping path.
   */
  undo(id: string): void {
    this.revert(id, 'undo');
  }

  /** Re-applies the change most recently undone; any new local change of the document clears redo. */
  redo(id: string): void {
    this.revert(id, 'redo');
  }

  // ---- queries (docs/queries.md) ----------------------------------------------------------------

  /**
   * Answers a query (its JSON object, or that object as text) from the local replica: live
   * documents only, this engine's own writes included at once, offline the same. A page of
   * documents and the cursor of the next (`after`), or `{count}`. Errors name the offending part
   * of the query (`invalid_input`).
   */
  query<C extends JsonObject = JsonObject>(query: QueryInput): QueryPage<C> | { count: number } {
    this.ensureOpen();
    const result = this.queries.run(queryText(query));
    if ('count' in result) return result;
    return { documents: result.documents.map((d) => snapshotOfJson<C>(d)), next: result.next };
  }

  /**
   * The one statement a read-only connection to this database file answers the query with (one
   * row, one column: the result's JSON text, as `query` gives it), for readers on other threads
   * (the C library's); null when only this engine's connection can run it (a `$regex`: the function
   * lives here). Valid until an index is created or dropped (the file's schema changes with it).
   */
  readerStatement(query: QueryInput): string | null {
    this.ensureOpen();
    const { compiled } = this.queries.compile(queryText(query));
    return compiled.regex ? null : compiled.sql;
  }

  /** How a query runs: the SQL statement, the index it reads (null: a scan), and SQLite's plan. */
  explain(query: QueryInput): { sql: string; index: string | null; plan: string[] } {
    this.ensureOpen();
    return this.queries.explain(queryText(query));
  }

  /**
   * A live query: `handler` gets the first result (every document as `added`), then, after each
   * commit that changes the result — local or remote, one call per commit — what changed.
   * `total: true` also reports the number of all matches. Returns the function that stops it.
   */
  watch(query: QueryInput, handler: LiveHandler, options: { total?: boolean } = {}): () => void {
    this.ensureOpen();
    return this.live.watch(queryText(query), handler, options);
  }

  /** Declares an index over dotted content paths, built over the documents there are; `unique` refuses local changes that would repeat a key. */
  createIndex(spec: IndexSpec): void {
    this.ensureOpen();
    this.indexes.create('value', spec);
  }

  /** Declares a full-text index over the strings of these fields (case and diacritics folded): `search` uses it. */
  createTextIndex(spec: Omit<IndexSpec, 'unique'>): void {
    this.ensureOpen();
    this.indexes.create('text', spec);
  }

  dropIndex(name: string): void {
    this.ensureOpen();
    this.indexes.drop(name);
  }

  listIndexes(): IndexInfo[] {
    this.ensureOpen();
    return this.indexes.list();
  }

  // ---- attachments (docs/protocol.md, Attachments) ---------------------------------------------

  /**
   * Stores bytes as an attachment and returns the reference to put in documents. The bytes upload
   * in the background (beside document sync, never before it); adding the same bytes again keeps
   * one copy. More than the server's max_attachment_bytes is `invalid_input`.
   */
  addAttachment(bytes: Uint8Array, options?: AddOptions): AttachmentRef {
    this.ensureOpen();
    return this.attachments.add(bytes, options);
  }

  /** addAttachment from a file, streamed: hashed as it is stored, never whole in memory. */
  addAttachmentFile(path: string, options?: AddOptions): Promise<AttachmentRef> {
    return this.run(() => this.attachments.addFile(path, options));
  }

  /** addAttachment from a stream or async iterable of byte chunks, stored as they come. */
  addAttachmentStream(source: ByteSource, options?: AddOptions): Promise<AttachmentRef> {
    return this.run(() => this.attachments.addStream(source, options));
  }

  /** An attachment's bytes when they are complete on this device; null otherwise (nothing is fetched). */
  readAttachment(id: AttachmentId): Buffer | null {
    this.ensureOpen();
    return this.attachments.read(id);
  }

  /** An attachment's bytes, fetched first when they are not here (`connection` when offline, `not_found` when the server has none for this user). */
  getAttachment(id: AttachmentId): Promise<Buffer> {
    return this.run(() => this.attachments.get(id));
  }

  /** Writes an attachment to `path` (fetched first when needed): into a temporary file beside it, then renamed. */
  saveAttachment(id: AttachmentId, path: string): Promise<void> {
    return this.run(() => this.attachments.save(id, path));
  }

  /** An attachment's bytes as a stream, fetched first when needed (errors end the stream). */
  attachmentStream(id: AttachmentId): Readable {
    this.ensureOpen();
    return this.attachments.stream(id);
  }

  /** Makes an attachment's bytes local (nothing to do when they are); progress events as it goes. */
  fetchAttachment(id: AttachmentId): Promise<void> {
    return this.run(() => this.attachments.fetch(id));
  }

  /** What this device has of an attachment; null when it knows nothing of it. */
  attachmentState(id: AttachmentId): AttachmentState | null {
    this.ensureOpen();
    return this.attachments.state(id);
  }

  /** Attachments added here that the server does not have yet. */
  pendingAttachmentUploads(): number {
    this.ensureOpen();
    return this.attachments.pendingUploads();
  }

  // ---- events ---------------------------------------------------------------------------------

  on<C extends JsonObject = JsonObject>(name: EventName, handler: EventHandler<C>): this {
    this.ensureOpen();
    this.events.on(name, handler as EventHandler);
    return this;
  }

  off<C extends JsonObject = JsonObject>(name: EventName, handler: EventHandler<C>): this {
    this.events.off(name, handler as EventHandler);
    return this;
  }

  /**
   * Calls `handler` after each commit that may have changed countDocuments() or pendingCount() (a
   * local change, a slice of server messages), before that commit's events are delivered: for
   * copies of the counts kept off the engine's thread. Returns a function that unsubscribes.
   */
  onCountsChanged(handler: () => void): () => void {
    this.ensureOpen();
    if (typeof handler !== 'function') throw new SyncError('invalid_input', 'handler must be a function');
    return this.sync.counts.onCommitted(handler);
  }

  /**
   * `waiting()` is asked between server messages while a slice of them is applied; when it says
   * true — calls from outside wait for this thread, as the C SDK's writes do — the slice ends there,
   * so they wait for one message instead of a whole slice (about a millisecond).
   */
  yieldSlicesWhen(waiting: () => boolean): void {
    this.ensureOpen();
    if (typeof waiting !== 'function') throw new SyncError('invalid_input', 'waiting must be a function');
    this.callsWaiting = waiting;
  }

  /**
   * WAL checkpoints — copying committed pages from the write-ahead log into the database file, with
   * an fsync — are run by `run()` on another connection and thread instead of on this engine's
   * connection. `run` must return at once; it is called when writes pause and when the log grows
   * past a few MB during writes that never pause. The C SDK does this on a thread of its own: a
   * checkpoint on the engine's thread held every call behind it, 150–190 ms for a 64 MB log on this
   * project's machines.
   */
  checkpointWith(run: () => void): void {
    this.ensureOpen();
    if (typeof run !== 'function') throw new SyncError('invalid_input', 'run must be a function');
    this.store.checkpointWith(run);
  }

  /** Every event as one record; `filter` limits it to some types. Returns a function that unsubscribes. */
  onEvent(handler: EventHandler, filter?: EventType | EventType[]): () => void {
    this.ensureOpen();
    return this.events.onEvent(handler, filter);
  }

  // ---- lifecycle ------------------------------------------------------------------------------

  /** Flushes what it can within `timeoutMs` (when connected), then closes socket and database. Later calls fail with code `closed`. */
  async close(timeoutMs = 2000): Promise<void> {
    if (this.closed) return;
    if (this.transport.live && this.sync.outbox.size > 0) await this.whenSynced(timeoutMs).catch(() => {});
    if (this.closed) return;
    this.closed = true;
    this.live.close();
    this.attachments.close();
    this.sync.session.sender.close();
    this.transport.close();
    this.sync.inbox.clear();
    for (const w of this.syncWaiters) {
      clearTimeout(w.timer);
      w.reject(new SyncError('closed', 'the engine was closed'));
    }
    this.syncWaiters = [];
    this.store.close();
  }

  // ---- internals ------------------------------------------------------------------------------

  private ensureOpen(): void {
    if (this.closed) throw new SyncError('closed', 'the engine is closed');
  }

  /** An asynchronous call: its checks fail as a rejected promise, never a throw. */
  private async run<T>(call: () => Promise<T>): Promise<T> {
    this.ensureOpen();
    return call();
  }

  /** A local change; documents it writes that refer to attachments re-queue their uploads (see Attachments.localWrite). */
  private localChange(...args: Parameters<SyncParts['local']['change']>): void {
    this.attachments.localWrite(() => this.sync.local.change(...args));
  }

  private revert(id: string, direction: Direction): void {
    this.ensureOpen();
    const entry = this.undoStack.target(id, direction);
    this.localChange(
      id,
      direction,
      (c) => this.undoStack.plan(entry, c.view !== undefined && c.view.deleted === 0, c.content, direction),
      () => this.undoStack.done(entry, direction),
    );
  }

  private onAuthenticated(m: ServerMessageOf<'auth_success'>): void {
    this.events.emit(EventType.ConnectionSucceeded, {});
    this.events.emit(EventType.SyncStarted, {});
    if (this.closed) return;
    this.sync.inbox.connected();
    this.sync.session.authenticated(m.latest_sequence);
    this.attachments.connected(m.limits.max_attachment_bytes);
  }

  private onLost(reason: string, code: number): void {
    this.sync.session.lost(code);
    this.attachments.lost();
    this.events.emit(EventType.ConnectionLost, { error: reason });
  }

  private isSynced(): boolean {
    return this.transport.live && !this.sync.session.busy && this.sync.inbox.size === 0 && this.sync.outbox.size === 0;
  }

  private checkSynced(): void {
    if (this.syncWaiters.length === 0 || this.closed || !this.isSynced()) return;
    const waiters = this.syncWaiters;
    this.syncWaiters = [];
    for (const w of waiters) {
      clearTimeout(w.timer);
      w.resolve();
    }
  }
}

/** The CA option as PEM text: given inline, or read from the file it names. */
function readCa(ca: unknown): string {
  if (typeof ca !== 'string' || ca === '') throw new SyncError('invalid_input', 'tlsCa must be PEM text or the path of a PEM file');
  if (ca.includes('-----BEGIN CERTIFICATE-----')) return ca;
  let text: string;
  try {
    text = readFileSync(ca, 'utf8');
  } catch (err) {
    throw new SyncError('invalid_input', `tlsCa: cannot read ${ca}: ${(err as Error).message}`, { cause: err });
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) throw new SyncError('invalid_input', `tlsCa: ${ca} holds no PEM certificate`);
  return text;
}

function isWebSocketUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === 'ws:' || u.protocol === 'wss:';
  } catch {
    return false;
  }
}

/** Runs a core check, reporting its failure as the API's `invalid_input`. */
function translated<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof SyncError) throw err;
    if (err instanceof ProtocolError) throw new SyncError('invalid_input', err.message, { cause: err });
    throw new SyncError('invalid_input', (err as Error).message ?? String(err), { cause: err });
  }
}

/**
 * Validated content as a private copy (later changes to the caller's object must not reach the
 * store) and its JSON text.
 */
function checked(content: unknown): { content: JsonObject; text: string } {
  if (!isPlainObject(content)) throw new SyncError('invalid_input', 'document content must be a JSON object');
  const text = translated(() => assertDocumentContent(content));
  return { content: JSON.parse(text) as JsonObject, text };
}

function requireLive(id: string, c: Current): JsonObject {
  if (!c.content) throw new SyncError('not_found', `no document ${id}`);
  return c.content;
}

/** A query as text: the JSON object given, or text given as it is (checked when parsed). */
function queryText(query: QueryInput): string {
  if (typeof query === 'string') return query;
  if (!isPlainObject(query)) throw new SyncError('invalid_input', 'a query is a JSON object (or its text)');
  return JSON.stringify(query);
}

function snapshotOfJson<C extends JsonObject>(d: QueryDocumentJson): DocumentSnapshot<C> {
  return {
    id: d.id,
    title: d.title,
    content: d.content as C,
    syncRevision: d.sync_revision,
    pending: d.pending,
    createdAt: d.created_at,
    updatedAt: d.updated_at,
    deletedAt: d.deleted_at,
  };
}

function snapshot<C extends JsonObject>(v: ViewRow): DocumentSnapshot<C> {
  return {
    id: v.id,
    title: v.title,
    content: JSON.parse(v.content) as C,
    syncRevision: v.revision,
    pending: v.pending,
    createdAt: v.created_at,
    updatedAt: v.updated_at,
    deletedAt: v.deleted_at,
  };
}

function toHistoryEntry(h: ChangeRow): HistoryEntry {
  return {
    id: h.seq,
    documentId: h.document_id,
    origin: h.origin,
    kind: h.kind,
    forward: h.forward === null ? null : JSON.parse(h.forward),
    reverse: h.reverse === null ? null : JSON.parse(h.reverse),
    mutationId: h.mutation_id,
    sequence: h.sequence,
    syncRevision: h.sync_revision,
    undone: h.undone === 1,
    createdAt: h.created_at,
  };
}
