import type { ServerMessage } from '@json-sync/core';
import type uWS from 'uWebSockets.js';
import { eventsInRange } from './changes.js';
import type { Connection, QueueWatcher } from './connection.js';
import type { Database } from './db/database.js';
import type { Logger } from './logger.js';
import { pushFor } from './pushes.js';

/**
 * One user's connections on this process. When there are two or more, those that can take pushes
 * from uWS's pub/sub are subscribed to the user's topic (named by the user id) and get each push
 * from one native publish; the rest get it written one by one: connections whose own queue is in
 * use (a publish would overtake what waits there) and connections sharing a client_id with
 * another (the publisher can skip only itself). A user's only connection here is written to
 * directly: a topic of one would cost memory and save nothing.
 */
class UserFeed implements QueueWatcher {
  /** Made with its first connection: an array sized for one, as most users have one here. */
  readonly connections: Connection[];
  /** Every sequence up to here has been pushed to this user's connections (or predates them). */
  through: number;
  /** Pushes read from the log, in progress: later pushes wait behind it, so sequence order holds. */
  chain: Promise<void> | null = null;
  private subscribed = 0;

  constructor(
    readonly topic: string,
    first: Connection,
    latestSequence: number,
    private readonly fanout: Fanout,
  ) {
    this.through = latestSequence;
    this.connections = [first];
    first.watcher = this;
  }

  add(conn: Connection): void {
    const clientId = conn.session!.clientId;
    this.connections.push(conn);
    conn.watcher = this;
    for (const c of this.connections) {
      if (c !== conn && c.session!.clientId === clientId) {
        c.clientIdShared = true;
        conn.clientIdShared = true;
        this.arrange(c);
      }
    }
    if (this.connections.length === 2) this.arrange(this.connections[0]!);
    this.arrange(conn);
  }

  remove(conn: Connection): void {
    const i = this.connections.indexOf(conn);
    if (i < 0) return;
    this.connections.splice(i, 1);
    conn.watcher = null;
    this.unsubscribe(conn);
    if (conn.clientIdShared) {
      const same = this.connections.filter((c) => c.session!.clientId === conn.session!.clientId);
      if (same.length === 1) {
        same[0]!.clientIdShared = false;
        this.arrange(same[0]!);
      }
    }
    if (this.connections.length === 1) this.arrange(this.connections[0]!);
  }

  /**
   * One push to every connection of the user but those of the client that made the change
   * (`from`, when it is known and here): one publish from that connection (uWS skips the
   * publisher itself), or from the app, then the direct ones.
   */
  push(text: string, from: Connection | undefined, fromClientId: string | null): void {
    if (this.subscribed > 0) {
      // Only a subscriber can publish in uWS; a publisher that is not one receives nothing anyway.
      const publisher = from?.subscribed ? from : fromClientId === null ? undefined : this.connections.find((c) => c.subscribed && c.session!.clientId === fromClientId);
      if (publisher) publisher.ws!.publish(this.topic, text, false, false);
      else this.fanout.app.publish(this.topic, text, false, false);
      this.fanout.watch(this);
    }
    if (this.subscribed === this.connections.length) return;
    for (const c of this.connections) if (!c.subscribed && c.session!.clientId !== fromClientId) c.sendText(text);
  }

  /** Subscribed connections whose uWS buffer went over the high-water mark stop taking publishes. */
  demoteSlow(): void {
    if (this.subscribed === 0) return;
    for (const c of this.connections) if (c.subscribed && c.overHighWater()) c.startQueueing();
  }

  queueing(conn: Connection): void {
    this.unsubscribe(conn);
  }

  drained(conn: Connection): void {
    this.arrange(conn);
  }

  /** Subscribes or unsubscribes one connection, as the rules above say it should be now. */
  private arrange(conn: Connection): void {
    const publishable = this.connections.length >= 2 && !conn.queueing && !conn.clientIdShared && conn.ws !== null;
    if (publishable && !conn.subscribed) {
      conn.ws!.subscribe(this.topic);
      conn.subscribed = true;
      this.subscribed++;
    } else if (!publishable) this.unsubscribe(conn);
  }

  // A subscribe only takes publishes made after it, and a ping sent before an unsubscribe makes uWS
  // write the publishes still pending for that socket (it drains them before any send, and would
  // drop them on unsubscribe): so switching at a moment our own queue is empty keeps the order.
  private unsubscribe(conn: Connection): void {
    if (!conn.subscribed) return;
    conn.subscribed = false;
    this.subscribed--;
    if (!conn.ws) return;
    conn.ws.ping();
    conn.ws.unsubscribe(this.topic);
  }
}

/**
 * Pushes each user's committed changes to that user's connections on this process, in sequence
 * order, each exactly once, serialised once and fanned out natively by uWS's pub/sub (one topic
 * per user): changes committed here are pushed from memory, changes committed by other processes
 * (or missed while LISTEN was down) are read from the log. A push never goes to the client that
 * made the change.
 */
export class Fanout {
  private readonly feeds = new Map<string, UserFeed>();
  private readonly pendingCatchUp = new Set<string>();
  private catchUpScheduled = false;
  private readonly published = new Set<UserFeed>();
  private sweepScheduled = false;

  constructor(
    private readonly db: Database,
    private readonly log: Logger,
    readonly app: uWS.TemplatedApp,
  ) {}

  /** Users with a connection here. */
  get users(): number {
    return this.feeds.size;
  }

  add(userId: string, conn: Connection, latestSequence: number): void {
    const feed = this.feeds.get(userId);
    if (feed) feed.add(conn);
    else this.feeds.set(userId, new UserFeed(userId, conn, latestSequence, this));
  }

  remove(userId: string, conn: Connection): void {
    const feed = this.feeds.get(userId);
    if (!feed) return;
    feed.remove(conn);
    if (feed.connections.length === 0) this.feeds.delete(userId);
  }

  /** A change committed by this process, through `from`: its push is at hand. */
  local(userId: string, sequence: number, push: ServerMessage, from: Connection, fromClientId: string): void {
    const feed = this.feeds.get(userId);
    if (!feed) return;
    if (feed.chain === null && sequence === feed.through + 1) {
      // Most users have one connection here, the sender's: nothing to serialise then.
      if (feed.connections.length > 1 || feed.connections[0] !== from) feed.push(JSON.stringify(push), from, fromClientId);
      feed.through = sequence;
      return;
    }
    this.step(feed, async () => {
      if (sequence <= feed.through) return;
      if (sequence > feed.through + 1) await this.fromLog(userId, feed, sequence - 1);
      feed.push(JSON.stringify(push), from, fromClientId);
      feed.through = sequence;
    });
  }

  /** Another process announced (or a gap may hide) changes up to `to`: read them from the log. */
  remote(userId: string, to: number): void {
    const feed = this.feeds.get(userId);
    if (!feed || (feed.chain === null && to <= feed.through)) return;
    this.step(feed, async () => {
      if (to > feed.through) await this.fromLog(userId, feed, to);
    });
  }

  /** After LISTEN was down, announcements may be lost: push whatever each connected user missed. */
  catchUpAll(): void {
    for (const userId of this.feeds.keys()) this.catchUp(userId);
  }

  /**
   * Pushes whatever the log holds beyond what this user's connections have seen. Users asked for
   * in the same turn are looked up together, in one query.
   */
  catchUp(userId: string): void {
    this.pendingCatchUp.add(userId);
    if (this.catchUpScheduled) return;
    this.catchUpScheduled = true;
    setImmediate(() => void this.runCatchUp());
  }

  private async runCatchUp(): Promise<void> {
    this.catchUpScheduled = false;
    const users = [...this.pendingCatchUp];
    this.pendingCatchUp.clear();
    try {
      const r = await this.db.query<{ id: string; last_sequence: number }>('SELECT id, last_sequence FROM users WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb)::uuid)', [
        JSON.stringify(users),
      ]);
      for (const row of r.rows) this.remote(row.id, row.last_sequence);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'catching up connected clients failed; they will catch up on their next gap');
    }
  }

  /** Resolves when every push queued so far has been handed to its connections. */
  async idle(): Promise<void> {
    await Promise.all([...this.feeds.values()].map((f) => f.chain));
  }

  /** After this turn's publishes reached the sockets, connections that fell behind start queueing. */
  watch(feed: UserFeed): void {
    this.published.add(feed);
    if (this.sweepScheduled) return;
    this.sweepScheduled = true;
    setImmediate(() => {
      this.sweepScheduled = false;
      for (const f of this.published) f.demoteSlow();
      this.published.clear();
    });
  }

  private step(feed: UserFeed, fn: () => Promise<void>): void {
    const run = (feed.chain ?? Promise.resolve())
      .then(fn)
      .catch((err) => this.log.warn({ err: (err as Error).message, topic: feed.topic }, 'pushing changes failed; clients will catch up on their next gap'))
      .finally(() => {
        if (feed.chain === run) feed.chain = null;
      });
    feed.chain = run;
  }

  private async fromLog(userId: string, feed: UserFeed, to: number): Promise<void> {
    const { events, created } = await eventsInRange(this.db, userId, feed.through + 1, to);
    for (const e of events) feed.push(JSON.stringify(pushFor(userId, e, created.get(e.document_id))), undefined, e.client_id);
    feed.through = to;
  }
}
