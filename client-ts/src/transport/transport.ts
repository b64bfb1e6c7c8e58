import WebSocket from 'ws';
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import {
  authenticateBody,
  parseServerMessage,
  PROTOCOL_VERSION,
  sign,
  unixSeconds,
  type AuthErrorReason,
  type ClientMessage,
  type ServerMessage,
  type ServerMessageOf,
} from '@json-sync/core';
import { Backoff, type BackoffOptions } from './backoff.js';
import type { Logger } from '../logger.js';
import { socketProgress } from './progress.js';

/**
 * offline: setOnline(false) or not started; waiting: a reconnect is scheduled; connecting: socket
 * opening; authenticating: `authenticate` sent; live: authenticated; closed: for good.
 */
export type TransportState = 'offline' | 'waiting' | 'connecting' | 'authenticating' | 'live' | 'closed';

export interface TransportOptions {
  serverUrl: string;
  email: string;
  apiKey: string;
  apiSecret: string;
  clientId: string;
  reconnect: BackoffOptions;
  heartbeat: { intervalMs: number; timeoutMs: number };
  /** Seconds to add to the local clock when signing (learned from `timestamp_skew`). */
  clockOffset: number;
  /** Certificate authorities (PEM) trusted for wss:// besides the system's. */
  tlsCa?: string;
  logger: Logger;
}

export interface TransportEvents {
  attempt(n: number): void;
  authenticated(m: ServerMessageOf<'auth_success'>): void;
  message(m: ServerMessage): void;
  /** A binary frame (attachment bytes) on the authenticated connection; decoded by the receiver. */
  binary(frame: Buffer): void;
  /** A frame that is not a valid server message (skipped); `raw` is its JSON value, if it was JSON. */
  invalid(error: string, raw: unknown): void;
  authError(reason: AuthErrorReason): void;
  clockOffset(seconds: number): void;
  /** An authenticated connection ended; `code` is the WebSocket close code (1009: a message was too big). */
  lost(reason: string, code: number): void;
  /** A connection could not be made safely (its TLS certificate was not trusted): retried, and reported. */
  refused(reason: string): void;
}

/**
 * RFC 6455's "Service Restart", which the server sends when it stops gracefully: the next attempt
 * goes at once (behind a load balancer it reaches another process), with no backoff.
 */
export const CLOSE_SERVICE_RESTART = 1012;

/** OpenSSL's verification failures as Node reports them: the server is not the one we trust. */
const TLS_ERRORS = /^(CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|ERR_TLS_CERT_ALTNAME_INVALID|ERR_SSL_)/;

/** The WebSocket link to the server as an explicit state machine, with reconnects and heartbeat. */
export class Transport {
  state: TransportState = 'offline';
  private ws: WebSocket | null = null;
  private readonly backoff: Backoff;
  private attempt = 0;
  private timer: NodeJS.Timeout | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private pongDeadline: NodeJS.Timeout | null = null;
  /** The live connection's TCP (or TLS) socket, for the heartbeat's view of data moving. */
  private socket: Socket | null = null;
  /** The engine stopped reading (`setPaused`). */
  private paused = false;
  private skewRetried = false;

  constructor(
    private readonly opts: TransportOptions,
    private readonly on: TransportEvents,
  ) {
    this.backoff = new Backoff(opts.reconnect);
  }

  get live(): boolean {
    return this.state === 'live';
  }

  setOnline(online: boolean): void {
    if (this.state === 'closed') return;
    if (online && this.state === 'offline') this.connect();
    if (!online && this.state !== 'offline') {
      const wasLive = this.state === 'live';
      this.clearTimers();
      this.state = 'offline';
      this.dropSocket('going offline', wasLive);
    }
  }

  close(): void {
    const wasLive = this.state === 'live';
    this.clearTimers();
    this.state = 'closed';
    this.dropSocket('closing', wasLive);
  }

  /** Sends when live; returns false otherwise (the caller keeps the message queued). */
  send(message: ClientMessage): boolean {
    if (this.state !== 'live' || !this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  /** Sends one binary frame (attachment bytes) when live; false otherwise (nothing was sent). */
  sendBinary(frame: Uint8Array): boolean {
    if (this.state !== 'live' || !this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(frame, { binary: true });
    return true;
  }

  /** Stops reading from the socket (the engine's inbox is full) or resumes. */
  setPaused(paused: boolean): void {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return;
    this.paused = paused;
    if (paused) this.ws.pause();
    else this.ws.resume();
  }

  private connect(): void {
    this.timer = null;
    this.state = 'connecting';
    this.attempt++;
    this.on.attempt(this.attempt);
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.opts.serverUrl, { handshakeTimeout: 10_000, maxPayload: 64 * 1024 * 1024, ...(this.opts.tlsCa ? { ca: this.opts.tlsCa } : {}) });
    } catch (err) {
      this.opts.logger.error(`cannot connect to ${this.opts.serverUrl}: ${(err as Error).message}`);
      this.state = 'waiting';
      this.timer = setTimeout(() => this.connect(), this.backoff.nextDelay('auth'));
      return;
    }
    this.ws = ws;
    this.socket = null;
    this.paused = false;
    ws.on('upgrade', (response) => {
      if (this.ws === ws) this.socket = response.socket;
    });
    ws.on('open', () => {
      if (this.ws !== ws) return;
      this.state = 'authenticating';
      ws.send(JSON.stringify(this.authenticateMessage()));
      // A server that accepts the socket but never answers must not hold us here forever.
      this.pongDeadline = setTimeout(() => {
        this.opts.logger.warn(`no answer to authenticate within ${this.opts.heartbeat.timeoutMs} ms; dropping the connection`);
        ws.terminate();
      }, this.opts.heartbeat.timeoutMs);
    });
    ws.on('message', (data, isBinary) => {
      if (this.ws !== ws) return;
      if (isBinary) {
        // Before authentication nothing can have asked for bytes.
        if (this.state === 'live') this.on.binary(Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data));
        else this.opts.logger.warn('server sent a binary frame before authentication; skipped');
        return;
      }
      let raw: unknown;
      try {
        raw = JSON.parse(data.toString());
      } catch {
        return this.skip('a frame that is not JSON', undefined);
      }
      const parsed = parseServerMessage(raw);
      if (!parsed.ok) return this.skip(parsed.error, raw);
      this.handle(ws, parsed.message);
    });
    // ws reports an oversized frame as an error and then closes with 1006: remember it as 1009.
    let tooBig = false;
    ws.on('error', (err) => {
      const code = (err as { code?: string }).code;
      if (code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') tooBig = true;
      if (code && TLS_ERRORS.test(code)) this.on.refused(`TLS: ${err.message} (${code})`);
      this.opts.logger.debug?.(`socket error: ${err.message}`);
    });
    ws.on('close', (code) => this.closed(ws, tooBig ? 1009 : code));
  }

  private skip(error: string, raw: unknown): void {
    this.opts.logger.warn(`server sent an invalid message (${error}); skipped`);
    // Before authentication nothing depends on it: the auth answer timeout covers a junk answer.
    if (this.state === 'live') this.on.invalid(error, raw);
  }

  private authenticateMessage(): ClientMessage {
    const timestamp = unixSeconds() + this.opts.clockOffset;
    const nonce = randomBytes(16).toString('hex');
    const { email, apiKey, apiSecret, clientId } = this.opts;
    return {
      type: 'authenticate',
      email,
      client_id: clientId,
      api_key: apiKey,
      timestamp,
      nonce,
      protocol_version: PROTOCOL_VERSION,
      signature: sign({ secret: apiSecret, timestamp, email, apiKey, body: authenticateBody(clientId, nonce) }),
    };
  }

  private handle(ws: WebSocket, m: ServerMessage): void {
    if (this.state === 'authenticating') {
      if (this.pongDeadline) clearTimeout(this.pongDeadline);
      this.pongDeadline = null;
      if (m.type === 'auth_success') {
        this.state = 'live';
        this.attempt = 0;
        this.skewRetried = false;
        this.backoff.reset();
        this.startHeartbeat(ws);
        this.on.authenticated(m);
      } else if (m.type === 'auth_error') {
        if (m.reason === 'timestamp_skew' && !this.skewRetried) {
          this.skewRetried = true;
          this.opts.clockOffset = m.server_time - unixSeconds();
          this.on.clockOffset(this.opts.clockOffset);
          this.retryAt = 0;
        } else {
          // `unavailable` is the server's fault (its database is down), not our credentials': retry as after a lost connection.
          this.retryAt = this.backoff.nextDelay(m.reason === 'unavailable' ? 'connection' : 'auth');
        }
        this.on.authError(m.reason);
      }
      return;
    }
    if (m.type === 'pong') {
      if (this.pongDeadline) clearTimeout(this.pongDeadline);
      this.pongDeadline = null;
      return;
    }
    if (m.type === 'auth_error') {
      // A live session refused later (key revoked).
      this.retryAt = this.backoff.nextDelay('auth');
      this.on.authError(m.reason);
      return;
    }
    this.on.message(m);
  }

  /** Delay before the next attempt, decided by why the last one ended (null: connection-level backoff). */
  private retryAt: number | null = null;

  /**
   * A ping every interval; the connection is dead when, `timeoutMs` after a ping, no pong came and
   * the socket moved no byte either way. A pong waits behind whatever precedes it — a large page
   * coming to us, our own large upload going out — and data still moving means the server is
   * there: the deadline starts again. While the engine has paused reading, the stall is ours, not
   * the server's. The verdict waits one turn of the event loop, so data that arrived while this
   * process was busy is read before the deadline counts it as missing.
   */
  private startHeartbeat(ws: WebSocket): void {
    const { intervalMs, timeoutMs } = this.opts.heartbeat;
    const socket = this.socket;
    this.heartbeat = setInterval(() => {
      if (this.ws !== ws || this.pongDeadline) return;
      ws.send(JSON.stringify({ type: 'ping' }));
      let mark = socket ? socketProgress(socket) : 0;
      const expire = () => {
        this.pongDeadline = setTimeout(
          () =>
            setImmediate(() => {
              if (this.ws !== ws || !this.pongDeadline) return;
              const now = socket ? socketProgress(socket) : mark;
              if (now !== mark || this.paused) {
                mark = now;
                return expire();
              }
              this.opts.logger.warn(`no pong and no data moving within ${timeoutMs} ms; dropping the connection`);
              ws.terminate();
            }),
          timeoutMs,
        );
      };
      expire();
    }, intervalMs);
  }

  private closed(ws: WebSocket, code: number): void {
    if (this.ws !== ws) return;
    const wasLive = this.state === 'live';
    this.ws = null;
    this.socket = null;
    this.clearTimers();
    // Also while authenticating: the server may stop between our handshake and its answer.
    const restart = code === CLOSE_SERVICE_RESTART;
    if (wasLive) this.on.lost(code === 1009 ? 'a message exceeded the size limit' : restart ? 'server restarting' : 'connection closed', code);
    if (this.state === 'offline' || this.state === 'closed') return;
    // The backoff was reset when this connection authenticated: if the immediate attempt fails, the
    // next ones back off from minMs as after any lost connection.
    const delay = restart ? 0 : (this.retryAt ?? this.backoff.nextDelay('connection'));
    this.retryAt = null;
    this.state = 'waiting';
    this.timer = setTimeout(() => this.connect(), delay);
  }

  private dropSocket(reason: string, wasLive: boolean): void {
    const ws = this.ws;
    this.ws = null;
    this.socket = null;
    if (!ws) return;
    ws.removeAllListeners('message');
    ws.on('error', () => {});
    if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
    else ws.close(1000, reason);
    if (wasLive) this.on.lost(reason, 1000);
  }

  private clearTimers(): void {
    for (const t of [this.timer, this.pongDeadline]) if (t) clearTimeout(t);
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.timer = this.heartbeat = this.pongDeadline = null;
  }
}
