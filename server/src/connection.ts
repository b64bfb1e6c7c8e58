import { FRAME_HEADER_BYTES, UPLOAD_WINDOW_BYTES, type ProtocolVersion, type ServerMessage } from '@json-sync/core';
import type { WebSocket } from 'uWebSockets.js';
import type { OpenUpload } from './attachments/open-upload.js';
import type { AuthenticatedSession } from './auth.js';
import type { OutboundBudget, QueueHolder } from './outbound-budget.js';

/**
 * Above this many bytes buffered in uWS (native memory, per connection), sends wait in our own
 * queue, which the process-wide budget counts, until uWS reports `drain`.
 */
export const HIGH_WATER_BYTES = 256 * 1024;
/** A client that lets this much pile up (it stopped reading) is disconnected rather than kept in memory. */
const MAX_QUEUED_BYTES = 64 * 1024 * 1024;

export interface Session extends Omit<AuthenticatedSession, 'latestSequence' | 'applicationName'> {
  clientId: string;
  /** What the client said in `authenticate` (none: 1): how committed changes are sent to it. */
  protocol: ProtocolVersion;
}

/** A frame waiting its turn: its text, a binary frame's bytes (a copy), or what made it unreadable. */
export type Frame = string | Buffer | typeof OVERSIZED_FRAME;
export const OVERSIZED_FRAME = 1;

/** What a connection tells its user's push feed about its own queue. */
export interface QueueWatcher {
  /** The connection started queueing: pushes must now go through its queue, behind what waits there. */
  queueing(conn: Connection): void;
  /** Its queue is empty again. */
  drained(conn: Connection): void;
}

/**
 * Per-socket state, kept small: an idle connection costs little more than this object and uWS's
 * own socket. Incoming frames are handled one after another (`busy` and `backlog`), so a
 * connection's messages are processed (and its mutations queued) in arrival order.
 *
 * Every message to the client leaves in order, either straight into uWS or, while uWS holds more
 * than the high-water mark, through our queue. Pushes published through uWS's pub/sub bypass that
 * queue, so the push feed stops publishing to a connection (unsubscribes it) the moment it starts
 * queueing, and publishes to it again once the queue is empty (`watcher`).
 */
export class Connection implements QueueHolder {
  session: Session | null = null;
  closed = false;
  /** A frame's handling is in progress (waiting on the database); later frames wait in `backlog`. */
  busy: Promise<void> | null = null;
  backlog: Frame[] | null = null;
  /** Mutations received and not yet answered. */
  inFlight = 0;
  /** Closes the connection if it has not authenticated in time. */
  authDeadline: NodeJS.Timeout | undefined;
  /** Set while the connection is in a push feed. */
  watcher: QueueWatcher | null = null;
  /** Subscribed to its user's topic: pushes reach it through uWS's publish. */
  subscribed = false;
  /** Another connection of the same user here has the same client_id: pushes are written to it directly. */
  clientIdShared = false;
  /** Uploads open on this connection, by attachment id: UploadChunk frames for any other are invalid_chunk. */
  uploads: Map<string, OpenUpload> | null = null;
  /** Downloads streaming to this connection now. */
  downloads = 0;
  /** Attachment bytes of binary frames received and not yet taken up: an uploader ignoring its window is cut off. */
  binaryBacklogBytes = 0;
  private drainWaiters: (() => void)[] = [];
  private queue: string[] | null = null;
  queuedBytes = 0;
  ws: WebSocket<{ conn: Connection }> | null = null;

  constructor(
    readonly address: string,
    private readonly budget: OutboundBudget,
  ) {}

  send(message: ServerMessage): void {
    this.sendText(JSON.stringify(message));
  }

  sendText(text: string): void {
    const ws = this.ws;
    if (this.closed || !ws) return;
    if (this.queue !== null || ws.getBufferedAmount() > HIGH_WATER_BYTES) {
      this.startQueueing();
      this.queue!.push(text);
      this.account(text.length);
      if (this.queuedBytes > MAX_QUEUED_BYTES) this.end(1008, 'client too slow');
      return;
    }
    ws.send(text, false, false);
  }

  /**
   * Counts a binary frame in (`sign` 1) or out (-1) of the backlog. A client keeps at most
   * UPLOAD_WINDOW_BYTES per open upload unconfirmed, so more waiting here means it ignores the
   * window: false then, and the caller closes the connection.
   */
  binaryBacklog(frame: Buffer, sign: 1 | -1): boolean {
    this.binaryBacklogBytes += sign * Math.max(0, frame.length - FRAME_HEADER_BYTES);
    return this.binaryBacklogBytes <= Math.max(1, this.uploads?.size ?? 0) * UPLOAD_WINDOW_BYTES;
  }

  /** A download's next frame may go: nothing of ours is queued and uWS holds no more than the high-water mark. */
  roomForBinary(): boolean {
    return this.ws !== null && !this.closed && this.queue === null && this.ws.getBufferedAmount() <= HIGH_WATER_BYTES;
  }

  /** Bytes go straight to uWS: callers check roomForBinary first, so uWS's buffer stays bounded. */
  sendBinary(frame: Buffer): void {
    if (!this.closed && this.ws) this.ws.send(frame, true, false);
  }

  /** Resolves at uWS's next drain of this socket, or when it closes. */
  nextDrain(): Promise<void> {
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private wakeDrainWaiters(): void {
    if (this.drainWaiters.length === 0) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }

  /** uWS holds more than the high-water mark: later messages must queue (called by the feed for pushes it published). */
  overHighWater(): boolean {
    return this.ws !== null && this.ws.getBufferedAmount() > HIGH_WATER_BYTES;
  }

  /** From now on every message waits in our queue, until a drain empties it. */
  startQueueing(): void {
    if (this.queue !== null || this.closed) return;
    this.queue = [];
    this.watcher?.queueing(this);
  }

  get queueing(): boolean {
    return this.queue !== null;
  }

  /** uWS drained its buffer: move our queue into it until it fills again. */
  drain(): void {
    const ws = this.ws;
    const queue = this.queue;
    if (!ws || this.closed || queue === null) return this.wakeDrainWaiters();
    let sent = 0;
    let i = 0;
    ws.cork(() => {
      for (; i < queue.length && ws.getBufferedAmount() <= HIGH_WATER_BYTES; i++) {
        sent += queue[i]!.length;
        ws.send(queue[i]!, false, false);
      }
    });
    queue.splice(0, i);
    this.account(-sent);
    if (queue.length === 0) {
      this.queue = null;
      this.watcher?.drained(this);
    }
    this.wakeDrainWaiters();
  }

  private account(bytes: number): void {
    if (bytes === 0) return;
    this.queuedBytes += bytes;
    this.budget.change(this, bytes);
  }

  /** Nothing left to write: our queue is empty and uWS has sent its buffer. */
  flushed(): boolean {
    return this.closed || !this.ws || (this.queue === null && this.ws.getBufferedAmount() === 0);
  }

  end(code: number, reason: string): void {
    if (this.closed || !this.ws) return;
    const ws = this.ws;
    this.closed = true;
    this.dropQueue();
    ws.end(code, reason);
  }

  markClosed(): void {
    this.closed = true;
    this.ws = null;
    this.dropQueue();
  }

  private dropQueue(): void {
    this.queue = null;
    this.account(-this.queuedBytes);
    this.uploads = null;
    this.wakeDrainWaiters();
  }
}
