import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import uWS from 'uWebSockets.js';
import {
  DEFAULT_LIMITS,
  newUuid,
  parseClientMessage,
  ProtocolError,
  unixSeconds,
  type AuthErrorReason,
  type ClientMessage,
  type ErrorCode,
  type Limits,
  type MutationMessage,
} from '@json-sync/core';
import { authenticate, AuthRateLimiter, purgeExpiredReplays, touchKey, type AuthFailureLimit, type AuthOutcome } from './auth.js';
import { acknowledge, changesSince, fullSync } from './changes.js';
import { Connection } from './connection.js';
import type { Database } from './db/database.js';
import type { Logger } from './logger.js';
import { createMetrics, type Metrics } from './metrics.js';
import { MutationBatcher, NOTIFY_CHANNEL, type BatchResult } from './mutations/batcher.js';
import { Fanout } from './fanout.js';
import { OutboundBudget } from './outbound-budget.js';
import { inactiveKeys } from './store/credentials.js';

export interface ServerOptions {
  host: string;
  port: number;
  limits?: Partial<Limits>;
  authFailureLimit?: AuthFailureLimit;
  /** How often open sessions are checked against revoked keys. */
  revocationPollMs?: number;
  /** Most unanswered mutations one connection may have queued before `rate_limited`. */
  maxInFlightPerConnection?: number;
  /** Bytes all connections together may hold queued for clients that do not read (default 256 MiB). */
  maxOutboundBytes?: number;
  /** A connection that has not authenticated this long after opening is closed with 1008 (default 10 s). */
  authTimeoutMs?: number;
}

export const DEFAULT_MAX_OUTBOUND_BYTES = 256 * 1024 * 1024;
export const DEFAULT_AUTH_TIMEOUT_MS = 10_000;

/** uWS closes a connection outright past this; our own, smaller limit answers `message_too_large` first. */
const UWS_MAX_PAYLOAD = 16 * 1024 * 1024;
const SHUTDOWN_DRAIN_MS = 4000;
/** Frames one connection may have received and not yet processed. */
const MAX_PENDING_FRAMES = 1024;

/**
 * The sync server: WebSocket protocol at /ws, /health and /metrics, on uWebSockets.js. Mutations
 * go through the batcher; replies and pushes leave only after commit.
 */
export class SyncServer {
  readonly serverId = newUuid();
  readonly metrics: Metrics = createMetrics();
  readonly limits: Limits;
  private readonly app: uWS.TemplatedApp;
  private readonly batcher: MutationBatcher;
  private readonly limiter: AuthRateLimiter;
  private readonly fanout: Fanout;
  private readonly outbound: OutboundBudget;
  private readonly connections = new Set<Connection>();
  private listenSocket: uWS.us_listen_socket | null = null;
  private closing = false;
  private timers: NodeJS.Timeout[] = [];
  port = 0;

  constructor(
    private readonly db: Database,
    private readonly log: Logger,
    private readonly opts: ServerOptions,
  ) {
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.limiter = new AuthRateLimiter(opts.authFailureLimit ?? { maxFailures: 20, windowMs: 60_000 });
    this.batcher = new MutationBatcher(db, this.limits, this.serverId, this.metrics, log);
    this.fanout = new Fanout(db, log);
    this.outbound = new OutboundBudget(opts.maxOutboundBytes ?? DEFAULT_MAX_OUTBOUND_BYTES);
    this.app = uWS.App();
    this.routes();
  }

  /** True when the native uWS binary is in use (not the package's slow pure-JS fallback). */
  static nativeTransport(): boolean {
    return Object.keys(createRequire(import.meta.url).cache).some((path) => /uws_[a-z0-9_]+\.node$/.test(path));
  }

  async start(): Promise<number> {
    await this.db.listen(NOTIFY_CHANNEL, {
      onNotification: (payload) => this.onNotification(payload),
      onReconnect: () => {
        this.log.info('listen connection back; catching connected clients up');
        this.fanout.catchUpAll();
      },
    });
    this.port = await this.listen();
    this.timers.push(setInterval(() => void this.closeRevokedSessions(), this.opts.revocationPollMs ?? 2000));
    this.timers.push(setInterval(() => void purgeExpiredReplays(this.db).catch(() => {}), 60_000));
    for (const t of this.timers) t.unref();
    return this.port;
  }

  /**
   * uWS sets SO_REUSEADDR only when given a port number: with port 0 its sockets lack it, and a
   * server restarted on the same port then fails to bind for a minute (TIME_WAIT). So port 0 is
   * resolved here to a free port first (retrying if another process takes it meanwhile).
   */
  private async listen(): Promise<number> {
    const { host } = this.opts;
    for (let attempt = 0; ; attempt++) {
      const port = this.opts.port === 0 ? await freePort(host) : this.opts.port;
      const socket = await new Promise<uWS.us_listen_socket | false>((resolve) => this.app.listen(host, port, resolve));
      if (socket) {
        this.listenSocket = socket;
        return uWS.us_socket_local_port(socket);
      }
      if (this.opts.port !== 0 || attempt >= 4) throw new Error(`cannot listen on ${host}:${port}`);
    }
  }

  /**
   * Graceful stop: refuse new connections and frames, commit and answer every mutation already
   * received, then close sockets with 1001.
   */
  async stop(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const t of this.timers) clearInterval(t);
    if (this.listenSocket) uWS.us_listen_socket_close(this.listenSocket);
    this.listenSocket = null;
    const drained = (async () => {
      await Promise.all([...this.connections].map((c) => c.chain));
      await this.batcher.drain();
    })();
    const deadline = Date.now() + SHUTDOWN_DRAIN_MS;
    await Promise.race([drained, new Promise((r) => setTimeout(r, SHUTDOWN_DRAIN_MS))]);
    // Replies and pushes still queued for slow readers go out before the sockets close.
    await Promise.race([this.fanout.idle(), new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now())))]);
    while (Date.now() < deadline && [...this.connections].some((c) => !c.flushed())) await new Promise((r) => setTimeout(r, 20));
    for (const c of this.connections) c.end(1001, 'server shutting down');
  }

  private routes(): void {
    this.app.ws<{ conn: Connection }>('/ws', {
      maxPayloadLength: UWS_MAX_PAYLOAD,
      idleTimeout: 120,
      maxBackpressure: UWS_MAX_PAYLOAD * 4,
      sendPingsAutomatically: true,
      upgrade: (res, req, context) => {
        const address = Buffer.from(res.getRemoteAddressAsText()).toString();
        res.upgrade(
          { conn: new Connection(address, this.outbound) },
          req.getHeader('sec-websocket-key'),
          req.getHeader('sec-websocket-protocol'),
          req.getHeader('sec-websocket-extensions'),
          context,
        );
      },
      open: (ws) => {
        const conn = ws.getUserData().conn;
        conn.ws = ws;
        this.connections.add(conn);
        this.metrics.connections.inc();
        // uWS answers pings for us, so a socket that never authenticates would otherwise stay forever.
        conn.authDeadline = setTimeout(() => {
          if (!conn.session) conn.end(1008, 'authentication timeout');
        }, this.opts.authTimeoutMs ?? DEFAULT_AUTH_TIMEOUT_MS);
        conn.authDeadline.unref();
      },
      message: (ws, data, isBinary) => {
        const conn = ws.getUserData().conn;
        if (this.closing || conn.closed) return;
        // Frames wait their turn in memory: a client that floods them is cut off, not buffered without end.
        if (conn.pendingFrames >= MAX_PENDING_FRAMES) {
          this.log.warn({ address: conn.address }, 'too many unprocessed frames; closing the connection');
          return conn.end(1008, 'too many unprocessed messages');
        }
        const tooLarge = data.byteLength > this.limits.max_frame_bytes;
        // The ArrayBuffer is only valid during this call: copy before going async.
        const text = isBinary || tooLarge ? '' : Buffer.from(data).toString('utf8');
        conn.pendingFrames++;
        conn.chain = conn.chain
          .then(() => this.handleFrame(conn, text, isBinary, tooLarge))
          .catch((err) => this.log.error({ err: (err as Error).message, stack: (err as Error).stack }, 'frame handler failed'))
          .finally(() => conn.pendingFrames--);
      },
      drain: (ws) => ws.getUserData().conn.drain(),
      close: (ws) => {
        const conn = ws.getUserData().conn;
        clearTimeout(conn.authDeadline);
        conn.markClosed();
        this.connections.delete(conn);
        this.metrics.connections.dec();
        if (conn.session) {
          this.metrics.authenticatedConnections.dec();
          this.fanout.remove(conn.session.userId, conn);
        }
      },
    });
    this.app.get('/health', (res) => {
      let aborted = false;
      res.onAborted(() => (aborted = true));
      const timeout = new Promise<boolean>((r) => setTimeout(() => r(false), 2000).unref());
      void Promise.race([this.db.query('SELECT 1').then(() => true, () => false), timeout]).then((ok) => {
        if (aborted) return;
        res.cork(() => {
          res
            .writeStatus(ok ? '200 OK' : '503 Service Unavailable')
            .writeHeader('content-type', 'application/json')
            .end(JSON.stringify({ status: ok ? 'ok' : 'database unavailable' }));
        });
      });
    });
    this.app.get('/metrics', (res) => {
      let aborted = false;
      res.onAborted(() => (aborted = true));
      this.metrics.outboundQueuedBytes.set(this.outbound.queuedBytes);
      void this.metrics.registry.metrics().then((body) => {
        if (aborted) return;
        res.cork(() => res.writeHeader('content-type', this.metrics.registry.contentType).end(body));
      });
    });
    this.app.any('/*', (res) => {
      res.writeStatus('404 Not Found').end('not found');
    });
  }

  private async handleFrame(conn: Connection, text: string, isBinary: boolean, tooLarge: boolean): Promise<void> {
    if (conn.closed) return;
    if (!conn.session) {
      let raw: unknown;
      try {
        raw = isBinary || tooLarge ? undefined : JSON.parse(text);
      } catch {
        raw = undefined;
      }
      const parsed = parseClientMessage(raw);
      if (!parsed.ok || parsed.message.type !== 'authenticate') {
        this.metrics.messages.inc({ type: parsed.ok ? parsed.message.type : 'invalid' });
        return this.refuseAuth(conn, 'malformed');
      }
      this.metrics.messages.inc({ type: 'authenticate' });
      return this.handleAuthenticate(conn, parsed.message);
    }
    if (tooLarge) return this.sendError(conn, 'message_too_large', `frame exceeds ${this.limits.max_frame_bytes} bytes`);
    if (isBinary) return this.sendError(conn, 'invalid_message', 'frames must be JSON text');
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      this.metrics.messages.inc({ type: 'invalid' });
      return this.sendError(conn, 'invalid_message', 'frame is not valid JSON');
    }
    const parsed = parseClientMessage(raw);
    if (!parsed.ok) {
      this.metrics.messages.inc({ type: 'invalid' });
      return this.sendError(conn, 'invalid_message', parsed.error, parsed.mutation_id);
    }
    this.metrics.messages.inc({ type: parsed.message.type });
    try {
      await this.dispatch(conn, parsed.message);
    } catch (err) {
      if (err instanceof ProtocolError) return this.sendError(conn, err.code, err.message);
      this.log.error({ err: (err as Error).message }, 'request failed');
      this.sendError(conn, 'server_error', 'internal error; retry');
    }
  }

  private async dispatch(conn: Connection, m: ClientMessage): Promise<void> {
    const session = conn.session!;
    switch (m.type) {
      case 'authenticate':
        return this.sendError(conn, 'invalid_message', 'this connection is already authenticated');
      case 'create_document':
      case 'update_document':
      case 'delete_document':
        // A mutation sent without an id gets one here, so its reply and pushes carry it like any other.
        return this.submitMutation(conn, { ...m, mutation_id: m.mutation_id ?? newUuid() } as MutationMessage);
      case 'get_changes_since': {
        const limit = Math.min(m.limit ?? this.limits.max_changes_page, this.limits.max_changes_page);
        return conn.send(await changesSince(this.db, session.userId, m.last_sequence, limit));
      }
      case 'ack_changes': {
        const { sequence, lag } = await acknowledge(this.db, session.userId, session.clientId, m.up_to_sequence);
        this.metrics.ackLag.observe(lag);
        this.metrics.maxAckLag.set(lag);
        return conn.send({ type: 'changes_acknowledged', sequence });
      }
      case 'request_full_sync': {
        const { documents, latestSequence } = await fullSync(this.db, session.userId);
        for (const document of documents) conn.send({ type: 'sync_document', document });
        return conn.send({ type: 'sync_complete', synced_count: documents.length, latest_sequence: latestSequence });
      }
      case 'ping':
        return conn.send({ type: 'pong' });
    }
  }

  private submitMutation(conn: Connection, m: MutationMessage): void {
    const session = conn.session!;
    if (conn.inFlight >= (this.opts.maxInFlightPerConnection ?? 1024)) {
      return this.sendError(conn, 'rate_limited', 'too many unanswered mutations on this connection; wait for replies', m.mutation_id);
    }
    conn.inFlight++;
    const received = process.hrtime.bigint();
    this.batcher.submit({
      userId: session.userId,
      clientId: session.clientId,
      message: m,
      done: (result) => {
        conn.inFlight--;
        this.deliver(conn, result);
        this.metrics.mutationSeconds.observe({ type: m.type }, Number(process.hrtime.bigint() - received) / 1e9);
      },
    });
  }

  private deliver(sender: Connection, result: BatchResult): void {
    if (result.kind === 'error') this.metrics.errors.inc({ code: result.reply.code });
    sender.send(result.reply);
    if (result.kind !== 'applied') return;
    const session = sender.session!;
    this.fanout.local(session.userId, result.sequence, result.push, session.clientId);
  }

  private sendError(conn: Connection, code: ErrorCode, message: string, mutationId?: string): void {
    this.metrics.errors.inc({ code });
    conn.send({ type: 'error', code, message, ...(mutationId ? { mutation_id: mutationId } : {}) });
  }

  private refuseAuth(conn: Connection, reason: AuthErrorReason): void {
    this.metrics.authFailures.inc({ reason });
    conn.send({ type: 'auth_error', reason, server_time: unixSeconds() });
    conn.end(1008, `authentication failed: ${reason}`);
  }

  private async handleAuthenticate(conn: Connection, m: Extract<ClientMessage, { type: 'authenticate' }>): Promise<void> {
    let outcome: AuthOutcome;
    try {
      outcome = await authenticate(this.db, this.limiter, conn.address, m);
    } catch (err) {
      // The credentials could not be checked (database down): say so, so the client retries with backoff.
      this.log.warn({ err: (err as Error).message, address: conn.address }, 'authentication could not be checked');
      return this.refuseAuth(conn, 'unavailable');
    }
    if (!outcome.ok) return this.refuseAuth(conn, outcome.reason);
    if (conn.closed) return;
    const session = { ...outcome.session, sessionId: newUuid(), clientId: m.client_id };
    conn.session = session;
    clearTimeout(conn.authDeadline);
    this.metrics.authenticatedConnections.inc();
    this.fanout.add(session.userId, conn, session.latestSequence);
    // A change committed between reading latest_sequence and joining the feed found no feed to push to.
    this.fanout.catchUp(session.userId);
    void touchKey(this.db, session.apiKey).catch(() => {});
    conn.send({
      type: 'auth_success',
      session_id: session.sessionId,
      client_id: session.clientId,
      user_id: session.userId,
      latest_sequence: session.latestSequence,
      limits: this.limits,
      server_time: unixSeconds(),
    });
  }

  /** Another process committed changes: push them to this process's connections of those users. */
  private onNotification(payload: string): void {
    let parsed: { s: string; r: [string, number, number][] };
    try {
      parsed = JSON.parse(payload);
    } catch {
      return;
    }
    if (parsed.s === this.serverId) return;
    for (const [userId, , to] of parsed.r) this.fanout.remote(userId, to);
  }

  private async closeRevokedSessions(): Promise<void> {
    const keys = [...new Set([...this.connections].map((c) => c.session?.apiKey).filter((k): k is string => !!k))];
    try {
      const revoked = new Set(await inactiveKeys(this.db, keys));
      if (revoked.size === 0) return;
      for (const c of this.connections) if (c.session && revoked.has(c.session.apiKey)) this.refuseAuth(c, 'revoked_key');
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'revocation check failed');
    }
  }
}

/** A port the OS considers free right now on `host`. */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, host, () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}
