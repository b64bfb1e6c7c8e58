import type { ServerMessage } from '@json-sync/core';
import { eventsInRange } from './changes.js';
import type { Connection } from './connection.js';
import type { Database } from './db/database.js';
import type { Logger } from './logger.js';
import { pushFor } from './pushes.js';

interface UserFeed {
  connections: Set<Connection>;
  /** Every sequence up to here has been pushed to this user's connections (or predates them). */
  through: number;
  /** Pushes for one user go out strictly in sequence order, one step at a time. */
  chain: Promise<void>;
}

/**
 * Pushes each user's committed changes to that user's connections on this process, in sequence
 * order, each exactly once: changes committed here are pushed from memory, changes committed by
 * other processes (or missed while LISTEN was down) are read from the log. A push never goes to
 * the client that made the change.
 */
export class Fanout {
  private readonly feeds = new Map<string, UserFeed>();

  constructor(
    private readonly db: Database,
    private readonly log: Logger,
  ) {}

  add(userId: string, conn: Connection, latestSequence: number): void {
    let feed = this.feeds.get(userId);
    if (!feed) this.feeds.set(userId, (feed = { connections: new Set(), through: latestSequence, chain: Promise.resolve() }));
    feed.connections.add(conn);
  }

  remove(userId: string, conn: Connection): void {
    const feed = this.feeds.get(userId);
    if (!feed) return;
    feed.connections.delete(conn);
    if (feed.connections.size === 0) this.feeds.delete(userId);
  }

  /** A change committed by this process: its push is at hand. */
  local(userId: string, sequence: number, push: ServerMessage, fromClientId: string): void {
    this.step(userId, async (feed) => {
      if (sequence <= feed.through) return;
      if (sequence > feed.through + 1) await this.fromLog(userId, feed, sequence - 1);
      const text = JSON.stringify(push);
      for (const c of feed.connections) if (c.session?.clientId !== fromClientId) c.sendText(text);
      feed.through = sequence;
    });
  }

  /** Another process announced (or a gap may hide) changes up to `to`: read them from the log. */
  remote(userId: string, to: number): void {
    this.step(userId, async (feed) => {
      if (to > feed.through) await this.fromLog(userId, feed, to);
    });
  }

  /** After LISTEN was down, announcements may be lost: push whatever each connected user missed. */
  catchUpAll(): void {
    for (const userId of this.feeds.keys()) this.catchUp(userId);
  }

  /** Pushes whatever the log holds beyond what this user's connections have seen. */
  catchUp(userId: string): void {
    this.step(userId, async (feed) => {
      const r = await this.db.query<{ last_sequence: number }>('SELECT last_sequence FROM users WHERE id = $1', [userId]);
      const latest = r.rows[0]?.last_sequence ?? 0;
      if (latest > feed.through) await this.fromLog(userId, feed, latest);
    });
  }

  /** Resolves when every push queued so far has been handed to its connections. */
  async idle(): Promise<void> {
    await Promise.all([...this.feeds.values()].map((f) => f.chain));
  }

  private step(userId: string, fn: (feed: UserFeed) => Promise<void>): void {
    const feed = this.feeds.get(userId);
    if (!feed) return;
    feed.chain = feed.chain
      .then(() => fn(feed))
      .catch((err) => this.log.warn({ err: (err as Error).message, userId }, 'pushing changes failed; clients will catch up on their next gap'));
  }

  private async fromLog(userId: string, feed: UserFeed, to: number): Promise<void> {
    const { events, created } = await eventsInRange(this.db, userId, feed.through + 1, to);
    for (const e of events) {
      const text = JSON.stringify(pushFor(userId, e, created.get(e.document_id)));
      for (const c of feed.connections) if (c.session?.clientId !== e.client_id) c.sendText(text);
    }
    feed.through = to;
  }
}
