import { isPlainObject, type ChangeEvent, type ServerMessage, type ServerMessageOf } from '@json-sync/core';
import { EventType } from '../events.js';
import type { EngineContext } from './context.js';
import { givenTitleOf } from './replica.js';

/**
 * What the inbox holds: server messages, and frames that failed validation (kept in their place in
 * the order). A catch-up page is held as its events and its end, so a slice can end inside a page.
 */
export type InboxItem =
  | Exclude<ServerMessage, { type: 'changes' }>
  | { type: 'invalid'; error: string; raw: unknown }
  | { type: 'change_event'; event: ChangeEvent }
  | { type: 'changes_end'; latestSequence: number; hasMore: boolean };

/**
 * How long one turn of the event loop may spend applying server messages. Short, because every
 * call of the application — and, in the C SDK, of every engine of the process — waits for it.
 */
const SLICE_MS = 1;
/** Server messages held unapplied before the socket stops being read. */
const HIGH_WATER = 512;
/** Delay before a mutation whose answer was junk is sent again. */
const INVALID_ANSWER_RETRY_MS = 500;

/**
 * Applies server messages in arrival order, in slices of about a millisecond, each slice in one
 * SQLite transaction (each message in a savepoint of it, so one that fails leaves no trace), and
 * the slice's events delivered once it committed. A slice also ends after the message at hand when
 * `yielding()` says that calls from outside wait for this thread (the C SDK's writes), so they
 * wait for one message, not a whole slice.
 */
export class Inbox {
  private queue: InboxItem[] = [];
  private head = 0;

  constructor(
    private readonly ctx: EngineContext,
    private readonly drained: () => void,
    private readonly yielding: () => boolean = () => false,
  ) {}

  get size(): number {
    return this.queue.length - this.head;
  }

  push(m: InboxItem | ServerMessageOf<'changes'>): void {
    if (this.ctx.isClosed()) return;
    const idle = this.size === 0;
    if (m.type === 'changes') {
      for (const event of m.events) this.queue.push({ type: 'change_event', event });
      this.queue.push({ type: 'changes_end', latestSequence: m.latest_sequence, hasMore: m.has_more });
    } else {
      this.queue.push(m);
    }
    if (idle) setImmediate(() => this.drain());
    // Bounded memory: a huge catch-up or snapshot waits in the socket, not here.
    if (this.size >= HIGH_WATER) this.ctx.transport.setPaused(true);
  }

  clear(): void {
    this.queue = [];
    this.head = 0;
  }

  private drain(): void {
    const { ctx } = this;
    if (ctx.isClosed()) return this.clear();
    const deadline = performance.now() + SLICE_MS;
    ctx.events.hold();
    try {
      ctx.store.transaction(() => {
        while (this.size > 0 && !ctx.isClosed()) {
          const m = this.queue[this.head++]!;
          this.apply(m);
          if (performance.now() >= deadline || this.yielding()) break;
        }
      });
      ctx.counts.committed();
    } finally {
      ctx.events.release();
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    if (ctx.isClosed()) return this.clear();
    if (this.size < HIGH_WATER / 2) ctx.transport.setPaused(false);
    if (this.size > 0) setImmediate(() => this.drain());
    else this.drained();
  }

  /** One message in a savepoint: if applying it throws, its changes and events are dropped and reported. */
  private apply(m: InboxItem): void {
    const { ctx } = this;
    const mark = ctx.events.mark();
    try {
      ctx.store.transaction(() => this.dispatch(m));
    } catch (err) {
      ctx.events.dropSince(mark);
      ctx.log.error(`applying ${m.type} failed: ${(err as Error).stack ?? err}`);
      ctx.events.emit(EventType.SyncError, { error: `applying ${m.type} failed: ${(err as Error).message}` });
    }
  }

  private dispatch(m: InboxItem): void {
    const { replica, catchUp } = this.ctx;
    switch (m.type) {
      case 'invalid':
        return this.onInvalid(m.error, m.raw);
      case 'document_created_response':
      case 'document_updated_response':
      case 'document_deleted_response':
        return replica.onReply(m);
      case 'conflict_detected':
        return replica.onConflict(m);
      case 'error':
        if (m.code === 'cursor_expired') return catchUp.onCursorExpired();
        if (m.mutation_id) return replica.onMutationError({ ...m, mutation_id: m.mutation_id });
        this.ctx.events.emit(EventType.SyncError, { error: `${m.code}: ${m.message}` });
        return catchUp.onRequestFailed();
      case 'document_created':
        return replica.receive({
          documentId: m.document.id,
          content: m.document.content,
          syncRevision: m.document.sync_revision,
          contentHash: m.document.content_hash,
          givenTitle: givenTitleOf(m.document),
          sequence: m.sequence,
          type: 'create',
          mutationId: m.mutation_id,
          clientId: m.client_id,
          at: m.document.updated_at,
        });
      case 'document_updated':
        return replica.receive({
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
        return replica.receive({
          sequence: m.sequence,
          documentId: m.document_id,
          type: 'delete',
          syncRevision: m.sync_revision,
          contentHash: null,
          mutationId: m.mutation_id,
          clientId: m.client_id,
          at: new Date().toISOString(),
        });
      case 'change_event':
        return catchUp.onChangeEvent(m.event);
      case 'changes_end':
        return catchUp.onChangesEnd(m.latestSequence, m.hasMore);
      case 'sync_document':
        return catchUp.onSyncDocument(m.document);
      case 'sync_complete':
        return catchUp.onSyncComplete(m);
      case 'changes_acknowledged':
      case 'pong':
      case 'auth_success':
      case 'auth_error':
        return;
    }
  }

  /**
   * A server message failed validation and was skipped. Nothing may wait on it forever: a mutation
   * it answered is sent again (the server repeats its original reply), a change it carried is
   * fetched again by catch-up, and a snapshot it belonged to is taken again.
   */
  private onInvalid(error: string, raw: unknown): void {
    const { ctx } = this;
    const { type, mutation_id: mutationId } = (isPlainObject(raw) ? raw : {}) as { type?: unknown; mutation_id?: unknown };
    ctx.events.emit(EventType.SyncError, { error: `server sent an invalid ${typeof type === 'string' ? type.slice(0, 64) : 'message'} (${error}); skipped` });
    if (typeof mutationId === 'string' && ctx.sender.isInFlight(mutationId)) ctx.sender.retryLater(mutationId, INVALID_ANSWER_RETRY_MS);
    ctx.catchUp.onInvalid(type);
  }
}
