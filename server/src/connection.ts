import type { ServerMessage } from '@json-sync/core';
import type { WebSocket } from 'uWebSockets.js';
import type { AuthenticatedSession } from './auth.js';
import type { OutboundBudget, QueueHolder } from './outbound-budget.js';

/**
 * Above this many bytes buffered in uWS (native memory, per connection), sends wait in our own
 * queue, which the process-wide budget counts, until uWS reports `drain`.
 */
const HIGH_WATER_BYTES = 256 * 1024;
/** A client that lets this much pile up (it stopped reading) is disconnected rather than kept in memory. */
const MAX_QUEUED_BYTES = 64 * 1024 * 1024;

export interface Session extends AuthenticatedSession {
  sessionId: string;
  clientId: string;
}

/**
 * Per-socket state. Incoming frames are handled one after another through `chain`, so a
 * connection's messages are processed (and its mutations queued) in arrival order.
 */
export class Connection implements QueueHolder {
  session: Session | null = null;
  closed = false;
  chain: Promise<void> = Promise.resolve();
  /** Mutations received and not yet answered. */
  inFlight = 0;
  /** Frames received and not yet processed. */
  pendingFrames = 0;
  /** Closes the connection if it has not authenticated in time. */
  authDeadline: NodeJS.Timeout | undefined;
  private queue: string[] = [];
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
    if (this.queue.length > 0 || ws.getBufferedAmount() > HIGH_WATER_BYTES) {
      this.queue.push(text);
      this.account(text.length);
      if (this.queuedBytes > MAX_QUEUED_BYTES) this.end(1008, 'client too slow');
      return;
    }
    ws.cork(() => ws.send(text, false, false));
  }

  /** uWS drained its buffer: move our queue into it until it fills again. */
  drain(): void {
    const ws = this.ws;
    if (!ws || this.closed) return;
    let sent = 0;
    ws.cork(() => {
      while (this.queue.length > 0 && ws.getBufferedAmount() <= HIGH_WATER_BYTES) {
        const text = this.queue.shift()!;
        sent += text.length;
        ws.send(text, false, false);
      }
    });
    this.account(-sent);
  }

  private account(bytes: number): void {
    if (bytes === 0) return;
    this.queuedBytes += bytes;
    this.budget.change(this, bytes);
  }

  /** Nothing left to write: our queue is empty and uWS has sent its buffer. */
  flushed(): boolean {
    return this.closed || !this.ws || (this.queue.length === 0 && this.ws.getBufferedAmount() === 0);
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
    this.queue = [];
    this.account(-this.queuedBytes);
  }
}
