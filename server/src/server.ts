import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import uWS from 'uWebSockets.js';
import { DEFAULT_LIMITS, newUuid, type Limits } from '@json-sync/core';
import type { BlobStore } from './attachments/blob-store.js';
import { collectAttachments, type CollectOptions } from './attachments/collect.js';
import { openBlobStore } from './attachments/open-blob-store.js';
import { Authenticator, AuthRateLimiter, type AuthFailureLimit } from './auth.js';
import { Connection, OVERSIZED_FRAME, type Frame } from './connection.js';
import { followOtherProcesses } from './cross-process-feed.js';
import type { Database } from './db/database.js';
import { Dispatcher } from './dispatch.js';
import { Fanout } from './fanout.js';
import { listenForHealthChecks } from './health-listener.js';
import { httpRoutes } from './http-routes.js';
import type { Logger } from './logger.js';
import { createMetrics, type Metrics } from './metrics.js';
import { OutboundBudget } from './outbound-budget.js';
import { ServerStatus } from './status.js';
import { startTimers } from './timers.js';

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
  /** query_documents' time limit (default 2 s): past it the query ends with query_timeout. */
  queryTimeoutMs?: number;
  /** Serve wss:// and https:// with this PEM certificate and key (checked beforehand: see tls-files.ts). */
  tls?: { certFile: string; keyFile: string };
  /** Also answer GET /health on this port, for any HTTP version (0 picks a free one; absent: none). */
  healthPort?: number;
  /** Where attachment bytes are kept: `postgres` (the default: the server's database) or a directory. */
  attachmentStore?: string;
  /** Collect attachments every `intervalMs` (absent: never; `sync-server gc-attachments` does it by hand). */
  attachmentGc?: CollectOptions & { intervalMs: number };
}

export const DEFAULT_MAX_OUTBOUND_BYTES = 256 * 1024 * 1024;
export const DEFAULT_AUTH_TIMEOUT_MS = 10_000;
export const DEFAULT_QUERY_TIMEOUT_MS = 2_000;

/** uWS closes a connection outright past this; our own, smaller limit answers `message_too_large` first. */
const UWS_MAX_PAYLOAD = 16 * 1024 * 1024;
const SHUTDOWN_DRAIN_MS = 4000;
/**
 * RFC 6455's "Service Restart": the engines reconnect at once, without backoff and not as an error,
 * so behind a load balancer they land on another process while this one exits.
 */
export const CLOSE_SERVICE_RESTART = 1012;

/**
 * The sync server: the WebSocket protocol at /ws and the HTTP routes, on uWebSockets.js (over TLS
 * when given a certificate). Frames go to the dispatcher, mutations through the batcher; replies
 * and pushes leave only after commit.
 */
export class SyncServer {
  readonly serverId = newUuid();
  readonly metrics: Metrics = createMetrics();
  readonly limits: Limits;
  private readonly app: uWS.TemplatedApp;
  private readonly dispatcher: Dispatcher;
  private readonly fanout: Fanout;
  private readonly outbound: OutboundBudget;
  private readonly status: ServerStatus;
  private readonly connections = new Set<Connection>();
  private readonly usedKeys = new Set<string>();
  private listenSocket: uWS.us_listen_socket | null = null;
  private closing = false;
  private stopTimers: (() => void) | null = null;
  private healthListener: { port: number; close(): Promise<void> } | null = null;
  private gcTimer: NodeJS.Timeout | null = null;
  private readonly blobStore: BlobStore;
  port = 0;
  /** The health-check port, when one was asked for. */
  healthPort: number | undefined;

  constructor(
    private readonly db: Database,
    private readonly log: Logger,
    private readonly opts: ServerOptions,
  ) {
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.outbound = new OutboundBudget(opts.maxOutboundBytes ?? DEFAULT_MAX_OUTBOUND_BYTES);
    this.app = opts.tls ? uWS.SSLApp({ cert_file_name: opts.tls.certFile, key_file_name: opts.tls.keyFile }) : uWS.App();
    this.fanout = new Fanout(db, log, this.app);
    this.blobStore = openBlobStore(opts.attachmentStore ?? 'postgres', db);
    const auth = new Authenticator(db, new AuthRateLimiter(opts.authFailureLimit ?? { maxFailures: 20, windowMs: 60_000 }));
    this.dispatcher = new Dispatcher(db, log, this.metrics, auth, this.fanout, this.usedKeys, {
      serverId: this.serverId,
      limits: this.limits,
      maxInFlightPerConnection: opts.maxInFlightPerConnection ?? 1024,
      queryTimeoutMs: opts.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS,
      blobStore: this.blobStore,
    });
    this.metrics.observeDatabase(db);
    this.status = new ServerStatus(this.metrics);
    this.socketRoute();
    httpRoutes(this.app, db, this.metrics, this.status, () => {
      this.metrics.outboundQueuedBytes.set(this.outbound.queuedBytes);
      this.metrics.usersOnline.set(this.fanout.users);
      let buffered = 0;
      let downloads = 0;
      for (const c of this.connections) {
        buffered += c.ws?.getBufferedAmount() ?? 0;
        downloads += c.downloads;
      }
      this.metrics.socketBufferedBytes.set(buffered);
      this.metrics.attachmentDownloads.set(downloads);
    });
  }

  /** True when the native uWS binary is in use (not the package's slow pure-JS fallback). */
  static nativeTransport(): boolean {
    return Object.keys(createRequire(import.meta.url).cache).some((path) => /uws_[a-z0-9_]+\.node$/.test(path));
  }

  async start(): Promise<number> {
    await followOtherProcesses(this.db, this.serverId, this.fanout, this.log);
    if (this.opts.healthPort !== undefined) {
      this.healthListener = await listenForHealthChecks(this.db, this.opts.host, this.opts.healthPort);
      this.healthPort = this.healthListener.port;
    }
    this.port = await this.listen();
    this.stopTimers = startTimers(this.db, this.log, { revocationPollMs: this.opts.revocationPollMs ?? 2000 }, () => this.connections, this.usedKeys, (c) =>
      this.dispatcher.revokeSession(c),
    );
    this.status.start();
    this.scheduleCollection();
    return this.port;
  }

  /** Attachment collection on a timer; a failed round is logged and the next one tries again. */
  private scheduleCollection(): void {
    const gc = this.opts.attachmentGc;
    if (!gc) return;
    let running = false;
    this.gcTimer = setInterval(() => {
      if (running) return;
      running = true;
      collectAttachments(this.db, this.blobStore, gc)
        .then((c) => {
          if (c.owners.length + c.attachments.length + c.uploads.length > 0) this.log.info({ ...c }, 'attachments collected');
        })
        .catch((err: Error) => this.log.error({ err: err.message }, 'attachment collection failed'))
        .finally(() => (running = false));
    }, gc.intervalMs);
    this.gcTimer.unref();
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
   * received, then close sockets with 1012 (service restart: reconnect at once, elsewhere).
   */
  async stop(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.stopTimers?.();
    if (this.gcTimer) clearInterval(this.gcTimer);
    this.status.stop();
    if (this.listenSocket) uWS.us_listen_socket_close(this.listenSocket);
    this.listenSocket = null;
    // The load balancer's next check fails at once, so it stops sending clients here.
    void this.healthListener?.close();
    const drained = (async () => {
      await this.dispatcher.idle(this.connections);
      await this.dispatcher.batcher.drain();
    })();
    const deadline = Date.now() + SHUTDOWN_DRAIN_MS;
    await Promise.race([drained, new Promise((r) => setTimeout(r, SHUTDOWN_DRAIN_MS))]);
    // Replies and pushes still queued for slow readers go out before the sockets close.
    await Promise.race([this.fanout.idle(), new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now())))]);
    while (Date.now() < deadline && [...this.connections].some((c) => !c.flushed())) await new Promise((r) => setTimeout(r, 20));
    for (const c of this.connections) c.end(CLOSE_SERVICE_RESTART, 'server restarting');
  }

  private socketRoute(): void {
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
        // The ArrayBuffer is only valid during this call: copy before going async.
        const frame: Frame =
          data.byteLength > this.limits.max_frame_bytes ? OVERSIZED_FRAME : isBinary ? Buffer.from(new Uint8Array(data)) : Buffer.from(data).toString('utf8');
        this.dispatcher.frame(conn, frame);
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
