import type { ChangeEvent, JsonObject, PatchOp, ServerMessageOf, WireDocument } from '@json-sync/core';
import { EventType } from '../events.js';
import type { EngineContext } from './context.js';

/** Behind by more than this many changes at login, with nothing of ours waiting: fetch each changed document once instead. */
const COMPACT_AFTER = 1000;
/** First and longest wait before asking again for what an invalid server message left unanswered. */
const INVALID_RETRY_MIN_MS = 500;
const INVALID_RETRY_MAX_MS = 30_000;

interface Snapshot {
  /** Documents the snapshot held (a full one drops local documents it did not list). */
  seen: Set<string>;
  /** Null: a full sync; else the sequence a compacted one started after. */
  since: number | null;
  /** One of its messages was junk: it is taken again instead of being trusted. */
  tainted: boolean;
}

/**
 * Keeps the replica level with the server's log: catch-up pages after the cursor when a gap shows,
 * a compacted catch-up (each changed document once) after a long absence, and a full sync when
 * nothing else can be trusted. A snapshot starts only once every local change is answered: a
 * change the server committed but had not answered would be in the snapshot and on top of it.
 */
export class CatchUp {
  private catchingUp = false;
  private snapshot: Snapshot | null = null;
  /** A full sync is owed (persisted until one completes). */
  private fullSyncWanted = false;
  /** Catch-up page size; halved when a page did not fit in one frame. */
  private pageLimit = 500;
  private highestSeen = 0;
  /** From login until caught up: SyncCompleted fires then, with the count of remote changes applied. */
  private initialSync = false;
  private remoteApplied = 0;
  private invalidRetryMs = INVALID_RETRY_MIN_MS;

  constructor(private readonly ctx: EngineContext) {
    this.fullSyncWanted = ctx.store.getState('full_sync') === 'pending';
  }

  get snapshotActive(): boolean {
    return this.snapshot !== null;
  }

  /** A full sync waits for the outbox to drain: the pump sends what is queued before it. */
  get snapshotWanted(): boolean {
    return this.fullSyncWanted;
  }

  /** True while anything of the server's log is still on its way in. */
  get busy(): boolean {
    return this.initialSync || this.catchingUp || this.snapshot !== null;
  }

  saw(sequence: number): void {
    this.highestSeen = Math.max(this.highestSeen, sequence);
  }

  countRemote(): void {
    this.remoteApplied++;
  }

  onAuthenticated(latest: number): void {
    const { ctx } = this;
    this.initialSync = true;
    this.remoteApplied = 0;
    this.saw(latest);
    const behind = latest - ctx.cursor.value;
    // Never applied anything, or a full sync was cut short: the snapshot is cheaper than the log.
    if ((ctx.cursor.value === 0 && latest > 0) || this.fullSyncWanted) this.wantFullSync();
    else if (behind > COMPACT_AFTER && ctx.outbox.pending === 0) this.startSnapshot(ctx.cursor.value);
    ctx.sender.pump();
    if (!this.fullSyncWanted && !this.snapshot) this.request();
  }

  onLost(code: number): void {
    // A catch-up page did not fit in one frame: ask for smaller pages from now on.
    if (code === 1009 && this.pageLimit > 1) this.pageLimit = Math.max(1, Math.floor(this.pageLimit / 2));
    this.catchingUp = false;
    this.snapshot = null;
    this.initialSync = false;
  }

  request(): void {
    const { transport, cursor } = this.ctx;
    if (this.catchingUp || this.snapshot || !transport.live) return;
    this.catchingUp = true;
    transport.send({ type: 'get_changes_since', last_sequence: cursor.value, limit: this.pageLimit });
  }

  /** One event of a catch-up page (the inbox applies a page's events one by one, in order). */
  onChangeEvent(e: ChangeEvent): void {
    this.ctx.replica.receive(streamChangeOf(e));
  }

  /** The end of a catch-up page: the next page, or caught up. */
  onChangesEnd(latestSequence: number, hasMore: boolean): void {
    this.invalidRetryMs = INVALID_RETRY_MIN_MS;
    this.saw(latestSequence);
    this.catchingUp = false;
    if (hasMore || this.highestSeen > this.ctx.cursor.value) return this.request();
    this.caughtUp();
  }

  /** The server refused a catch-up request without saying which (an error without mutation_id). */
  onRequestFailed(): void {
    if (!this.catchingUp) return;
    this.catchingUp = false;
    setTimeout(() => this.request(), 1000).unref();
  }

  onCursorExpired(): void {
    this.catchingUp = false;
    this.wantFullSync();
  }

  /** Asks for a full sync (remembered across restarts until one completes). */
  private wantFullSync(): void {
    this.fullSyncWanted = true;
    this.ctx.store.setState('full_sync', 'pending');
    this.maybeStartSnapshot();
  }

  /** A full sync once the current transaction is over (a diverged base found while applying the stream). */
  wantFullSyncSoon(): void {
    setImmediate(() => {
      if (!this.ctx.isClosed()) this.wantFullSync();
    });
  }

  maybeStartSnapshot(): void {
    if (this.fullSyncWanted) this.startSnapshot(null);
  }

  onSyncDocument(d: WireDocument): void {
    const s = this.snapshot;
    if (!s) return;
    s.seen.add(d.id);
    if (this.ctx.replica.applySnapshot(d)) this.remoteApplied++;
  }

  onSyncComplete(m: ServerMessageOf<'sync_complete'>): void {
    const s = this.snapshot;
    if (!s) return;
    this.snapshot = null;
    if (s.tainted) return this.startSnapshot(s.since);
    const { store, replica, outbox, cursor } = this.ctx;
    // A server that does not know since_sequence sent everything: that is a full sync.
    const full = s.since === null || m.since_sequence !== s.since;
    if (full) for (const id of store.viewIds()) if (!s.seen.has(id)) replica.dropUnlisted(id);
    // Answered changes are in the snapshot now: drop them and show the documents without them.
    const answered = outbox.answeredUpTo(m.latest_sequence);
    for (const entry of answered) outbox.settle(entry);
    for (const id of new Set(answered.map((a) => a.documentId))) replica.refreshAnswered(id);
    cursor.set(m.latest_sequence);
    if (full) {
      this.fullSyncWanted = false;
      store.setState('full_sync', 'done');
    }
    this.request();
    this.ctx.sender.schedule();
  }

  /** A server message failed validation and was skipped: what it belonged to is asked for again. */
  onInvalid(type: unknown): void {
    if (this.snapshot) {
      this.snapshot.tainted = true;
      // Its end is the message that went missing: the snapshot is incomplete, take it again.
      if (type === 'sync_complete') {
        const since = this.snapshot.since;
        this.retryLater(() => {
          this.snapshot = null;
          this.startSnapshot(since);
        });
      }
      return;
    }
    if (type === 'changes') {
      this.retryLater(() => {
        this.catchingUp = false;
        this.request();
      });
      return;
    }
    this.request();
  }

  /** Caught up after a catch-up or snapshot: SyncCompleted after a login, and the server learns how far we are. */
  private caughtUp(): void {
    const { events, transport, cursor } = this.ctx;
    if (this.initialSync) {
      this.initialSync = false;
      events.emit(EventType.SyncCompleted, { numericData: this.remoteApplied });
    }
    if (cursor.value > 0) transport.send({ type: 'ack_changes', up_to_sequence: cursor.value });
  }

  private startSnapshot(since: number | null): void {
    const { transport, sender, outbox } = this.ctx;
    if (this.snapshot || !transport.live || sender.inFlightCount > 0 || outbox.pending > 0) return;
    this.snapshot = { seen: new Set(), since, tainted: false };
    transport.send({ type: 'request_full_sync', ...(since !== null ? { since_sequence: since } : {}) });
  }

  /** Runs `fn` after the current retry delay, doubling it (up to 30 s) until a catch-up page applies. */
  private retryLater(fn: () => void): void {
    const delay = this.invalidRetryMs;
    this.invalidRetryMs = Math.min(this.invalidRetryMs * 2, INVALID_RETRY_MAX_MS);
    setTimeout(() => {
      if (!this.ctx.isClosed()) fn();
    }, delay).unref();
  }
}

function streamChangeOf(e: ChangeEvent) {
  return {
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
  };
}
