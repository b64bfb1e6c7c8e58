import { applyPatch, contentHash, diff, titleOf, type JsonObject, type PatchOp, type ServerMessageOf, type WireDocument } from '@json-sync/core';
import { EventType } from '../events.js';
import { QUEUED, SETTLED, type BaseRow, type ChangeRow, type ViewRow } from '../storage/local-store.js';
import type { EngineContext } from './context.js';
import type { OutboxEntry } from './outbox.js';
import { computeView } from './view.js';

/** A change from the server's ordered stream: a push, a reply to one of ours, or a catch-up event. */
export interface StreamChange {
  sequence: number;
  documentId: string;
  type: 'create' | 'update' | 'delete';
  /** Full content: creates, and merged updates (the server's result). */
  content?: JsonObject;
  ops?: PatchOp[];
  syncRevision: number;
  contentHash: string | null;
  /** The server's title for a create, when it is not the content's own. */
  givenTitle?: string | null;
  mutationId: string | null;
  clientId: string | null;
  at: string;
}

type Reply = ServerMessageOf<'document_created_response'> | ServerMessageOf<'document_updated_response'> | ServerMessageOf<'document_deleted_response'>;

const PERMANENT_ERRORS = new Set(['invalid_message', 'invalid_patch', 'document_not_found', 'document_exists', 'message_too_large']);

/** What recomputing a document's view did. */
interface Refreshed {
  before: ViewRow | undefined;
  after: ViewRow;
  failed: ChangeRow[];
}

/**
 * The local replica: the server's version of each document (its base) as the ordered change
 * stream and the server's answers show it, and the local view = base + every outbox entry on top.
 * Every method runs inside the caller's transaction (one per slice of server messages).
 */
export class Replica {
  constructor(private readonly ctx: EngineContext) {}

  /**
   * Applies one change of the ordered stream. Only the change right after the cursor applies; an
   * older one was applied already; a newer one means one was missed, so catch up first.
   */
  receive(c: StreamChange): void {
    const { ctx } = this;
    const { store, outbox, cursor, catchUp } = ctx;
    catchUp.saw(c.sequence);
    if (c.sequence <= cursor.value || catchUp.snapshotActive) return;
    if (c.sequence !== cursor.value + 1) return catchUp.request();
    const own = c.clientId === ctx.clientId;
    const id = c.documentId;
    const before = store.getView(id);
    const base = store.getBase(id);
    const applies = !base || c.syncRevision > base.revision;
    let next = base;
    let revision = before?.revision ?? null;
    if (applies) {
      const applied = this.applyToBase(base, c);
      if (applied) {
        next = applied;
        store.putBase(applied);
        revision = Math.max(revision ?? 0, c.syncRevision);
      }
    }
    const ownEntry = c.mutationId ? outbox.entry(c.mutationId) : undefined;
    if (ownEntry) outbox.settle(ownEntry, c.sequence, c.syncRevision);
    for (const answered of outbox.answeredUpTo(c.sequence)) outbox.settle(answered);
    cursor.set(c.sequence);
    const remote = applies && !own && !ownEntry;
    if (remote) {
      store.addChange({
        document_id: id,
        origin: 'remote',
        kind: c.type,
        forward: c.type === 'update' ? JSON.stringify(c.ops ?? null) : c.type === 'create' ? JSON.stringify(c.content ?? null) : null,
        reverse: null,
        mutation_id: c.mutationId,
        state: SETTLED,
        sequence: c.sequence,
        sync_revision: c.syncRevision,
        created_at: c.at,
      });
    }
    if (!before && !next) return;
    const outcome = this.refresh(id, next, before, revision, c.at);
    if (remote) {
      catchUp.countRemote();
      const type = c.type === 'create' ? EventType.DocumentCreated : c.type === 'delete' ? EventType.DocumentDeleted : EventType.DocumentUpdated;
      const content = outcome.after.deleted === 1 || type === EventType.DocumentDeleted ? null : (JSON.parse(outcome.after.content) as JsonObject);
      ctx.events.emit(type, { documentId: id, content, title: outcome.after.title, booleanData: false });
    }
    this.emitRebaseConflicts(outcome.failed, next);
  }

  /** The server's answer to one of our mutations. */
  onReply(m: Reply): void {
    const { ctx } = this;
    const { store, outbox, cursor } = ctx;
    ctx.sender.settle(m.mutation_id);
    const entry = outbox.entry(m.mutation_id);
    if (!entry) return;
    const id = entry.documentId;
    if (m.sequence <= cursor.value) {
      // The change already reached us through the stream or a snapshot: nothing left to wait for.
      outbox.settle(entry, m.sequence, m.sync_revision);
      const view = store.getView(id);
      if (view) this.refresh(id, store.getBase(id), view, view.revision, now());
      return;
    }
    const forward = store.getChange(entry.seq)!.forward;
    // Usually the answer is the stream's next change: it applies right away. Otherwise it waits,
    // answered, until the stream reaches it (receive asks for what is missing).
    if (m.sequence !== cursor.value + 1 || ctx.catchUp.snapshotActive) {
      outbox.answer(entry, m.sequence);
      const view = store.getView(id);
      if (view) store.putView({ ...view, revision: Math.max(view.revision ?? 0, m.sync_revision), pending: view.pending - 1 });
    }
    const merged = m.type === 'document_updated_response' && m.merged && m.document ? m.document.content : undefined;
    this.receive({
      sequence: m.sequence,
      documentId: id,
      type: entry.kind,
      ...(entry.kind === 'create' ? { content: JSON.parse(forward!) as JsonObject } : {}),
      ...(merged ? { content: merged } : entry.kind === 'update' ? { ops: JSON.parse(forward!) as PatchOp[] } : {}),
      syncRevision: m.sync_revision,
      contentHash: 'content_hash' in m ? m.content_hash : null,
      mutationId: m.mutation_id,
      clientId: ctx.clientId,
      at: now(),
    });
  }

  /** The server kept its version: our change is dropped and recorded, the view rebased on the server's. */
  onConflict(m: ServerMessageOf<'conflict_detected'>): void {
    const { ctx } = this;
    const { store, outbox } = ctx;
    ctx.sender.settle(m.mutation_id);
    const entry = outbox.entry(m.mutation_id);
    if (!entry) return;
    const server = m.server_document;
    const id = entry.documentId;
    this.recordConflict(entry, 'conflict', null, server);
    outbox.settle(entry);
    const before = store.getView(id);
    const base = store.getBase(id);
    // A repeated answer can carry an older version than the stream already gave us: keep the newer.
    const newer = !base || server.sync_revision > base.revision;
    const next = newer ? this.adoptServerVersion(id, base, server) : base;
    const outcome = this.refresh(id, next, before, Math.max(before?.revision ?? 0, server.sync_revision), server.updated_at, server.created_at);
    // One ConflictDetected for the document: later edits that no longer apply are in the conflicts record.
    ctx.events.emit(EventType.ConflictDetected, { documentId: id, content: server.content, title: server.title, error: 'server_wins' });
    this.emitViewChange(id, outcome.before, outcome.after, true);
  }

  /** An error answering one of our mutations: retried later when temporary, else dropped and recorded. */
  onMutationError(m: ServerMessageOf<'error'> & { mutation_id: string }): void {
    const { ctx } = this;
    const entry = ctx.outbox.entry(m.mutation_id);
    if (!entry) return ctx.sender.settle(m.mutation_id);
    if (!PERMANENT_ERRORS.has(m.code)) {
      // rate_limited, server_error: the same message again later.
      return ctx.sender.retryLater(m.mutation_id, 500 + Math.random() * 1500);
    }
    ctx.sender.settle(m.mutation_id);
    const id = entry.documentId;
    this.recordConflict(entry, m.code, m.message, null);
    ctx.outbox.settle(entry);
    const view = ctx.store.getView(id);
    const outcome = view ? this.refresh(id, ctx.store.getBase(id), view, view.revision, now()) : null;
    ctx.events.emit(EventType.SyncError, { documentId: id, error: `${m.code}: ${m.message}` });
    if (outcome) {
      this.emitViewChange(id, outcome.before, outcome.after, false);
      this.emitRebaseConflicts(outcome.failed);
    }
  }

  /**
   * A document as a snapshot shows it (full or compacted sync). Returns false when the local base
   * is already at least that new.
   */
  applySnapshot(d: WireDocument): boolean {
    const { store } = this.ctx;
    const base = store.getBase(d.id);
    const deleted = d.deleted_at !== null;
    if (base && base.revision >= d.sync_revision && (base.deleted === 1) === deleted) return false;
    const before = store.getView(d.id);
    const next = this.adoptServerVersion(d.id, base, d);
    const outcome = this.refresh(d.id, next, before, Math.max(before?.revision ?? 0, d.sync_revision), d.updated_at, d.created_at);
    this.emitViewChange(d.id, outcome.before, outcome.after, false);
    this.emitRebaseConflicts(outcome.failed, next);
    return true;
  }

  /** A document a full snapshot no longer holds, with nothing of ours waiting: it is gone. */
  dropUnlisted(id: string): void {
    const { store, outbox } = this.ctx;
    if (outbox.rowsOf(id).length > 0 || !store.getBase(id)) return;
    const before = store.getView(id);
    store.deleteView(id);
    store.deleteBase(id);
    this.ctx.counts.viewWritten(before, undefined);
    if (before) this.emitViewChange(id, before, { ...before, deleted: 1 }, false);
  }

  /** Shows a document again without its answered changes, once a snapshot covers them. */
  refreshAnswered(id: string): void {
    const view = this.ctx.store.getView(id);
    if (view) this.refresh(id, this.ctx.store.getBase(id), view, view.revision, now());
  }

  /**
   * A server version that arrived whole (snapshot, conflict answer) rather than as a change: it
   * becomes the base, and its difference from the old base goes into history, so undo sees what
   * others changed meanwhile.
   */
  private adoptServerVersion(id: string, base: BaseRow | undefined, d: WireDocument): BaseRow {
    const deleted = d.deleted_at !== null;
    if (base?.content && !deleted) {
      const revived = base.deleted === 1;
      this.ctx.store.addChange({
        document_id: id,
        origin: 'remote',
        kind: revived ? 'create' : 'update',
        forward: JSON.stringify(revived ? d.content : diff(JSON.parse(base.content) as JsonObject, d.content)),
        reverse: null,
        mutation_id: null,
        state: SETTLED,
        sequence: null,
        sync_revision: d.sync_revision,
        created_at: d.updated_at,
      });
    }
    const next: BaseRow = { id, content: JSON.stringify(d.content), revision: d.sync_revision, deleted: deleted ? 1 : 0, given_title: givenTitleOf(d) };
    this.ctx.store.putBase(next);
    return next;
  }

  /** The base with the change applied; null when it does not reproduce the server's hash (a full sync follows). */
  private applyToBase(base: BaseRow | undefined, c: StreamChange): BaseRow | null {
    let content: JsonObject | null = base?.content ? (JSON.parse(base.content) as JsonObject) : null;
    let deleted = base?.deleted ?? 0;
    let givenTitle = base?.given_title ?? null;
    if (c.type === 'delete') deleted = 1;
    else if (c.content) {
      content = c.content;
      deleted = 0;
      if (c.type === 'create') givenTitle = c.givenTitle ?? null;
    } else if (content && c.ops) {
      try {
        content = applyPatch(content, c.ops);
      } catch {
        content = null;
      }
    }
    if (c.type !== 'delete' && (!content || (c.contentHash && contentHash(content) !== c.contentHash))) {
      this.ctx.log.warn(`document ${c.documentId} diverged from the server at revision ${c.syncRevision}; requesting a full sync`);
      this.ctx.catchUp.wantFullSyncSoon();
      return null;
    }
    return { id: c.documentId, content: content ? JSON.stringify(content) : (base?.content ?? null), revision: c.syncRevision, deleted, given_title: givenTitle };
  }

  /**
   * Recomputes a document's view from its base and outbox, dropping outbox entries that no longer
   * apply (recorded as conflicts). Deletes the document when nothing is left of it.
   */
  private refresh(id: string, base: BaseRow | undefined, before: ViewRow | undefined, revision: number | null, at: string, createdAt = at): Refreshed {
    const { store, outbox, sender } = this.ctx;
    const rows = outbox.rowsOf(id);
    const view = computeView(base, rows);
    for (const f of view.failed) {
      const entry = outbox.at(f.seq)!;
      sender.settle(entry.mutationId);
      this.recordConflict(entry, 'rebase', 'no longer applies on the server version', null, f.forward);
      outbox.settle(entry);
    }
    const content = view.content ?? (before ? (JSON.parse(before.content) as JsonObject) : {});
    const text = JSON.stringify(content);
    const deleted = view.deleted ? 1 : 0;
    const after: ViewRow = {
      id,
      content: text,
      deleted,
      title: titleOf(content) ?? base?.given_title ?? null,
      revision,
      pending: rows.filter((r) => r.state === QUEUED && !view.failed.includes(r)).length,
      created_at: before?.created_at ?? createdAt,
      updated_at: before && before.content === text && before.deleted === deleted ? before.updated_at : at,
      deleted_at: view.deleted ? (before?.deleted_at ?? at) : null,
    };
    if (view.content === null && !base?.content) {
      store.deleteView(id);
      if (base) store.deleteBase(id);
      this.ctx.counts.viewWritten(before, undefined);
    } else {
      store.putView(after);
      this.ctx.counts.viewWritten(before, after);
    }
    return { before, after, failed: view.failed };
  }

  private recordConflict(entry: OutboxEntry, reason: string, message: string | null, server: WireDocument | null, rejected?: string | null): void {
    this.ctx.store.addConflict({
      document_id: entry.documentId,
      mutation_id: entry.mutationId,
      kind: entry.kind,
      reason,
      message,
      rejected: rejected !== undefined ? rejected : this.ctx.store.getChange(entry.seq)!.forward,
      server_document: server ? JSON.stringify(server) : null,
      created_at: now(),
    });
  }

  private emitViewChange(id: string, before: ViewRow | undefined, after: ViewRow, conflict: boolean): void {
    const wasLive = before !== undefined && before.deleted === 0;
    const isLive = after.deleted === 0;
    const content = isLive ? (JSON.parse(after.content) as JsonObject) : null;
    const { events } = this.ctx;
    if (!wasLive && isLive) events.emit(EventType.DocumentCreated, { documentId: id, content, title: after.title });
    else if (wasLive && !isLive) events.emit(EventType.DocumentDeleted, { documentId: id });
    else if (isLive && (conflict || before!.content !== after.content)) events.emit(EventType.DocumentUpdated, { documentId: id, content, title: after.title });
  }

  /** Pending edits that no longer applied on the server's new version: one event for the document. */
  private emitRebaseConflicts(failed: ChangeRow[], base?: BaseRow): void {
    if (failed.length === 0) return;
    const id = failed[0]!.document_id;
    const content = (base ?? this.ctx.store.getBase(id))?.content;
    this.ctx.events.emit(EventType.ConflictDetected, { documentId: id, content: content ? (JSON.parse(content) as JsonObject) : null, error: 'rebase' });
  }
}

/** The title a wire document carries beside its content, if it is not the content's own. */
export function givenTitleOf(d: WireDocument): string | null {
  return d.title !== null && d.title !== titleOf(d.content) ? d.title : null;
}

function now(): string {
  return new Date().toISOString();
}
