import { applyPatch, contentHash, diff, titleOf, type JsonObject, type PatchOp, type ServerMessageOf, type WireDocument } from '@json-sync/core';
import { EventType } from '../events.js';
import type { Logger } from '../logger.js';
import { QUEUED, SETTLED, type BaseRow, type ChangeRow, type LocalStore, type ViewRow } from '../storage/local-store.js';
import type { Counts } from './counts.js';
import type { Cursor } from './cursor.js';
import type { EventHub } from './event-hub.js';
import type { Outbox, OutboxEntry } from './outbox.js';
import type { StreamChange } from './stream-change.js';
import { computeView } from './view.js';

/**
 * What applying a change of the stream did: applied (someone else's change, or one of ours), or
 * not — already applied (`old`), changes before it are missing (`gap`), or the result did not
 * match the server's hash (`diverged`: only a full sync can repair the document).
 */
export type Received = 'remote' | 'own' | 'old' | 'gap' | 'diverged';

/** What an answer to one of our mutations did; `repeated`: the entry was answered or settled already (an answer settles once). */
export type Answered = Received | 'repeated';

export type Reply = ServerMessageOf<'document_created_response'> | ServerMessageOf<'document_updated_response'> | ServerMessageOf<'document_deleted_response'>;

export interface ReplicaParts {
  store: LocalStore;
  outbox: Outbox;
  cursor: Cursor;
  counts: Counts;
  events: EventHub;
  log: Logger;
  clientId: string;
}

/** What recomputing a document's view did. */
interface Refreshed {
  before: ViewRow | undefined;
  after: ViewRow;
  /** Entries dropped as conflicts: they no longer apply, and the server can never have seen them. */
  dropped: ChangeRow[];
}

/**
 * The local replica: the server's version of each document (its base) as the ordered change
 * stream, snapshots and the server's answers show it, and the local view = base + every outbox
 * entry not yet in it. Every method runs inside the caller's transaction and returns what it did;
 * what follows from that (asking for missing changes, a full sync, sending) is the session's.
 *
 * An outbox entry the server accepted is never applied twice and never reported as lost: once a
 * base holds it (the base's revision reaches the one the server gave it) it leaves the outbox. A
 * conflict is recorded only for a change the server refused, or for one that no longer applies and
 * was never sent, so the server can never have it.
 */
export class Replica {
  /**
   * The server revision each document's last ConflictDetected was against. Edits that lose to one
   * server version are one conflict for the application, whichever way the loss is learnt: some
   * dropped on the stream's version, the sent one refused by the server's answer, in either order.
   */
  private readonly reported = new Map<string, number>();

  constructor(private readonly p: ReplicaParts) {}

  /** Applies one change of the ordered stream: only the change right after the cursor applies. */
  receive(c: StreamChange): Received {
    const { store, outbox, cursor, events } = this.p;
    if (c.sequence <= cursor.value) return 'old';
    if (c.sequence !== cursor.value + 1) return 'gap';
    const id = c.documentId;
    const before = store.getView(id);
    const base = store.getBase(id);
    const applies = !base || c.syncRevision > base.revision;
    let next = base;
    let revision = before?.revision ?? null;
    let diverged = false;
    if (applies) {
      const applied = this.applyToBase(base, c);
      if (applied) {
        next = applied;
        store.putBase(applied);
        revision = Math.max(revision ?? 0, c.syncRevision);
      } else {
        diverged = true;
      }
    }
    const ownEntry = c.mutationId ? outbox.entry(c.mutationId) : undefined;
    if (ownEntry) outbox.settle(ownEntry, c.sequence, c.syncRevision);
    for (const answered of outbox.answeredUpTo(c.sequence)) outbox.settle(answered);
    cursor.set(c.sequence);
    const remote = applies && c.clientId !== this.p.clientId && !ownEntry;
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
    if (before || next) {
      const outcome = this.refresh(id, next, before, revision, c.at);
      if (remote) {
        const type = c.type === 'create' ? EventType.DocumentCreated : c.type === 'delete' ? EventType.DocumentDeleted : EventType.DocumentUpdated;
        const content = outcome.after.deleted === 1 || type === EventType.DocumentDeleted ? null : (JSON.parse(outcome.after.content) as JsonObject);
        events.emit(type, { documentId: id, content, title: outcome.after.title, booleanData: false });
      }
      this.emitDropped(outcome.dropped, next);
    }
    return diverged ? 'diverged' : remote ? 'remote' : 'own';
  }

  /**
   * The server's answer to one of our mutations. When the stream has reached the change already,
   * the entry leaves the outbox; when the answer is the stream's next change, it applies; otherwise
   * the entry waits, answered, until the stream (or a base that holds it) arrives.
   */
  onReply(m: Reply): Answered {
    const { store, outbox, cursor } = this.p;
    const entry = outbox.entry(m.mutation_id);
    if (!entry || entry.ackedSequence !== null) return 'repeated';
    const id = entry.documentId;
    if (m.sequence <= cursor.value) {
      outbox.settle(entry, m.sequence, m.sync_revision);
      const view = store.getView(id);
      if (view) this.refresh(id, store.getBase(id), view, view.revision, now());
      return 'old';
    }
    const forward = store.getChange(entry.seq)!.forward;
    if (m.sequence !== cursor.value + 1) {
      outbox.answer(entry, m.sequence, m.sync_revision);
      const view = store.getView(id);
      if (view) store.putView({ ...view, revision: Math.max(view.revision ?? 0, m.sync_revision), pending: view.pending - 1 });
      return 'gap';
    }
    const merged = m.type === 'document_updated_response' && m.merged && m.document ? m.document.content : undefined;
    return this.receive({
      sequence: m.sequence,
      documentId: id,
      type: entry.kind,
      ...(entry.kind === 'create' ? { content: JSON.parse(forward!) as JsonObject } : {}),
      ...(merged ? { content: merged } : entry.kind === 'update' ? { ops: JSON.parse(forward!) as PatchOp[] } : {}),
      syncRevision: m.sync_revision,
      contentHash: 'content_hash' in m ? m.content_hash : null,
      mutationId: m.mutation_id,
      clientId: this.p.clientId,
      at: now(),
    });
  }

  /** The server kept its version: our change is dropped and recorded, the view rebased on the server's. Returns false for a repeated answer. */
  onConflict(m: ServerMessageOf<'conflict_detected'>): boolean {
    const { store, outbox, events } = this.p;
    const entry = outbox.entry(m.mutation_id);
    if (!entry || entry.ackedSequence !== null) return false;
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
    if (this.firstReport(id, server.sync_revision)) {
      events.emit(EventType.ConflictDetected, { documentId: id, content: server.content, title: server.title, error: 'server_wins' });
    }
    this.emitViewChange(id, outcome.before, outcome.after, true);
    return true;
  }

  /** The server refused one of our mutations for good: it is dropped and recorded. Returns false for a repeated answer. */
  onRefused(mutationId: string, code: string, message: string): boolean {
    const { store, outbox, events } = this.p;
    const entry = outbox.entry(mutationId);
    if (!entry || entry.ackedSequence !== null) return false;
    const id = entry.documentId;
    this.recordConflict(entry, code, message, null);
    outbox.settle(entry);
    const view = store.getView(id);
    const outcome = view ? this.refresh(id, store.getBase(id), view, view.revision, now()) : null;
    events.emit(EventType.SyncError, { documentId: id, error: `${code}: ${message}` });
    if (outcome) {
      this.emitViewChange(id, outcome.before, outcome.after, false);
      this.emitDropped(outcome.dropped);
    }
    return true;
  }

  /**
   * A document as a snapshot shows it (full or compacted sync). Returns false when the local base
   * is already at least that new.
   */
  applySnapshot(d: WireDocument): boolean {
    const { store } = this.p;
    const base = store.getBase(d.id);
    const deleted = d.deleted_at !== null;
    if (base && base.revision >= d.sync_revision && (base.deleted === 1) === deleted) return false;
    const before = store.getView(d.id);
    const next = this.adoptServerVersion(d.id, base, d);
    const outcome = this.refresh(d.id, next, before, Math.max(before?.revision ?? 0, d.sync_revision), d.updated_at, d.created_at);
    this.emitViewChange(d.id, outcome.before, outcome.after, false);
    this.emitDropped(outcome.dropped, next);
    return true;
  }

  /**
   * The end of a snapshot that reflects the log up to `latest`. It began once nothing of ours was
   * unanswered, so it holds every answered change: they leave the outbox first, and only then are
   * the documents a full snapshot did not list dropped (one of ours may have deleted them).
   */
  completeSnapshot(full: boolean, seen: ReadonlySet<string>, latest: number): void {
    const { store, outbox, cursor } = this.p;
    const answered = outbox.answeredUpTo(latest);
    for (const entry of answered) outbox.settle(entry);
    if (full) for (const id of store.viewIds()) if (!seen.has(id)) this.dropUnlisted(id);
    for (const id of new Set(answered.map((a) => a.documentId))) {
      const view = store.getView(id);
      if (view) this.refresh(id, store.getBase(id), view, view.revision, now());
    }
    cursor.set(latest);
  }

  /** A document a full snapshot no longer holds, with nothing of ours waiting: it is gone. */
  private dropUnlisted(id: string): void {
    const { store, outbox, counts } = this.p;
    if (outbox.rowsOf(id).length > 0 || !store.getBase(id)) return;
    const before = store.getView(id);
    store.deleteView(id);
    store.deleteBase(id);
    counts.viewWritten(before, undefined);
    if (before) this.emitViewChange(id, before, { ...before, deleted: 1 }, false);
  }

  /**
   * A server version that arrived whole (snapshot, conflict answer) rather than as a change: it
   * becomes the base, and its difference from the old base goes into history, so undo sees what
   * others changed meanwhile.
   */
  private adoptServerVersion(id: string, base: BaseRow | undefined, d: WireDocument): BaseRow {
    const { store } = this.p;
    const deleted = d.deleted_at !== null;
    if (base?.content && !deleted) {
      const revived = base.deleted === 1;
      store.addChange({
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
    store.putBase(next);
    return next;
  }

  /** The base with the change applied; null when it does not reproduce the server's hash. */
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
      this.p.log.warn(`document ${c.documentId} diverged from the server at revision ${c.syncRevision}; requesting a full sync`);
      return null;
    }
    return { id: c.documentId, content: content ? JSON.stringify(content) : (base?.content ?? null), revision: c.syncRevision, deleted, given_title: givenTitle };
  }

  /**
   * Recomputes a document's view from its base and outbox. Answered entries the base holds leave
   * the outbox. An entry that no longer applies on the base is dropped as a conflict only when the
   * server can never have it; one it may have (sent or answered) stays, out of the view, until the
   * server's answer or the stream decides. Deletes the document when nothing is left of it.
   */
  private refresh(id: string, base: BaseRow | undefined, before: ViewRow | undefined, revision: number | null, at: string, createdAt = at): Refreshed {
    const { store, outbox, counts } = this.p;
    const rows: ChangeRow[] = [];
    for (const row of outbox.rowsOf(id)) {
      const entry = outbox.at(row.seq)!;
      if (base && entry.ackedRevision !== null && entry.ackedRevision <= base.revision) outbox.settle(entry);
      else rows.push(row);
    }
    const view = computeView(base, rows);
    const dropped: ChangeRow[] = [];
    for (const f of view.failed) {
      const entry = outbox.at(f.seq)!;
      if (mayBeOnServer(entry)) continue;
      this.recordConflict(entry, 'rebase', 'no longer applies on the server version', null, f.forward);
      outbox.settle(entry);
      dropped.push(f);
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
      pending: rows.filter((r) => r.state === QUEUED && !dropped.includes(r)).length,
      created_at: before?.created_at ?? createdAt,
      updated_at: before && before.content === text && before.deleted === deleted ? before.updated_at : at,
      deleted_at: view.deleted ? (before?.deleted_at ?? at) : null,
    };
    if (view.content === null && !base?.content) {
      store.deleteView(id);
      if (base) store.deleteBase(id);
      counts.viewWritten(before, undefined);
    } else {
      store.putView(after);
      counts.viewWritten(before, after);
    }
    return { before, after, dropped };
  }

  private recordConflict(entry: OutboxEntry, reason: string, message: string | null, server: WireDocument | null, rejected?: string | null): void {
    const { store } = this.p;
    store.addConflict({
      document_id: entry.documentId,
      mutation_id: entry.mutationId,
      kind: entry.kind,
      reason,
      message,
      rejected: rejected !== undefined ? rejected : store.getChange(entry.seq)!.forward,
      server_document: server ? JSON.stringify(server) : null,
      created_at: now(),
    });
  }

  /** Whether a conflict of the document against this server revision is news to the application. */
  private firstReport(id: string, revision: number): boolean {
    if (this.reported.get(id) === revision) return false;
    this.reported.delete(id);
    this.reported.set(id, revision);
    // Only a recent loss can be learnt twice; the oldest entries go first.
    if (this.reported.size > 1024) this.reported.delete(this.reported.keys().next().value!);
    return true;
  }

  private emitViewChange(id: string, before: ViewRow | undefined, after: ViewRow, conflict: boolean): void {
    const wasLive = before !== undefined && before.deleted === 0;
    const isLive = after.deleted === 0;
    const content = isLive ? (JSON.parse(after.content) as JsonObject) : null;
    const { events } = this.p;
    if (!wasLive && isLive) events.emit(EventType.DocumentCreated, { documentId: id, content, title: after.title });
    else if (wasLive && !isLive) events.emit(EventType.DocumentDeleted, { documentId: id });
    else if (isLive && (conflict || before!.content !== after.content)) events.emit(EventType.DocumentUpdated, { documentId: id, content, title: after.title });
  }

  /** Pending edits dropped because they no longer applied on the server's new version: one event for the document. */
  private emitDropped(dropped: ChangeRow[], base?: BaseRow): void {
    if (dropped.length === 0) return;
    const id = dropped[0]!.document_id;
    const version = base ?? this.p.store.getBase(id);
    if (!this.firstReport(id, version?.revision ?? 0)) return;
    const content = version?.content;
    this.p.events.emit(EventType.ConflictDetected, { documentId: id, content: content ? (JSON.parse(content) as JsonObject) : null, error: 'rebase' });
  }
}

/**
 * Whether the server may hold the change: it was answered, or sent (a create's first send stores
 * nothing, so every create counts as possibly sent). Only the server's answer may call such a change lost.
 */
function mayBeOnServer(entry: OutboxEntry): boolean {
  return entry.ackedSequence !== null || entry.sentBase !== null || entry.kind === 'create';
}

/** The title a wire document carries beside its content, if it is not the content's own. */
export function givenTitleOf(d: WireDocument): string | null {
  return d.title !== null && d.title !== titleOf(d.content) ? d.title : null;
}

function now(): string {
  return new Date().toISOString();
}
