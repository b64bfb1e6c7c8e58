import { isPlainObject, type ServerMessageOf } from '@json-sync/core';
import { EventType } from '../events.js';
import type { LocalStore } from '../storage/local-store.js';
import type { CatchUp } from './catch-up.js';
import type { Cursor } from './cursor.js';
import type { EventHub } from './event-hub.js';
import type { InboxItem } from './inbox.js';
import type { Outbox } from './outbox.js';
import type { Answered, Replica } from './replica.js';
import { Sender } from './sender.js';
import { streamChangeOf, type StreamChange } from './stream-change.js';
import type { Wire } from './wire.js';

/**
 * Where the connection's session stands:
 * - offline: not authenticated (messages already received still apply);
 * - paging: a catch-up page (`get_changes_since`) is on its way;
 * - live: level with the log; the server's pushes apply as they come;
 * - draining: a snapshot is owed; local changes go out and are answered first, because a snapshot
 *   must hold every change of ours the server accepted (`since`: a compacted one). Only the
 *   outbox's window is drained: answered entries stay there until the snapshot settles them, and
 *   what lies beyond it was never sent, so it waits for after the snapshot;
 * - snapshot: `request_full_sync` is on its way; nothing is sent, the stream waits.
 */
export type Phase =
  | { readonly name: 'offline' }
  | { readonly name: 'paging' }
  | { readonly name: 'live' }
  | { readonly name: 'draining'; readonly since: number | null }
  | { readonly name: 'snapshot'; readonly since: number | null; readonly seen: Set<string>; tainted: boolean };

/** Server error codes that refuse a mutation for good; any other (rate_limited, server_error) is retried. */
const PERMANENT_ERRORS = new Set(['invalid_message', 'invalid_patch', 'document_not_found', 'document_exists', 'message_too_large']);
/** Delay before a mutation whose answer was junk is sent again. */
const INVALID_ANSWER_RETRY_MS = 500;
/** Delay before a catch-up request the server refused is sent again. */
const REFUSED_REQUEST_RETRY_MS = 1000;

export interface SessionParts {
  store: LocalStore;
  outbox: Outbox;
  cursor: Cursor;
  wire: Wire;
  events: EventHub;
  replica: Replica;
  catchUp: CatchUp;
  isClosed: () => boolean;
}

/**
 * The one owner of the connection's session: its phase, the snapshot owed or on its way, and what
 * each server message means for them. The parts it drives — replica (applies), sender (the window
 * of changes sent and unanswered), catch-up (page arithmetic) — never call each other: they return
 * what happened, and the session decides what follows.
 */
export class Session {
  /** The window of changes sent and not yet answered: the session's, since whether anything may be sent depends on its phase. */
  readonly sender: Sender;
  private phase: Phase = { name: 'offline' };
  /** A full sync is owed: persisted until one completes (a crash midway takes it again). */
  private fullSyncOwed: boolean;
  /** From login until caught up: SyncCompleted fires then, with the count of remote changes applied. */
  private reportCaughtUp = false;
  private remoteApplied = 0;

  constructor(private readonly p: SessionParts) {
    this.fullSyncOwed = p.store.getState('full_sync') === 'pending';
    this.sender = new Sender({ store: p.store, outbox: p.outbox, wire: p.wire, isClosed: p.isClosed, mayPump: this.mayPump });
  }

  get current(): Phase {
    return this.phase;
  }

  /** Anything of the server's log still on its way in. */
  get busy(): boolean {
    return this.reportCaughtUp || this.phase.name === 'paging' || this.phase.name === 'draining' || this.phase.name === 'snapshot';
  }

  /** Whether local changes may go out now: connected, and no snapshot on its way. */
  readonly mayPump = (): boolean => {
    const { name } = this.phase;
    return name === 'live' || name === 'paging' || name === 'draining';
  };

  // ---- connection events ----------------------------------------------------------------------

  authenticated(latest: number): void {
    const { catchUp, cursor, outbox } = this.p;
    this.reportCaughtUp = true;
    this.remoteApplied = 0;
    const plan = catchUp.planLogin(cursor.value, latest, outbox.pending, this.fullSyncOwed);
    if (plan.kind === 'snapshot' && plan.since === null) this.oweFullSync();
    this.phase = plan.kind === 'pages' ? { name: 'paging' } : { name: 'draining', since: plan.since };
    // What waits in the outbox goes first: its answers are on their way while the page is read.
    this.advance();
    if (plan.kind === 'pages') this.sendPage();
  }

  lost(code: number): void {
    this.p.catchUp.connectionClosed(code);
    this.sender.reset();
    this.phase = { name: 'offline' };
    this.reportCaughtUp = false;
  }

  /**
   * After each slice of server messages commits (and after a login): a snapshot owed starts once
   * nothing of ours is unanswered; otherwise what may be sent goes out.
   */
  advance(): void {
    const { wire, outbox } = this.p;
    const { sender } = this;
    if (this.p.isClosed() || !wire.live) return;
    const { phase } = this;
    if (phase.name === 'draining' && sender.inFlightCount === 0 && !outbox.unansweredHeld) this.startSnapshot(phase.since);
    else if (this.mayPump()) sender.pump();
  }

  // ---- server messages ------------------------------------------------------------------------

  /** One server message, in arrival order, inside the inbox's transaction. `current`: it came on the connection now open. */
  handle(m: InboxItem, current: boolean): void {
    switch (m.type) {
      case 'invalid':
        return this.onInvalid(m.error, m.raw);
      case 'document_created_response':
      case 'document_updated_response':
      case 'document_deleted_response':
        this.sender.settle(m.mutation_id);
        this.p.catchUp.saw(m.sequence);
        return this.follow(this.p.replica.onReply(m));
      case 'conflict_detected':
        this.sender.settle(m.mutation_id);
        this.p.replica.onConflict(m);
        return;
      case 'error':
        return this.onError(m, current);
      case 'change':
        return this.onStreamChange(streamChangeOf(m.change));
      case 'change_event':
        return this.onStreamChange(streamChangeOf(m.event));
      case 'changes_end':
        if (current) this.onPageEnd(m.latestSequence, m.hasMore);
        return;
      case 'sync_document':
        if (current) this.onSyncDocument(m.document);
        return;
      case 'sync_complete':
        if (current) this.onSyncComplete(m);
        return;
      case 'document_created':
      case 'document_updated':
      case 'document_deleted':
        // Protocol 1's pushes: this engine says protocol 2, whose pushes are `change` messages.
        this.p.events.emit(EventType.SyncError, { error: `server sent a protocol 1 ${m.type}; skipped` });
        return this.requestPage();
      case 'changes_acknowledged':
      case 'pong':
      case 'auth_success':
      case 'auth_error':
        return;
    }
  }

  private onStreamChange(c: StreamChange): void {
    this.p.catchUp.saw(c.sequence);
    // The snapshot on its way holds the change, or the page asked for after it will.
    if (this.phase.name === 'snapshot') return;
    this.follow(this.p.replica.receive(c));
  }

  /** What a change applied (or not) means for the session. */
  private follow(outcome: Answered): void {
    if (outcome === 'remote') this.remoteApplied++;
    else if (outcome === 'gap') this.requestPage();
    else if (outcome === 'diverged') this.oweFullSync();
  }

  private onError(m: ServerMessageOf<'error'>, current: boolean): void {
    const { replica, events } = this.p;
    const { sender } = this;
    if (m.code === 'cursor_expired') {
      // A full snapshot on its way repairs everything the expired request was for.
      if (current && !(this.phase.name === 'snapshot' && this.phase.since === null)) this.oweFullSync();
      return;
    }
    if (m.mutation_id) {
      if (!PERMANENT_ERRORS.has(m.code)) return sender.retryLater(m.mutation_id, 500 + Math.random() * 1500);
      sender.settle(m.mutation_id);
      replica.onRefused(m.mutation_id, m.code, m.message);
      return;
    }
    events.emit(EventType.SyncError, { error: `${m.code}: ${m.message}` });
    // The server refused a catch-up request without saying which: ask again in a moment.
    if (current && this.phase.name === 'paging') this.later(REFUSED_REQUEST_RETRY_MS, (p) => p.name === 'paging' && this.sendPage());
  }

  private onPageEnd(latest: number, hasMore: boolean): void {
    // A page asked for before a snapshot was owed: the snapshot supersedes it.
    if (this.phase.name !== 'paging') return;
    if (this.p.catchUp.morePages(latest, hasMore, this.p.cursor.value)) return this.sendPage();
    this.caughtUp();
  }

  private onSyncDocument(d: ServerMessageOf<'sync_document'>['document']): void {
    if (this.phase.name !== 'snapshot') return;
    this.phase.seen.add(d.id);
    if (this.p.replica.applySnapshot(d)) this.remoteApplied++;
  }

  private onSyncComplete(m: ServerMessageOf<'sync_complete'>): void {
    const s = this.phase;
    if (s.name !== 'snapshot') return;
    if (s.tainted) return this.startSnapshot(s.since);
    this.p.catchUp.saw(m.latest_sequence);
    // A server that does not know since_sequence sent everything: that is a full sync.
    const full = s.since === null || m.since_sequence !== s.since;
    this.p.replica.completeSnapshot(full, s.seen, m.latest_sequence);
    if (full && this.fullSyncOwed) {
      this.fullSyncOwed = false;
      this.p.store.setState('full_sync', 'done');
    }
    if (this.fullSyncOwed) this.phase = { name: 'draining', since: null };
    else this.sendPageFromHere();
  }

  /**
   * A server message failed validation and was skipped. Nothing may wait on it forever: a mutation
   * it answered is sent again (the server repeats its original reply), a change it carried is
   * fetched again by catch-up, and a snapshot it belonged to is taken again.
   */
  private onInvalid(error: string, raw: unknown): void {
    const { events, catchUp } = this.p;
    const { sender } = this;
    const { type, mutation_id: mutationId } = (isPlainObject(raw) ? raw : {}) as { type?: unknown; mutation_id?: unknown };
    events.emit(EventType.SyncError, { error: `server sent an invalid ${typeof type === 'string' ? type.slice(0, 64) : 'message'} (${error}); skipped` });
    if (typeof mutationId === 'string' && sender.isInFlight(mutationId)) sender.retryLater(mutationId, INVALID_ANSWER_RETRY_MS);
    const phase = this.phase;
    if (phase.name === 'snapshot') {
      phase.tainted = true;
      // Its end is the message that went missing: the snapshot is incomplete, take it again.
      if (type === 'sync_complete') this.later(catchUp.nextInvalidRetryMs(), (now) => now === phase && this.startSnapshot(phase.since));
      return;
    }
    // The page that went missing is asked for again; a push that went missing comes with the next page.
    if (type === 'changes') this.later(catchUp.nextInvalidRetryMs(), (now) => now.name === 'paging' && this.sendPage());
    else this.requestPage();
  }

  // ---- transitions ----------------------------------------------------------------------------

  /** Changes are missing: from live, ask for the next page (in the other phases one is on its way, or a snapshot is). */
  private requestPage(): void {
    if (this.phase.name === 'live') this.sendPageFromHere();
  }

  private sendPageFromHere(): void {
    this.phase = { name: 'paging' };
    this.sendPage();
  }

  private sendPage(): void {
    this.p.wire.send(this.p.catchUp.pageRequest(this.p.cursor.value));
  }

  /** Level with the log: SyncCompleted after a login, and the server learns how far we are. */
  private caughtUp(): void {
    const { events, wire, cursor } = this.p;
    this.phase = { name: 'live' };
    if (this.reportCaughtUp) {
      this.reportCaughtUp = false;
      events.emit(EventType.SyncCompleted, { numericData: this.remoteApplied });
    }
    if (cursor.value > 0) wire.send({ type: 'ack_changes', up_to_sequence: cursor.value });
  }

  /** Nothing else can be trusted (a fresh replica, a diverged document, an expired cursor): a full snapshot, remembered across restarts. */
  private oweFullSync(): void {
    if (!this.fullSyncOwed) {
      this.fullSyncOwed = true;
      this.p.store.setState('full_sync', 'pending');
      this.p.store.onRollback(() => (this.fullSyncOwed = false));
    }
    if (this.phase.name !== 'offline' && !(this.phase.name === 'snapshot' && this.phase.since === null)) this.phase = { name: 'draining', since: null };
  }

  private startSnapshot(since: number | null): void {
    this.phase = { name: 'snapshot', since, seen: new Set(), tainted: false };
    this.p.wire.send({ type: 'request_full_sync', ...(since !== null ? { since_sequence: since } : {}) });
  }

  /** Runs `then(phase)` after `ms`, unless the engine closed by then; `then` checks the phase it finds. */
  private later(ms: number, then: (phase: Phase) => unknown): void {
    setTimeout(() => {
      if (!this.p.isClosed()) then(this.phase);
    }, ms).unref();
  }
}
