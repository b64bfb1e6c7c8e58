import type { ServerMessage } from '@json-sync/core';
import type { WebSocket } from 'uWebSockets.js';
import type { AuthenticatedSession } from './auth.js';

/** Above this many buffered bytes, sends wait in our own queue until uWS reports `drain`. */
const HIGH_WATER_BYTES = 1024 * 1024;
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
export class Connection {
  session: Session | null = null;
  closed = false;
  chain: Promise<void> = Promise.resolve();
  /** Mutations received and not yet answered. */
  inFlight = 0;
  /** Frames received and not yet processed. */
  pendingFrames = 0;
  private queue: string[] = [];
  private queuedBytes = 0;
  ws: WebSocket<{ conn: Connection }> | null = null;

  constructor(readonly address: string) {}

  send(message: ServerMessage): void {
    this.sendText(JSON.stringify(message));
  }

  sendText(text: string): void {
    const ws = this.ws;
    if (this.closed || !ws) return;
    if (this.queue.length > 0 || ws.getBufferedAmount() > HIGH_WATER_BYTES) {
      this.queue.push(text);
      this.queuedBytes += text.length;
      if (this.queuedBytes > MAX_QUEUED_BYTES) this.end(1008, 'client too slow');
      return;
    }
    ws.cork(() => ws.send(text, false, false));
  }

  /** uWS drained its buffer: move our queue into it until it fills again. */
  drain(): void {
    const ws = this.ws;
    if (!ws || this.closed) return;
    ws.cork(() => {
      while (this.queue.length > 0 && ws.getBufferedAmount() <= HIGH_WATER_BYTES) {
        const text = this.queue.shift()!;
        this.queuedBytes -= text.length;
        ws.send(text, false, false);
      }
    });
  }

  /** Nothing left to write: our queue is empty and uWS has sent its buffer. */
  flushed(): boolean {
    return this.closed || !this.ws || (this.queue.length === 0 && this.ws.getBufferedAmount() === 0);
  }

  end(code: number, reason: string): void {
    if (this.closed || !this.ws) return;
    const ws = this.ws;
    this.closed = true;
    ws.end(code, reason);
  }

  markClosed(): void {
    this.closed = true;
    this.ws = null;
    this.queue = [];
  }
}
