import type { ChangeEvent, ServerMessage, ServerMessageOf } from '@json-sync/core';
import { EventType } from '../events.js';
import type { Logger } from '../logger.js';
import type { LocalStore } from '../storage/local-store.js';
import type { Counts } from './counts.js';
import type { EventHub } from './event-hub.js';
import type { Wire } from './wire.js';

/**
 * What the inbox holds: server messages, and frames that failed validation (kept in their place in
 * the order). A catch-up page is held as its events and its end, so a slice can end inside a page.
 */
export type InboxItem =
  | Exclude<ServerMessage, { type: 'changes' }>
  | { type: 'invalid'; error: string; raw: unknown }
  | { type: 'change_event'; event: ChangeEvent }
  | { type: 'changes_end'; latestSequence: number; hasMore: boolean };

/** Applies one item inside the slice's transaction; `current`: it arrived on the connection open now. */
export type InboxHandler = (item: InboxItem, current: boolean) => void;

export interface InboxParts {
  store: LocalStore;
  events: EventHub;
  counts: Counts;
  wire: Pick<Wire, 'setPaused'>;
  log: Logger;
  isClosed: () => boolean;
}

export interface InboxHooks {
  /** After each slice committed and its events were delivered. */
  afterSlice: () => void;
  /** The inbox is empty. */
  drained: () => void;
  /** Whether calls from outside wait for this thread (the C SDK's writes): the slice then ends after the message at hand. */
  yielding: () => boolean;
}

/**
 * How long one turn of the event loop may spend applying server messages. Short, because every
 * call of the application — and, in the C SDK, of every engine of the process — waits for it.
 */
const SLICE_MS = 1;
/** Server messages held unapplied before the socket stops being read. */
const HIGH_WATER = 512;

/**
 * Applies server messages in arrival order, in slices of about a millisecond, each slice in one
 * SQLite transaction (each message in a savepoint of it, so one that fails leaves no trace), and
 * the slice's events delivered once it committed. A slice also ends after the message at hand when
 * `yielding()` says that calls from outside wait for this thread, so they wait for one message,
 * not a whole slice. Each item remembers the connection it came on: messages of a connection that
 * has ended still apply, but the session knows they answer requests of a session that is over.
 */
export class Inbox {
  private queue: InboxItem[] = [];
  private connections: number[] = [];
  private head = 0;
  private connection = 0;

  constructor(
    private readonly p: InboxParts,
    private readonly handle: InboxHandler,
    private readonly hooks: InboxHooks,
  ) {}

  get size(): number {
    return this.queue.length - this.head;
  }

  /** A new connection authenticated: what arrives from now on is current. */
  connected(): void {
    this.connection++;
  }

  push(m: InboxItem | ServerMessageOf<'changes'>): void {
    if (this.p.isClosed()) return;
    const idle = this.size === 0;
    if (m.type === 'changes') {
      for (const event of m.events) this.add({ type: 'change_event', event });
      this.add({ type: 'changes_end', latestSequence: m.latest_sequence, hasMore: m.has_more });
    } else {
      this.add(m);
    }
    if (idle) setImmediate(() => this.drain());
    // Bounded memory: a huge catch-up or snapshot waits in the socket, not here.
    if (this.size >= HIGH_WATER) this.p.wire.setPaused(true);
  }

  clear(): void {
    this.queue = [];
    this.connections = [];
    this.head = 0;
  }

  private add(item: InboxItem): void {
    this.queue.push(item);
    this.connections.push(this.connection);
  }

  private drain(): void {
    const { p } = this;
    if (p.isClosed()) return this.clear();
    const deadline = performance.now() + SLICE_MS;
    p.events.hold();
    try {
      p.store.transaction(() => {
        while (this.size > 0 && !p.isClosed()) {
          const at = this.head++;
          this.apply(this.queue[at]!, this.connections[at] === this.connection);
          if (this.hooks.yielding() || performance.now() >= deadline) break;
        }
      });
      p.counts.committed();
    } finally {
      p.events.release();
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.connections = this.connections.slice(this.head);
      this.head = 0;
    }
    if (p.isClosed()) return this.clear();
    if (this.size < HIGH_WATER / 2) p.wire.setPaused(false);
    this.hooks.afterSlice();
    if (this.size > 0) setImmediate(() => this.drain());
    else this.hooks.drained();
  }

  /** One message in a savepoint: if applying it throws, its changes and events are dropped and reported. */
  private apply(m: InboxItem, current: boolean): void {
    const { p } = this;
    const mark = p.events.mark();
    try {
      p.store.transaction(() => this.handle(m, current));
    } catch (err) {
      p.events.dropSince(mark);
      p.log.error(`applying ${m.type} failed: ${(err as Error).stack ?? err}`);
      p.events.emit(EventType.SyncError, { error: `applying ${m.type} failed: ${(err as Error).message}` });
    }
  }
}
