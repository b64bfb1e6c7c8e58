import {
  anyOverlap,
  applyPatch,
  assertDocumentContent,
  contentHash,
  DEFAULT_LIMITS,
  diff,
  isPlainObject,
  isUuid,
  newUuid,
  parsePatch,
  ProtocolError,
  reversePatch,
  ROOT_PATH,
  titleOf,
  touchedPaths,
  type ClientMessage,
  type JsonObject,
  type PatchOp,
  type ServerMessage,
  type ServerMessageOf,
  type WireDocument,
} from '@json-sync/core';
import { SyncError } from './errors.js';
import { EVENT_NAMES, EventType, type EventHandler, type EventName, type SyncEvent } from './events.js';
import { silentLogger, type Logger } from './logger.js';
import { applyMergePatch } from './merge-patch.js';
import { LocalStore, type DocumentRecord, type HistoryOrigin, type HistoryRecord, type MutationKind, type OutboxEntry } from './storage/local-store.js';
import { computeView } from './sync/view.js';
import { Transport } from './transport/transport.js';

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
  origin: HistoryOrigin;
  kind: MutationKind;
  forward: unknown;
  reverse: unknown;
  mutationId: string | null;
  sequence: number | null;
  syncRevision: number | null;
  undone: boolean;
  createdAt: string;
}

/** A change from the server's ordered stream: a push, a reply to one of ours, or a catch-up event. */
interface StreamChange {
  sequence: number;
  documentId: string;
  type: 'create' | 'update' | 'delete';
  /** Full content: creates, and merged updates (the server's result). */
  content?: JsonObject;
  ops?: PatchOp[];
  syncRevision: number;
  contentHash: string | null;
  mutationId: string | null;
  clientId: string | null;
  at: string;
}

/** What the inbox holds: server messages, and frames that failed validation (kept in their place in the order). */
type InboxItem = ServerMessage | { type: 'invalid'; error: string; raw: unknown };

const MAX_IN_FLIGHT = 64;
/** Room for a mutation message's fields around its payload. */
const MESSAGE_OVERHEAD_BYTES = 512;
/** How long one turn of the event loop may spend applying server messages. */
const INBOX_SLICE_MS = 4;
/** Server messages held unapplied before the socket stops being read. */
const INBOX_HIGH = 512;
/** First and longest wait before asking again for what an invalid server message left unanswered. */
const INVALID_RETRY_MIN_MS = 500;
const INVALID_RETRY_MAX_MS = 30_000;
/** Node's timers overflow above 2^31 - 1 ms (they would fire at once). */
const MAX_DELAY_MS = 2 ** 31 - 1;

function isDelay(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= MAX_DELAY_MS;
}
const PERMANENT_ERRORS = new Set(['invalid_message', 'invalid_patch', 'document_not_found', 'document_exists', 'message_too_large']);

/**
 * The offline-first sync engine. Every document call completes on the local SQLite file and
 * returns at once; a background connection uploads the outbox, applies the server's change
 * stream in sequence order and keeps the local view = server state + pending local edits.
 */
export class SyncEngine {
  private readonly store: LocalStore;
  private readonly transport: Transport;
  private readonly log: Logger;
  readonly clientId: string;
  private closed = false;
  /** What the application asked for: connect (true) or stay offline (false). */
  private wantOnline: boolean;
  private readonly handlers = new Map<EventType, Set<EventHandler>>();
  private readonly allHandlers = new Set<{ handler: EventHandler; filter: Set<EventType> | null }>();

  private cursor: number;
  private readonly inFlight = new Map<string, string>(); // mutation_id → document_id
  private readonly inFlightDocs = new Set<string>();
  private readonly coolingDown = new Map<string, number>(); // mutation_id → earliest resend time
  private retryTimer: NodeJS.Timeout | null = null;
  private pumpScheduled = false;
  private catchingUp = false;
  private fullSync: { seen: Set<string>; tainted: boolean } | null = null;
  private fullSyncWanted = false;
  /** Catch-up page size; halved when a page did not fit in one frame. */
  private pageLimit = 500;
  private highestSeen = 0;
  private initialSync = false;
  private remoteApplied = 0;
  /** Server messages received and not yet applied, oldest first. */
  private inbox: InboxItem[] = [];
  /** Delay before asking again for a catch-up page the server answered with an invalid message. */
  private invalidRetryMs = INVALID_RETRY_MIN_MS;
  private syncWaiters: { resolve: () => void; reject: (e: Error) => void; timer: NodeJS.Timeout }[] = [];

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
    this.log = opts.logger ?? silentLogger;
    this.store = LocalStore.open(opts.databasePath, { durability: opts.durability ?? 'normal', nativeBinding: opts.nativeBinding });
    let clientId = this.store.getState('client_id');
    if (!clientId) {
      clientId = opts.clientId ?? newUuid();
      this.store.setState('client_id', clientId);
    }
    this.clientId = clientId;
    this.cursor = Number(this.store.getState('cursor') ?? 0);
    this.transport = new Transport(
      {
        serverUrl: opts.serverUrl,
        email: opts.email,
        apiKey: opts.apiKey,
        apiSecret: opts.apiSecret,
        clientId,
        reconnect,
        heartbeat,
        clockOffset: Number(this.store.getState('clock_offset') ?? 0),
        logger: this.log,
      },
      {
        attempt: (n) => this.emit(EventType.ConnectionAttempted, { numericData: n }),
        authenticated: (m) => this.onAuthenticated(m),
        message: (m) => this.onMessage(m),
        invalid: (error, raw) => this.onMessage({ type: 'invalid', error, raw }),
        authError: (reason) => this.emit(EventType.SyncError, { error: reason }),
        clockOffset: (s) => this.store.setState('clock_offset', String(s)),
        lost: (reason, code) => this.onLost(reason, code),
      },
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

  // ---- documents ------------------------------------------------------------------------------

  createDocument<C extends JsonObject>(content: C, options: { id?: string } = {}): string {
    this.ensureOpen();
    const id = options.id ?? newUuid();
    if (!isUuid(id)) throw new SyncError('invalid_input', 'document id must be a lowercase canonical UUID');
    const checked = this.checkContent(content);
    this.change(id, 'local', (doc) => {
      if (doc && doc.deleted === 0) throw new SyncError('conflict', `document ${id} already exists`);
      return { kind: 'create', content: checked, payload: checked, forward: checked, reverse: null };
    });
    return id;
  }

  /** Full replacement: keys missing from `content` are removed. Sent as a minimal RFC 6902 patch. */
  updateDocument<C extends JsonObject>(id: string, content: C): void {
    this.ensureOpen();
    const next = this.checkContent(content);
    this.change(id, 'local', (doc, view) => {
      const ops = diff(this.requireLive(id, doc, view), next);
      return ops.length === 0 ? null : { kind: 'update', content: next, payload: ops, forward: ops, reverse: reversePatch(view!, next) };
    });
  }

  /** Applies RFC 6902 operations; they are sent as given, each with its known members only. */
  patchDocument(id: string, ops: PatchOp[]): void {
    this.ensureOpen();
    const clean = this.checkPatch(ops);
    this.change(id, 'local', (doc, view) => {
      const current = this.requireLive(id, doc, view);
      const next = this.applyOps(current, clean);
      return { kind: 'update', content: next, payload: clean, forward: clean, reverse: reversePatch(current, next) };
    });
  }

  /** RFC 7386 merge patch (null removes a member), turned into RFC 6902 ops locally. */
  mergeDocument(id: string, partial: JsonObject): void {
    this.ensureOpen();
    if (!isPlainObject(partial)) throw new SyncError('invalid_input', 'a merge patch must be a JSON object');
    this.checkJson(partial);
    this.change(id, 'local', (doc, view) => {
      const current = this.requireLive(id, doc, view);
      const next = this.checkContent(applyMergePatch(current, partial) as JsonObject);
      const ops = diff(current, next);
      return ops.length === 0 ? null : { kind: 'update', content: next, payload: ops, forward: ops, reverse: reversePatch(current, next) };
    });
  }

  deleteDocument(id: string): void {
    this.ensureOpen();
    this.change(id, 'local', (doc, view) => {
      const current = this.requireLive(id, doc, view);
      return { kind: 'delete', content: null, payload: null, forward: null, reverse: current };
    });
  }

  getDocument<C extends JsonObject = JsonObject>(id: string): DocumentSnapshot<C> | null {
    this.ensureOpen();
    if (typeof id !== 'string') throw new SyncError('invalid_input', 'document id must be a string');
    const doc = this.store.getDocument(id);
    return doc ? this.snapshot<C>(doc) : null;
  }

  listDocuments<C extends JsonObject = JsonObject>(options: { includeDeleted?: boolean } = {}): DocumentSnapshot<C>[] {
    this.ensureOpen();
    return this.store.listDocuments(options.includeDeleted === true).map((d) => this.snapshot<C>(d));
  }

  countDocuments(): number {
    this.ensureOpen();
    return this.store.countDocuments();
  }

  /** Outbox entries the server has not answered yet. */
  pendingCount(): number {
    this.ensureOpen();
    return this.store.pendingCount();
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
          reject(new SyncError('timeout', `not synced within ${timeoutMs} ms (${this.store.outboxCount()} outbox entries, ${this.isConnected() ? 'connected' : 'not connected'})`));
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
    this.ensureOpen();
    const entry = this.store.latestUndoable(id);
    if (!entry) throw new SyncError('not_found', `nothing to undo for ${id}`);
    this.assertUntouchedSince(entry);
    this.change(id, 'undo', (doc, view) => this.inverseOf(entry, doc, view, 'undo'), () => this.store.markUndone(entry.id));
  }

  /** Re-applies the change most recently undone; any new local change of the document clears redo. */
  redo(id: string): void {
    this.ensureOpen();
    const entry = this.store.latestRedoable(id);
    if (!entry) throw new SyncError('not_found', `nothing to redo for ${id}`);
    // Local changes since would have cleared redo, and undos/redos are this chain itself: only others' changes count.
    this.assertUntouchedSince(entry, true);
    this.change(id, 'redo', (doc, view) => this.inverseOf(entry, doc, view, 'redo'), () => this.store.markRedone(entry.id));
  }

  // ---- events ---------------------------------------------------------------------------------

  on<C extends JsonObject = JsonObject>(name: EventName, handler: EventHandler<C>): this {
    this.ensureOpen();
    const type = EVENT_NAMES[name];
    if (type === undefined) throw new SyncError('invalid_input', `unknown event ${String(name)}`);
    let set = this.handlers.get(type);
    if (!set) this.handlers.set(type, (set = new Set()));
    set.add(handler as EventHandler);
    return this;
  }

  off<C extends JsonObject = JsonObject>(name: EventName, handler: EventHandler<C>): this {
    this.handlers.get(EVENT_NAMES[name])?.delete(handler as EventHandler);
    return this;
  }

  /** Every event as one record; `filter` limits it to some types. Returns a function that unsubscribes. */
  onEvent(handler: EventHandler, filter?: EventType | EventType[]): () => void {
    this.ensureOpen();
    if (typeof handler !== 'function') throw new SyncError('invalid_input', 'handler must be a function');
    const entry = { handler, filter: filter === undefined ? null : new Set(Array.isArray(filter) ? filter : [filter]) };
    this.allHandlers.add(entry);
    return () => this.allHandlers.delete(entry);
  }

  // ---- lifecycle ------------------------------------------------------------------------------

  /** Flushes what it can within `timeoutMs` (when connected), then closes socket and database. Later calls fail with code `closed`. */
  async close(timeoutMs = 2000): Promise<void> {
    if (this.closed) return;
    if (this.transport.live && this.store.outboxCount() > 0) await this.whenSynced(timeoutMs).catch(() => {});
    if (this.closed) return;
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.transport.close();
    for (const w of this.syncWaiters) {
      clearTimeout(w.timer);
      w.reject(new SyncError('closed', 'the engine was closed'));
    }
    this.syncWaiters = [];
    this.store.close();
  }

  // ---- local changes --------------------------------------------------------------------------

  private ensureOpen(): void {
    if (this.closed) throw new SyncError('closed', 'the engine is closed');
  }

  private checkJson(value: unknown): void {
    try {
      assertDocumentContent(isPlainObject(value) ? value : { value });
    } catch (err) {
      throw translate(err);
    }
  }

  private checkContent(content: unknown): JsonObject {
    if (!isPlainObject(content)) throw new SyncError('invalid_input', 'document content must be a JSON object');
    let text: string;
    try {
      text = assertDocumentContent(content);
    } catch (err) {
      throw translate(err);
    }
    // A private copy: later changes to the caller's object must not reach the store.
    return JSON.parse(text) as JsonObject;
  }

  private checkPatch(ops: unknown): PatchOp[] {
    try {
      return parsePatch(ops);
    } catch (err) {
      throw translate(err);
    }
  }

  private applyOps(content: JsonObject, ops: PatchOp[]): JsonObject {
    try {
      return applyPatch(content, ops);
    } catch (err) {
      throw translate(err);
    }
  }

  private requireLive(id: string, doc: DocumentRecord | undefined, view: JsonObject | null): JsonObject {
    if (!doc || doc.deleted === 1 || !view) throw new SyncError('not_found', `no document ${id}`);
    return view;
  }

  /**
   * One local change: the document's new view, its outbox entry and its history entry commit in
   * one transaction; then exactly one event fires.
   */
  private change(
    id: string,
    origin: Exclude<HistoryOrigin, 'remote'>,
    plan: (
      doc: DocumentRecord | undefined,
      view: JsonObject | null,
    ) => { kind: MutationKind; content: JsonObject | null; payload: unknown; forward: unknown; reverse: unknown } | null,
    after?: () => void,
  ): void {
    if (typeof id !== 'string' || !isUuid(id)) throw new SyncError('not_found', `no document ${String(id)}`);
    let event: { type: EventType; content: JsonObject | null } | null = null;
    this.store.transaction(() => {
      const doc = this.store.getDocument(id);
      const view = doc && doc.deleted === 0 ? (JSON.parse(doc.content) as JsonObject) : null;
      const step = plan(doc, view);
      if (!step) return;
      const now = new Date().toISOString();
      const mutationId = newUuid();
      // Payload, content and history often are one object: serialise each object once.
      const texts = new Map<unknown, string>();
      const text = (v: unknown): string => {
        let t = texts.get(v);
        if (t === undefined) texts.set(v, (t = JSON.stringify(v)));
        return t;
      };
      const payload = step.payload === null ? null : text(step.payload);
      // The change must fit in one protocol message, or it could never be sent.
      if (payload !== null && Buffer.byteLength(payload) + MESSAGE_OVERHEAD_BYTES > DEFAULT_LIMITS.max_frame_bytes) {
        throw new SyncError('invalid_input', `the change is too large to send (over ${DEFAULT_LIMITS.max_frame_bytes} bytes as one message)`);
      }
      this.store.addOutbox(mutationId, id, step.kind, payload, now);
      const deleted = step.kind === 'delete';
      const content = step.content ?? view ?? {};
      this.store.putDocument({
        id,
        base_content: doc?.base_content ?? null,
        base_revision: doc?.base_revision ?? null,
        base_deleted: doc?.base_deleted ?? 0,
        known_revision: doc?.known_revision ?? null,
        content: text(content),
        deleted: deleted ? 1 : 0,
        title: titleOf(content),
        created_at: doc && step.kind !== 'create' ? doc.created_at : (doc?.created_at ?? now),
        updated_at: now,
        deleted_at: deleted ? now : null,
      });
      this.store.addHistory({
        document_id: id,
        origin,
        kind: step.kind,
        forward: step.forward === null ? null : text(step.forward),
        reverse: step.reverse === null ? null : text(step.reverse),
        mutation_id: mutationId,
        sequence: null,
        sync_revision: null,
        created_at: now,
      });
      if (origin === 'local') this.store.clearRedo(id);
      after?.();
      event = {
        type: step.kind === 'create' ? EventType.DocumentCreated : deleted ? EventType.DocumentDeleted : EventType.DocumentUpdated,
        content: deleted ? null : content,
      };
    });
    if (!event) return;
    const e = event as { type: EventType; content: JsonObject | null };
    this.emit(e.type, { documentId: id, content: e.content, title: titleOf(e.content), booleanData: true });
    this.schedulePump();
  }

  private assertUntouchedSince(entry: HistoryRecord, onlyRemote = false): void {
    const mine = pathsOf(entry);
    const verb = onlyRemote ? 'redo' : 'undo';
    for (const later of this.store.historyAfter(entry.document_id, entry.id)) {
      // Changes undone since, and the undos themselves, cancel out.
      if (later.undone === 1 || later.origin === 'undo' || (onlyRemote && later.origin !== 'remote')) continue;
      if (anyOverlap(mine, pathsOf(later))) throw new SyncError('conflict', `a later change to ${entry.document_id} touched the same data; cannot ${verb}`);
    }
  }

  private inverseOf(entry: HistoryRecord, doc: DocumentRecord | undefined, view: JsonObject | null, direction: 'undo' | 'redo') {
    const id = entry.document_id;
    const revive = (content: JsonObject) => {
      if (doc && doc.deleted === 0) throw new SyncError('conflict', `document ${id} exists again; cannot ${direction}`);
      return { kind: 'create' as const, content, payload: content, forward: content, reverse: null };
    };
    const remove = () => ({ kind: 'delete' as const, content: null, payload: null, forward: null, reverse: this.requireLive(id, doc, view) });
    const patch = (ops: PatchOp[]) => {
      const current = this.requireLive(id, doc, view);
      let next: JsonObject;
      try {
        next = applyPatch(current, ops);
      } catch {
        throw new SyncError('conflict', `the document changed since; cannot ${direction}`);
      }
      return { kind: 'update' as const, content: next, payload: ops, forward: ops, reverse: reversePatch(current, next) };
    };
    const forward = entry.forward === null ? null : JSON.parse(entry.forward);
    const reverse = entry.reverse === null ? null : JSON.parse(entry.reverse);
    switch (entry.kind) {
      case 'create':
        return direction === 'undo' ? remove() : revive(forward as JsonObject);
      case 'delete':
        return direction === 'undo' ? revive(reverse as JsonObject) : remove();
      case 'update':
        return patch((direction === 'undo' ? reverse : forward) as PatchOp[]);
    }
  }

  private snapshot<C extends JsonObject>(d: DocumentRecord): DocumentSnapshot<C> {
    return {
      id: d.id,
      title: d.title,
      content: JSON.parse(d.content) as C,
      syncRevision: d.known_revision ?? d.base_revision,
      pending: this.store.pendingFor(d.id),
      createdAt: d.created_at,
      updatedAt: d.updated_at,
      deletedAt: d.deleted_at,
    };
  }

  // ---- events out -----------------------------------------------------------------------------

  private emit(type: EventType, fields: Partial<Omit<SyncEvent, 'type'>>): void {
    const event: SyncEvent = {
      type,
      documentId: fields.documentId ?? null,
      title: fields.title ?? null,
      content: fields.content ?? null,
      error: fields.error ?? null,
      numericData: fields.numericData ?? 0,
      booleanData: fields.booleanData ?? false,
    };
    const call = (h: EventHandler) => {
      try {
        h(event);
      } catch (err) {
        this.log.error(`event handler threw: ${(err as Error).message}`);
      }
    };
    for (const h of this.handlers.get(type) ?? []) call(h);
    for (const { handler, filter } of this.allHandlers) if (!filter || filter.has(type)) call(handler);
  }

  // ---- sending --------------------------------------------------------------------------------

  private schedulePump(): void {
    if (this.pumpScheduled || this.closed) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /** Sends outbox heads: one mutation in flight per document, up to 64 documents at once, oldest first. */
  private pump(): void {
    if (this.closed || !this.transport.live || this.fullSync) return;
    this.maybeStartFullSync();
    if (this.fullSync) return;
    const now = Date.now();
    let nextRetry = Infinity;
    for (const entry of this.store.outboxHeads(MAX_IN_FLIGHT * 2 + this.inFlight.size)) {
      if (this.inFlight.size >= MAX_IN_FLIGHT) break;
      if (this.inFlight.has(entry.mutation_id) || this.inFlightDocs.has(entry.document_id)) continue;
      const notBefore = this.coolingDown.get(entry.mutation_id);
      if (notBefore !== undefined && notBefore > now) {
        nextRetry = Math.min(nextRetry, notBefore);
        continue;
      }
      const text = entry.sent_message ?? this.firstSend(entry);
      if (!this.transport.send(JSON.parse(text) as ClientMessage)) return;
      this.inFlight.set(entry.mutation_id, entry.document_id);
      this.inFlightDocs.add(entry.document_id);
    }
    if (nextRetry !== Infinity && !this.retryTimer) {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        this.pump();
      }, nextRetry - now);
    }
  }

  /** Builds an entry's message once; resends repeat it exactly, as the server's idempotency compares payloads. */
  private firstSend(entry: OutboxEntry): string {
    const doc = this.store.getDocument(entry.document_id);
    const base = doc?.known_revision ?? doc?.base_revision ?? undefined;
    const payload = entry.payload === null ? null : JSON.parse(entry.payload);
    let message: ClientMessage;
    switch (entry.kind) {
      case 'create':
        message = {
          type: 'create_document',
          document: { id: entry.document_id, content: payload },
          ...(base !== undefined ? { base_revision: base } : {}),
          mutation_id: entry.mutation_id,
        };
        break;
      case 'update':
        message = { type: 'update_document', patch: { document_id: entry.document_id, patch: payload }, ...(base !== undefined ? { base_revision: base } : {}), mutation_id: entry.mutation_id };
        break;
      case 'delete':
        message = { type: 'delete_document', document_id: entry.document_id, ...(base !== undefined ? { base_revision: base } : {}), mutation_id: entry.mutation_id };
        break;
    }
    const text = JSON.stringify(message);
    this.store.setSentMessage(entry.mutation_id, text);
    return text;
  }

  /**
   * An answer for a mutation arrived: its slot is free, so the pump runs again — whatever the
   * caller does next, even when catch-up already removed the entry and there is nothing to apply.
   */
  private settle(mutationId: string): string | undefined {
    const documentId = this.inFlight.get(mutationId);
    this.inFlight.delete(mutationId);
    if (documentId) this.inFlightDocs.delete(documentId);
    this.coolingDown.delete(mutationId);
    if (documentId) this.schedulePump();
    return documentId;
  }

  // ---- connection -----------------------------------------------------------------------------

  private onAuthenticated(m: ServerMessageOf<'auth_success'>): void {
    this.emit(EventType.ConnectionSucceeded, {});
    this.emit(EventType.SyncStarted, {});
    if (this.closed) return;
    this.initialSync = true;
    this.remoteApplied = 0;
    this.highestSeen = Math.max(this.highestSeen, m.latest_sequence);
    // Never applied anything, or a full sync was cut short: the snapshot is cheaper than the log.
    if ((this.cursor === 0 && m.latest_sequence > 0) || this.store.getState('full_sync') === 'pending') this.wantFullSync();
    this.pump();
    if (!this.fullSyncWanted) this.requestCatchUp();
  }

  private onLost(reason: string, code: number): void {
    // A catch-up page did not fit in one frame: ask for smaller pages from now on.
    if (code === 1009 && this.pageLimit > 1) this.pageLimit = Math.max(1, Math.floor(this.pageLimit / 2));
    this.inFlight.clear();
    this.inFlightDocs.clear();
    this.catchingUp = false;
    this.fullSync = null;
    this.initialSync = false;
    this.emit(EventType.ConnectionLost, { error: reason });
  }

  /**
   * Server messages are applied in order, in slices of a few milliseconds: a burst (a full socket
   * read of pushes, a catch-up page) must not hold the event loop, where the application's own
   * calls — and, in the C SDK, every engine's calls — wait for their turn.
   */
  private onMessage(m: InboxItem): void {
    if (this.closed) return;
    this.inbox.push(m);
    if (this.inbox.length === 1) setImmediate(() => this.drainInbox());
    // Bounded memory: a huge catch-up or snapshot waits in the socket, not in the inbox.
    if (this.inbox.length === INBOX_HIGH) this.transport.setPaused(true);
  }

  private drainInbox(): void {
    const deadline = performance.now() + INBOX_SLICE_MS;
    while (this.inbox.length > 0 && !this.closed) {
      const m = this.inbox[0]!;
      try {
        this.dispatch(m);
      } catch (err) {
        this.log.error(`applying ${m.type} failed: ${(err as Error).stack ?? err}`);
        this.emit(EventType.SyncError, { error: `applying ${m.type} failed: ${(err as Error).message}` });
      }
      this.inbox.shift();
      if (performance.now() >= deadline) break;
    }
    if (this.closed) this.inbox = [];
    if (this.inbox.length < INBOX_HIGH / 2) this.transport.setPaused(false);
    if (this.inbox.length > 0) setImmediate(() => this.drainInbox());
    else this.checkSynced();
  }

  private dispatch(m: InboxItem): void {
    switch (m.type) {
      case 'invalid':
        return this.onInvalid(m.error, m.raw);
      case 'document_created_response':
      case 'document_updated_response':
      case 'document_deleted_response':
        return this.onReply(m);
      case 'conflict_detected':
        return this.onConflict(m);
      case 'error':
        return this.onError(m);
      case 'document_created':
        return this.receive({ ...fromWire(m.document), sequence: m.sequence, type: 'create', mutationId: m.mutation_id, clientId: m.client_id, at: m.document.updated_at });
      case 'document_updated':
        return this.receive({
          sequence: m.sequence,
          documentId: m.document_id,
          type: 'update',
          ops: m.patch,
          syncRevision: m.sync_revision,
          contentHash: m.content_hash,
          mutationId: m.mutation_id,
          clientId: m.client_id,
          at: new Date().toISOString(),
        });
      case 'document_deleted':
        return this.receive({
          sequence: m.sequence,
          documentId: m.document_id,
          type: 'delete',
          syncRevision: m.sync_revision,
          contentHash: null,
          mutationId: m.mutation_id,
          clientId: m.client_id,
          at: new Date().toISOString(),
        });
      case 'changes':
        return this.onChanges(m);
      case 'sync_document':
        return this.onSyncDocument(m.document);
      case 'sync_complete':
        return this.onSyncComplete(m);
      case 'changes_acknowledged':
      case 'pong':
      case 'auth_success':
      case 'auth_error':
        return;
    }
  }

  private onReply(
    m: ServerMessageOf<'document_created_response'> | ServerMessageOf<'document_updated_response'> | ServerMessageOf<'document_deleted_response'>,
  ): void {
    this.settle(m.mutation_id);
    const entry = this.store.outboxEntry(m.mutation_id);
    if (!entry) return;
    if (m.sequence <= this.cursor) {
      // The change already reached us through the stream or a snapshot: nothing left to wait for.
      this.store.transaction(() => {
        this.store.removeOutbox(entry.mutation_id);
        const doc = this.store.getDocument(entry.document_id);
        if (doc) this.refreshView(doc, doc, new Date().toISOString());
      });
      this.schedulePump();
      return;
    }
    this.store.transaction(() => {
      this.store.ackOutbox(m.mutation_id, m.sequence);
      const doc = this.store.getDocument(entry.document_id);
      if (doc) this.store.putDocument({ ...doc, known_revision: Math.max(doc.known_revision ?? 0, m.sync_revision) });
    });
    const merged = m.type === 'document_updated_response' && m.merged && m.document ? m.document.content : undefined;
    this.receive({
      sequence: m.sequence,
      documentId: entry.document_id,
      type: entry.kind,
      ...(entry.kind === 'create' ? { content: JSON.parse(entry.payload!) as JsonObject } : {}),
      ...(merged ? { content: merged } : entry.kind === 'update' ? { ops: JSON.parse(entry.payload!) as PatchOp[] } : {}),
      syncRevision: m.sync_revision,
      contentHash: 'content_hash' in m ? m.content_hash : null,
      mutationId: m.mutation_id,
      clientId: this.clientId,
      at: new Date().toISOString(),
    });
    this.schedulePump();
  }

  private onConflict(m: ServerMessageOf<'conflict_detected'>): void {
    this.settle(m.mutation_id);
    const entry = this.store.outboxEntry(m.mutation_id);
    if (!entry) return;
    const server = m.server_document;
    const outcome = this.store.transaction(() => {
      this.store.removeOutbox(entry.mutation_id);
      this.recordConflict(entry, 'conflict', null, server);
      const doc = this.store.getDocument(entry.document_id);
      // A repeated answer can carry an older version than the stream already gave us: keep the newer.
      const newer = !doc || doc.base_revision === null || server.sync_revision > doc.base_revision;
      const rebased: DocumentRecord = newer
        ? {
            ...(doc ?? emptyRecord(entry.document_id, server.created_at)),
            base_content: JSON.stringify(server.content),
            base_revision: server.sync_revision,
            base_deleted: server.deleted_at ? 1 : 0,
            known_revision: Math.max(doc?.known_revision ?? 0, server.sync_revision),
          }
        : doc;
      if (newer && doc?.base_content) this.recordRemoteDiff(doc, server.content, server.sync_revision, server.updated_at);
      return this.refreshView(rebased, doc, server.updated_at);
    });
    // One ConflictDetected for the document: later edits that no longer apply are in the conflicts record.
    this.emit(EventType.ConflictDetected, { documentId: entry.document_id, content: server.content, title: server.title, error: 'server_wins' });
    this.emitViewChange(entry.document_id, outcome.before, outcome.after, true);
    this.schedulePump();
  }

  private onError(m: ServerMessageOf<'error'>): void {
    if (m.code === 'cursor_expired') {
      this.catchingUp = false;
      this.wantFullSync();
      return;
    }
    if (!m.mutation_id) {
      this.emit(EventType.SyncError, { error: `${m.code}: ${m.message}` });
      if (this.catchingUp) {
        this.catchingUp = false;
        setTimeout(() => this.requestCatchUp(), 1000).unref();
      }
      return;
    }
    this.settle(m.mutation_id);
    const entry = this.store.outboxEntry(m.mutation_id);
    if (!entry) return;
    if (!PERMANENT_ERRORS.has(m.code)) {
      // rate_limited, server_error: the same message again later.
      this.coolingDown.set(m.mutation_id, Date.now() + 500 + Math.random() * 1500);
      this.schedulePump();
      return;
    }
    const outcome = this.store.transaction(() => {
      this.store.removeOutbox(entry.mutation_id);
      this.recordConflict(entry, m.code, m.message, null);
      const doc = this.store.getDocument(entry.document_id);
      return doc ? this.refreshView(doc, doc, new Date().toISOString()) : null;
    });
    this.emit(EventType.SyncError, { documentId: entry.document_id, error: `${m.code}: ${m.message}` });
    if (outcome) {
      this.emitViewChange(entry.document_id, outcome.before, outcome.after, false);
      this.emitRebaseConflicts(outcome.failed, outcome.after);
    }
    this.schedulePump();
  }

  /**
   * A server message failed validation and was skipped. Nothing may wait on it forever: a mutation
   * it answered is sent again (the server repeats its original reply), a change it carried is
   * fetched again by catch-up, and a full sync it belonged to is redone.
   */
  private onInvalid(error: string, raw: unknown): void {
    const { type, mutation_id: mutationId } = (isPlainObject(raw) ? raw : {}) as { type?: unknown; mutation_id?: unknown };
    this.emit(EventType.SyncError, { error: `server sent an invalid ${typeof type === 'string' ? type.slice(0, 64) : 'message'} (${error}); skipped` });
    if (typeof mutationId === 'string' && this.inFlight.has(mutationId)) {
      this.settle(mutationId);
      this.coolingDown.set(mutationId, Date.now() + this.invalidRetryMs);
    }
    if (this.fullSync) {
      this.fullSync.tainted = true;
      // Its end is the message that went missing: the snapshot is incomplete, take it again.
      if (type === 'sync_complete') this.retryLater(() => this.restartFullSync());
      return;
    }
    if (type === 'changes') {
      this.retryLater(() => {
        this.catchingUp = false;
        this.requestCatchUp();
      });
      return;
    }
    this.requestCatchUp();
  }

  /** Runs `fn` after the current retry delay, doubling it (up to 30 s) until a catch-up page applies. */
  private retryLater(fn: () => void): void {
    const delay = this.invalidRetryMs;
    this.invalidRetryMs = Math.min(this.invalidRetryMs * 2, INVALID_RETRY_MAX_MS);
    setTimeout(() => {
      if (!this.closed) fn();
    }, delay).unref();
  }

  private restartFullSync(): void {
    this.fullSync = null;
    this.maybeStartFullSync();
  }

  // ---- the change stream ----------------------------------------------------------------------

  /**
   * Applies one change of the ordered stream. Only the change right after the cursor applies; an
   * older one was applied already; a newer one means one was missed, so catch up first.
   */
  private receive(c: StreamChange): void {
    this.highestSeen = Math.max(this.highestSeen, c.sequence);
    if (c.sequence <= this.cursor) return;
    if (this.fullSync) return;
    if (c.sequence !== this.cursor + 1) {
      this.requestCatchUp();
      return;
    }
    const own = c.clientId === this.clientId;
    const outcome = this.store.transaction(() => {
      const doc = this.store.getDocument(c.documentId);
      let next: DocumentRecord | undefined = doc;
      const applies = !doc || doc.base_revision === null || c.syncRevision > doc.base_revision;
      if (applies) next = this.applyToBase(doc, c);
      const ownEntry = c.mutationId ? this.store.outboxEntry(c.mutationId) : undefined;
      if (ownEntry) this.store.removeOutbox(ownEntry.mutation_id);
      for (const acked of this.store.ackedUpTo(c.sequence)) this.store.removeOutbox(acked.mutation_id);
      this.cursor = c.sequence;
      this.store.setState('cursor', String(c.sequence));
      if (applies && !own && !ownEntry) {
        this.store.addHistory({
          document_id: c.documentId,
          origin: 'remote',
          kind: c.type,
          forward: c.type === 'update' ? JSON.stringify(c.ops ?? null) : c.type === 'create' ? JSON.stringify(c.content ?? null) : null,
          reverse: null,
          mutation_id: c.mutationId,
          sequence: c.sequence,
          sync_revision: c.syncRevision,
          created_at: c.at,
        });
      }
      return next ? { ...this.refreshView(next, doc, c.at), remote: applies && !own && !ownEntry } : null;
    });
    if (!outcome) return;
    if (outcome.remote) {
      this.remoteApplied++;
      const type = c.type === 'create' ? EventType.DocumentCreated : c.type === 'delete' ? EventType.DocumentDeleted : EventType.DocumentUpdated;
      const content = outcome.after.deleted === 1 ? null : (JSON.parse(outcome.after.content) as JsonObject);
      this.emit(type, { documentId: c.documentId, content: type === EventType.DocumentDeleted ? null : content, title: outcome.after.title, booleanData: false });
    }
    this.emitRebaseConflicts(outcome.failed, outcome.after);
  }

  /** The document with the change applied to its server version; a mismatch with the server's hash forces a full sync. */
  private applyToBase(doc: DocumentRecord | undefined, c: StreamChange): DocumentRecord {
    const record = doc ?? emptyRecord(c.documentId, c.at);
    let base: JsonObject | null = record.base_content ? (JSON.parse(record.base_content) as JsonObject) : null;
    let deleted = record.base_deleted;
    if (c.type === 'delete') deleted = 1;
    else if (c.content) {
      base = c.content;
      deleted = 0;
    } else if (base && c.ops) {
      try {
        base = applyPatch(base, c.ops);
      } catch {
        base = null;
      }
    }
    if (c.type !== 'delete' && (!base || (c.contentHash && contentHash(base) !== c.contentHash))) {
      this.log.warn(`document ${c.documentId} diverged from the server at revision ${c.syncRevision}; requesting a full sync`);
      setImmediate(() => {
        if (!this.closed) this.wantFullSync();
      });
      return record;
    }
    return {
      ...record,
      base_content: base ? JSON.stringify(base) : record.base_content,
      base_revision: c.syncRevision,
      base_deleted: deleted,
      known_revision: Math.max(record.known_revision ?? 0, c.syncRevision),
      created_at: doc ? record.created_at : c.at,
    };
  }

  /**
   * Recomputes a document's local view from its server version and outbox, dropping outbox entries
   * that no longer apply (recorded as conflicts). Deletes the row when nothing is left of it.
   */
  private refreshView(next: DocumentRecord, before: DocumentRecord | undefined, at: string) {
    const entries = this.store.outboxFor(next.id);
    const view = computeView(next, entries);
    for (const f of view.failed) {
      this.store.removeOutbox(f.mutation_id);
      this.settle(f.mutation_id);
      this.recordConflict(f, 'rebase', 'no longer applies on the server version', null);
    }
    const content = view.content ?? (before ? (JSON.parse(before.content) as JsonObject) : {});
    const after: DocumentRecord = {
      ...next,
      content: JSON.stringify(content),
      deleted: view.deleted ? 1 : 0,
      title: titleOf(content),
      updated_at: before && before.content === JSON.stringify(content) && before.deleted === (view.deleted ? 1 : 0) ? before.updated_at : at,
      deleted_at: view.deleted ? (before?.deleted_at ?? at) : null,
    };
    if (view.content === null && next.base_content === null) this.store.removeDocument(next.id);
    else this.store.putDocument(after);
    return { before, after, failed: view.failed };
  }

  /**
   * A server version that arrived whole (snapshot, conflict answer) rather than as a change: its
   * difference from the old one goes into history, so undo sees what others changed meanwhile.
   */
  private recordRemoteDiff(doc: DocumentRecord, content: JsonObject, revision: number, at: string): void {
    const revived = doc.base_deleted === 1;
    this.store.addHistory({
      document_id: doc.id,
      origin: 'remote',
      kind: revived ? 'create' : 'update',
      forward: JSON.stringify(revived ? content : diff(JSON.parse(doc.base_content!) as JsonObject, content)),
      reverse: null,
      mutation_id: null,
      sequence: null,
      sync_revision: revision,
      created_at: at,
    });
  }

  private recordConflict(entry: OutboxEntry, reason: string, message: string | null, server: WireDocument | null): void {
    this.store.addConflict({
      document_id: entry.document_id,
      mutation_id: entry.mutation_id,
      kind: entry.kind,
      reason,
      message,
      rejected: entry.payload,
      server_document: server ? JSON.stringify(server) : null,
      created_at: new Date().toISOString(),
    });
  }

  private emitViewChange(id: string, before: DocumentRecord | undefined, after: DocumentRecord, conflict: boolean): void {
    const wasLive = before !== undefined && before.deleted === 0;
    const isLive = after.deleted === 0;
    const content = isLive ? (JSON.parse(after.content) as JsonObject) : null;
    if (!wasLive && isLive) this.emit(EventType.DocumentCreated, { documentId: id, content, title: after.title });
    else if (wasLive && !isLive) this.emit(EventType.DocumentDeleted, { documentId: id });
    else if (isLive && (conflict || before!.content !== after.content)) this.emit(EventType.DocumentUpdated, { documentId: id, content, title: after.title });
  }

  /** Pending edits that no longer applied on the server's new version: one event for the document. */
  private emitRebaseConflicts(failed: OutboxEntry[], after?: DocumentRecord): void {
    if (failed.length === 0) return;
    const id = failed[0]!.document_id;
    const base = (after ?? this.store.getDocument(id))?.base_content;
    this.emit(EventType.ConflictDetected, { documentId: id, content: base ? (JSON.parse(base) as JsonObject) : null, error: 'rebase' });
  }

  private requestCatchUp(): void {
    if (this.catchingUp || this.fullSync || !this.transport.live) return;
    this.catchingUp = true;
    this.transport.send({ type: 'get_changes_since', last_sequence: this.cursor, limit: this.pageLimit });
  }

  private onChanges(m: ServerMessageOf<'changes'>): void {
    this.invalidRetryMs = INVALID_RETRY_MIN_MS;
    for (const e of m.events) {
      this.receive({
        sequence: e.sequence,
        documentId: e.document_id,
        type: e.event_type,
        ...(e.event_type === 'create' ? { content: e.forward_patch as JsonObject } : {}),
        ...(e.event_type === 'update' ? { ops: e.forward_patch as PatchOp[] } : {}),
        syncRevision: e.sync_revision,
        contentHash: e.content_hash,
        mutationId: e.mutation_id,
        clientId: e.client_id,
        at: e.created_at,
      });
    }
    this.highestSeen = Math.max(this.highestSeen, m.latest_sequence);
    this.catchingUp = false;
    if (m.has_more || this.highestSeen > this.cursor) {
      this.requestCatchUp();
      return;
    }
    this.caughtUp();
  }

  private caughtUp(): void {
    if (this.initialSync) {
      this.initialSync = false;
      this.emit(EventType.SyncCompleted, { numericData: this.remoteApplied });
    }
    if (this.cursor > 0) this.transport.send({ type: 'ack_changes', up_to_sequence: this.cursor });
  }

  /**
   * A full sync is wanted (remembered across restarts until one completes). It starts once every
   * local change is answered: a change the server committed but had not answered yet would be in
   * the snapshot and on top of it, applied twice.
   */
  private wantFullSync(): void {
    this.fullSyncWanted = true;
    this.store.setState('full_sync', 'pending');
    this.maybeStartFullSync();
  }

  private maybeStartFullSync(): void {
    if (!this.fullSyncWanted || this.fullSync || !this.transport.live || this.inFlight.size > 0 || this.store.pendingCount() > 0) return;
    this.fullSync = { seen: new Set(), tainted: false };
    this.transport.send({ type: 'request_full_sync' });
  }

  private onSyncDocument(d: WireDocument): void {
    if (!this.fullSync) return;
    this.fullSync.seen.add(d.id);
    const outcome = this.store.transaction(() => {
      const doc = this.store.getDocument(d.id);
      if (doc && doc.base_revision !== null && doc.base_revision >= d.sync_revision && doc.base_deleted === 0) return null;
      const next: DocumentRecord = {
        ...(doc ?? emptyRecord(d.id, d.created_at)),
        base_content: JSON.stringify(d.content),
        base_revision: d.sync_revision,
        base_deleted: 0,
        known_revision: Math.max(doc?.known_revision ?? 0, d.sync_revision),
      };
      if (doc?.base_content) this.recordRemoteDiff(doc, d.content, d.sync_revision, d.updated_at);
      return this.refreshView(next, doc, d.updated_at);
    });
    if (!outcome) return;
    this.remoteApplied++;
    this.emitViewChange(d.id, outcome.before, outcome.after, false);
    this.emitRebaseConflicts(outcome.failed, outcome.after);
  }

  private onSyncComplete(m: ServerMessageOf<'sync_complete'>): void {
    if (this.fullSync?.tainted) return this.restartFullSync();
    const seen = this.fullSync?.seen;
    if (!seen) return;
    this.fullSync = null;
    this.fullSyncWanted = false;
    const dropped: { before: DocumentRecord; after: DocumentRecord }[] = [];
    this.store.transaction(() => {
      for (const id of this.store.documentIds()) {
        if (seen.has(id) || this.store.outboxFor(id).length > 0) continue;
        const doc = this.store.getDocument(id)!;
        if (doc.base_revision === null) continue;
        this.store.removeDocument(id);
        dropped.push({ before: doc, after: { ...doc, deleted: 1 } });
      }
      // Answered changes are in the snapshot now: drop them and show the documents without them.
      const answered = this.store.ackedUpTo(m.latest_sequence);
      for (const acked of answered) this.store.removeOutbox(acked.mutation_id);
      for (const id of new Set(answered.map((a) => a.document_id))) {
        const doc = this.store.getDocument(id);
        if (doc) this.refreshView(doc, doc, new Date().toISOString());
      }
      this.cursor = m.latest_sequence;
      this.store.setState('cursor', String(m.latest_sequence));
      this.store.setState('full_sync', 'done');
    });
    for (const d of dropped) this.emitViewChange(d.before.id, d.before, d.after, false);
    this.requestCatchUp();
    this.schedulePump();
  }

  // ---- synced ---------------------------------------------------------------------------------

  private isSynced(): boolean {
    return (
      this.transport.live && !this.initialSync && !this.catchingUp && !this.fullSync && this.inbox.length === 0 && this.store.outboxCount() === 0
    );
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

function isWebSocketUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === 'ws:' || u.protocol === 'wss:';
  } catch {
    return false;
  }
}

function translate(err: unknown): SyncError {
  if (err instanceof SyncError) return err;
  if (err instanceof ProtocolError) return new SyncError('invalid_input', err.message, { cause: err });
  return new SyncError('invalid_input', (err as Error).message ?? String(err), { cause: err });
}

function emptyRecord(id: string, at: string): DocumentRecord {
  return {
    id,
    base_content: null,
    base_revision: null,
    base_deleted: 0,
    known_revision: null,
    content: '{}',
    deleted: 1,
    title: null,
    created_at: at,
    updated_at: at,
    deleted_at: null,
  };
}

function fromWire(d: WireDocument): Pick<StreamChange, 'documentId' | 'content' | 'syncRevision' | 'contentHash'> {
  return { documentId: d.id, content: d.content, syncRevision: d.sync_revision, contentHash: d.content_hash };
}

/** The paths a history entry touched: the whole document for creates and deletes. */
function pathsOf(h: HistoryRecord): string[][] {
  if (h.kind !== 'update') return [[...ROOT_PATH]];
  const paths = touchedPaths(JSON.parse(h.forward ?? '[]') as PatchOp[]);
  if (h.reverse) paths.push(...touchedPaths(JSON.parse(h.reverse) as PatchOp[]));
  return paths;
}

function toHistoryEntry(h: HistoryRecord): HistoryEntry {
  return {
    id: h.id,
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
