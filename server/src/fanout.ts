import type { ChangeEvent, ProtocolVersion } from '@json-sync/core';
import type uWS from 'uWebSockets.js';
import { eventsInRange } from './changes.js';
import type { Connection, QueueWatcher } from './connection.js';
import type { Database } from './db/database.js';
import type { Logger } from './logger.js';
import { legacyPushOf } from './pushes.js';
import type { DocumentRow } from './store/documents.js';

const VERSIONS: readonly ProtocolVersion[] = [1, 2];

/** A committed change as a push of `version`: protocol 2 sends the change event itself, protocol 1 its own messages. */
function pushText(version: ProtocolVersion, userId: string, change: ChangeEvent, document: DocumentRow | undefined): string {
  return version === 2 ? JSON.stringify({ type: 'change', change }) : JSON.stringify(legacyPushOf(userId, change, document));
}

/**
 * One user's connections on this process. When there are two or more, those that can take pushes
 * from uWS's pub/sub are subscribed to the user's topic for their protocol version and get each
 * push from one native publish; the rest get it written one by one: connections whose own queue
 * is in use (a publish would overtake what waits there) and connections sharing a client_id with
 * another (the publisher can skip only itself). A user's only connection here is written to
 * directly: a topic of one would cost memory and save nothing. A push's text is made once per
 * protocol version its connections speak.
 */
class UserFeed implements QueueWatcher {
  /** Made with its first connection: an array sized for one, as most users have one here. */
  readonly connections: Connection[];
  /** Every sequence up to here has been pushed to this user's connections (or predates them). */
  through: number;
  /** Pushes read from the log, in progress: later pushes wait behind it, so sequence order holds. */
  chain: Promise<void> | null = null;
  /** Connections, and subscribed connections, by protocol version. */
  private readonly speaking: Record<ProtocolVersion, number> = { 1: 0, 2: 0 };
  private readonly subscribed: Record<ProtocolVersion, number> = { 1: 0, 2: 0 };

  constructor(
    readonly userId: string,
    first: Connection,
    latestSequence: number,
    private readonly fanout: Fanout,
  ) {
    this.through = latestSequence;
    this.connections = [first];
    first.watcher = this;
    this.speaking[first.session!.protocol]++;
  }

  /** Whether a protocol 1 connection is here (its create pushes need the document's row). */
  get legacy(): boolean {
    return this.speaking[1] > 0;
  }

  add(conn: Connection): void {
    const clientId = conn.session!.clientId;
    this.connections.push(conn);
    conn.watcher = this;
    this.speaking[conn.session!.protocol]++;
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
    this.speaking[conn.session!.protocol]--;
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
   * (`from`, when it is known and here), for each protocol version spoken here: one publish from
   * that connection (uWS skips the publisher itself), or from the app, then the direct ones.
   */
  push(change: ChangeEvent, document: DocumentRow | undefined, from: Connection | undefined): void {
    const fromClientId = change.client_id;
    for (const version of VERSIONS) {
      if (this.speaking[version] === 0) continue;
      const text = pushText(version, this.userId, change, document);
      if (this.subscribed[version] > 0) {
        const topic = topicOf(this.userId, version);
        // Only a subscriber can publish in uWS; a publisher that is not one receives nothing anyway.
        const publisher =
          from?.subscribed && from.session!.protocol === version
            ? from
            : fromClientId === null
              ? undefined
              : this.connections.find((c) => c.subscribed && c.session!.protocol === version && c.session!.clientId === fromClientId);
        if (publisher) publisher.ws!.publish(topic, text, false, false);
        else this.fanout.app.publish(topic, text, false, false);
        this.fanout.watch(this);
      }
      if (this.subscribed[version] === this.speaking[version]) continue;
      for (const c of this.connections) if (!c.subscribed && c.session!.protocol === version && c.session!.clientId !== fromClientId) c.sendText(text);
    }
  }

  /** Subscribed connections whose uWS buffer went over the high-water mark stop taking publishes. */
  demoteSlow(): void {
    if (this.subscribed[1] + this.subscribed[2] === 0) return;
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
      conn.ws!.subscribe(topicOf(this.userId, conn.session!.protocol));
      conn.subscribed = true;
      this.subscribed[conn.session!.protocol]++;
    } else if (!publishable) this.unsubscribe(conn);
  }

  // A subscribe only takes publishes made after it, and a ping sent before an unsubscribe makes uWS
  // write the publishes still pending for that socket (it drains them before any send, and would
  // drop them on unsubscribe): so switching at a moment our own queue is empty keeps the order.
  private unsubscribe(conn: Connection): void {
    if (!conn.subscribed) return;
    conn.subscribed = false;
    this.subscribed[conn.session!.protocol]--;
    if (!conn.ws) return;
    conn.ws.ping();
    conn.ws.unsubscribe(topicOf(this.userId, conn.session!.protocol));
  }
}

/** The uWS topic of a user's connections that speak `version`. */
function topicOf(userId: string, version: ProtocolVersion): string {
  return `${version}:${userId}`;
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

  /** A change committed by this process, through `from`: its change event and document are at hand. */
  local(userId: string, change: ChangeEvent, document: DocumentRow, from: Connection): void {
    const feed = this.feeds.get(userId);
    if (!feed) return;
    const { sequence } = change;
    if (feed.chain === null && sequence === feed.through + 1) {
      // Most users have one connection here, the sender's: nothing to serialise then.
      if (feed.connections.length > 1 || feed.connections[0] !== from) feed.push(change, document, from);
      feed.through = sequence;
      return;
    }
    this.step(feed, async () => {
      if (sequence <= feed.through) return;
      if (sequence > feed.through + 1) await this.fromLog(userId, feed, sequence - 1);
      feed.push(change, document, from);
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
      .catch((err) => this.log.warn({ err: (err as Error).message, user: feed.userId }, 'pushing changes failed; clients will catch up on their next gap'))
      .finally(() => {
        if (feed.chain === run) feed.chain = null;
      });
    feed.chain = run;
  }

  private async fromLog(userId: string, feed: UserFeed, to: number): Promise<void> {
    const { events, created } = await eventsInRange(this.db, userId, feed.through + 1, to, feed.legacy);
    for (const e of events) feed.push(e, created.get(e.document_id), undefined);
    feed.through = to;
  }
}
