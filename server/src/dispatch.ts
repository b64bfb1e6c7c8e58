import {
  newUuid,
  parseClientMessage,
  ProtocolError,
  unixSeconds,
  type AuthErrorReason,
  type ClientMessage,
  type ClientMessageOf,
  type ErrorCode,
  type Limits,
  type MutationMessage,
  type ProtocolVersion,
} from '@json-sync/core';
import { AttachmentRequests } from './attachments/attachment-requests.js';
import type { BlobStore } from './attachments/blob-store.js';
import { AuthAudit } from './auth-audit.js';
import type { Authenticator, AuthOutcome } from './auth.js';
import { acknowledge, changesSince, fullSync } from './changes.js';
import { OVERSIZED_FRAME, type Connection, type Frame } from './connection.js';
import type { Database } from './db/database.js';
import type { Fanout } from './fanout.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import { MutationBatcher, type BatchResult, type PendingMutation } from './mutations/batcher.js';
import { answerQuery } from './query/query-request.js';

/** Frames one connection may have received and not yet processed. */
const MAX_PENDING_FRAMES = 1024;
const PONG = '{"type":"pong"}';
/** Longer than any spelling of a ping worth looking at before its turn. */
const MAX_PING_TEXT = 64;

export interface DispatchOptions {
  /** The process's id, which its NOTIFY payloads carry. */
  serverId: string;
  limits: Limits;
  /** Most unanswered mutations one connection may have queued before `rate_limited`. */
  maxInFlightPerConnection: number;
  /** query_documents' statement_timeout. */
  queryTimeoutMs: number;
  /** Where attachment bytes are kept. */
  blobStore: BlobStore;
}

/** What a connection's mutation carries through the batcher: the connection, and when it arrived. */
export interface MutationOwner {
  conn: Connection;
  received: number;
}

/**
 * Handles each connection's frames in arrival order: authentication first, then the protocol's
 * requests. A frame that needs no database answer (a mutation is only queued for the batcher) is
 * handled at once; one that waits on the database holds the connection's later frames behind it.
 */
export class Dispatcher {
  private readonly limitsJson: string;
  private readonly audit: AuthAudit;
  readonly batcher: MutationBatcher<MutationOwner>;
  private readonly attachments: AttachmentRequests;

  constructor(
    private readonly db: Database,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    private readonly auth: Authenticator,
    private readonly fanout: Fanout,
    /** Keys that authenticated since the last time their use was recorded. */
    private readonly usedKeys: Set<string>,
    private readonly opts: DispatchOptions,
  ) {
    this.limitsJson = JSON.stringify(opts.limits);
    this.audit = new AuthAudit(log);
    this.batcher = new MutationBatcher(db, opts.limits, opts.serverId, metrics, log, this.answer);
    this.attachments = new AttachmentRequests(db, opts.blobStore, opts.limits, log, (conn, code, message, requestId) =>
      this.sendError(conn, code, message, undefined, requestId),
    );
  }

  frame(conn: Connection, frame: Frame): void {
    // Counted until its turn comes: what waits in the backlog is what an uploader's window bounds.
    if (Buffer.isBuffer(frame) && !conn.binaryBacklog(frame, 1)) {
      this.log.warn({ address: conn.address }, 'upload window exceeded; closing the connection');
      return conn.end(1008, 'upload window exceeded');
    }
    if (conn.busy) {
      // A ping is answered at once, not behind a frame waiting on the database: the client's
      // heartbeat asks whether this process is there, and a slow page must not read as a dead server.
      if (conn.session && isPing(frame)) {
        this.count('ping');
        return conn.sendText(PONG);
      }
      const backlog = (conn.backlog ??= []);
      // Frames wait their turn in memory: a client that floods them is cut off, not buffered without end.
      if (backlog.length >= MAX_PENDING_FRAMES) {
        this.log.warn({ address: conn.address }, 'too many unprocessed frames; closing the connection');
        return conn.end(1008, 'too many unprocessed messages');
      }
      backlog.push(frame);
      return;
    }
    this.run(conn, frame);
  }

  /** Resolves when none of `connections` is waiting on the database for a frame. */
  async idle(connections: Iterable<Connection>): Promise<void> {
    for (;;) {
      const busy = [...connections].map((c) => c.busy).filter((b) => b !== null);
      if (busy.length === 0) return;
      await Promise.all(busy);
    }
  }

  private run(conn: Connection, first: Frame): void {
    let frame: Frame | undefined = first;
    while (frame !== undefined) {
      let pending: Promise<void> | void = undefined;
      try {
        pending = this.handleFrame(conn, frame);
      } catch (err) {
        // Thrown into uWS's callback it would end the process; one frame's bug must not.
        this.frameFailed(err);
      }
      if (pending) {
        conn.busy = pending
          .catch((err) => this.frameFailed(err))
          .then(() => {
            conn.busy = null;
            const next = this.nextFrame(conn);
            if (next !== undefined) this.run(conn, next);
          });
        return;
      }
      frame = this.nextFrame(conn);
    }
  }

  private frameFailed(err: unknown): void {
    this.log.error({ err: (err as Error).message, stack: (err as Error).stack }, 'frame handler failed');
  }

  /**
   * The binary frames waiting right behind this one, taken out of the backlog to be handled with
   * it (their order among the connection's frames is kept: only a run of binary frames is taken).
   */
  private binaryFramesNext(conn: Connection): Buffer[] {
    const taken: Buffer[] = [];
    while (Buffer.isBuffer(conn.backlog?.[0])) taken.push(this.nextFrame(conn) as Buffer);
    return taken;
  }

  private nextFrame(conn: Connection): Frame | undefined {
    const backlog = conn.backlog;
    if (backlog === null) return undefined;
    const next = backlog.shift();
    if (backlog.length === 0) conn.backlog = null;
    return next;
  }

  private handleFrame(conn: Connection, frame: Frame): Promise<void> | void {
    if (conn.closed) return;
    if (!conn.session && Buffer.isBuffer(frame)) {
      conn.binaryBacklog(frame, -1);
      this.count('binary');
      return this.sendError(conn, 'invalid_message', 'binary frames carry attachment bytes, after authentication');
    }
    if (!conn.session) {
      const parsed = parseClientMessage(typeof frame === 'string' ? parseJson(frame) : undefined);
      if (!parsed.ok || parsed.message.type !== 'authenticate') {
        this.count(parsed.ok ? parsed.message.type : 'invalid');
        this.audit.refused(conn.address, null, { ok: false, reason: 'malformed' });
        return this.refuseAuth(conn, 'malformed');
      }
      this.count('authenticate');
      return this.authenticate(conn, parsed.message);
    }
    if (frame === OVERSIZED_FRAME) return this.sendError(conn, 'message_too_large', `frame exceeds ${this.opts.limits.max_frame_bytes} bytes`);
    if (Buffer.isBuffer(frame)) {
      const frames = [frame, ...this.binaryFramesNext(conn)];
      for (let i = 0; i < frames.length; i++) this.count('binary');
      // Chunks count against the window until they are stored, not only while they wait.
      return this.attachments
        .chunks(conn, frames)
        .catch((err) => this.requestFailed(conn, err))
        .finally(() => {
          for (const f of frames) conn.binaryBacklog(f, -1);
        });
    }
    const raw = parseJson(frame);
    if (raw === undefined) {
      this.count('invalid');
      return this.sendError(conn, 'invalid_message', 'frame is not valid JSON');
    }
    const parsed = parseClientMessage(raw);
    if (!parsed.ok) {
      this.count('invalid');
      return this.sendError(conn, 'invalid_message', parsed.error, parsed.mutation_id, parsed.request_id);
    }
    this.count(parsed.message.type);
    const m = parsed.message;
    switch (m.type) {
      case 'create_document':
      case 'update_document':
      case 'delete_document':
        // A mutation sent without an id gets one here, so its reply and pushes carry it like any other.
        if (m.mutation_id === undefined) m.mutation_id = newUuid();
        return this.submitMutation(conn, m as MutationMessage, frame.length);
      case 'ping':
        return conn.sendText(PONG);
      case 'authenticate':
        return this.sendError(conn, 'invalid_message', 'this connection is already authenticated');
      case 'query_documents':
        return answerQuery(this.db, this.log, conn.session.userId, m, this.opts.queryTimeoutMs).then((reply) => {
          if (reply.type === 'error') this.metrics.errors.inc({ code: reply.code });
          conn.send(reply);
        });
      case 'upload_attachment':
        return this.attachments.upload(conn, m).catch((err) => this.requestFailed(conn, err, m.request_id));
      case 'download_attachment':
        return this.attachments.download(conn, m).catch((err) => this.requestFailed(conn, err, m.request_id));
      default:
        return this.request(conn, m).catch((err) => this.requestFailed(conn, err));
    }
  }

  private requestFailed(conn: Connection, err: unknown, requestId?: string): void {
    if (err instanceof ProtocolError) return this.sendError(conn, err.code, err.message, undefined, requestId);
    this.log.error({ err: (err as Error).message }, 'request failed');
    this.sendError(conn, 'server_error', 'internal error; retry', undefined, requestId);
  }

  /** The requests answered from the database. */
  private async request(conn: Connection, m: Extract<ClientMessage, { type: 'get_changes_since' | 'ack_changes' | 'request_full_sync' }>): Promise<void> {
    const session = conn.session!;
    switch (m.type) {
      case 'get_changes_since': {
        const limit = Math.min(m.limit ?? this.opts.limits.max_changes_page, this.opts.limits.max_changes_page);
        const page = await changesSince(this.db, session.userId, m.last_sequence, limit);
        // Protocol 1's events have no title.
        if (session.protocol === 1) for (const e of page.events) delete e.title;
        return conn.send(page);
      }
      case 'ack_changes': {
        const { sequence, lag } = await acknowledge(this.db, session.userId, session.clientId, m.up_to_sequence);
        this.metrics.ackLag.observe(lag);
        this.metrics.maxAckLag.set(lag);
        return conn.send({ type: 'changes_acknowledged', sequence });
      }
      case 'request_full_sync': {
        const since = m.since_sequence;
        const { documents, latestSequence } = await fullSync(this.db, session.userId, since);
        for (const document of documents) conn.send({ type: 'sync_document', document });
        return conn.send({ type: 'sync_complete', synced_count: documents.length, latest_sequence: latestSequence, ...(since !== undefined ? { since_sequence: since } : {}) });
      }
    }
  }

  private submitMutation(conn: Connection, m: MutationMessage, bytes: number): void {
    const session = conn.session!;
    if (conn.inFlight >= this.opts.maxInFlightPerConnection) {
      return this.sendError(conn, 'rate_limited', 'too many unanswered mutations on this connection; wait for replies', m.mutation_id);
    }
    conn.inFlight++;
    this.batcher.submit({ userId: session.userId, clientId: session.clientId, message: m, bytes, owner: { conn, received: performance.now() } });
  }

  /** The batcher's answer for one mutation: the reply to its connection, the push to the user's others. */
  readonly answer = (item: PendingMutation<MutationOwner>, result: BatchResult): void => {
    const { conn, received } = item.owner;
    conn.inFlight--;
    if (result.kind === 'error') {
      this.metrics.errors.inc({ code: result.reply.code });
      conn.send(result.reply);
    } else conn.sendText(result.replyText);
    if (result.kind === 'applied') this.fanout.local(item.userId, result.change, result.document, conn);
    this.latency(item.message.type).observe((performance.now() - received) / 1000);
  };

  private sendError(conn: Connection, code: ErrorCode, message: string, mutationId?: string, requestId?: string): void {
    this.metrics.errors.inc({ code });
    conn.send({ type: 'error', code, message, ...(mutationId ? { mutation_id: mutationId } : {}), ...(requestId ? { request_id: requestId } : {}) });
  }

  private refuseAuth(conn: Connection, reason: AuthErrorReason): void {
    this.metrics.authFailures.inc({ reason });
    conn.send({ type: 'auth_error', reason, server_time: unixSeconds() });
    conn.end(1008, `authentication failed: ${reason}`);
  }

  /** Closes an open session whose key was revoked since it authenticated. */
  revokeSession(conn: Connection): void {
    if (conn.session) this.audit.revoked(conn.address, conn.session);
    this.refuseAuth(conn, 'revoked_key');
  }

  private async authenticate(conn: Connection, m: ClientMessageOf<'authenticate'>): Promise<void> {
    let outcome: AuthOutcome;
    try {
      outcome = await this.auth.authenticate(conn.address, m);
    } catch (err) {
      // The credentials could not be checked (database down): say so, so the client retries with backoff.
      this.audit.refused(conn.address, m, { ok: false, reason: 'unavailable' }, err as Error);
      return this.refuseAuth(conn, 'unavailable');
    }
    if (!outcome.ok) {
      this.audit.refused(conn.address, m, outcome);
      return this.refuseAuth(conn, outcome.reason);
    }
    this.audit.succeeded(conn.address, m, outcome.session);
    if (conn.closed) return;
    const { userId, applicationId, apiKey, latestSequence } = outcome.session;
    const protocol = (m.protocol_version ?? 1) as ProtocolVersion;
    conn.session = { userId, applicationId, apiKey, clientId: m.client_id, protocol };
    clearTimeout(conn.authDeadline);
    conn.authDeadline = undefined;
    this.metrics.authenticatedConnections.inc();
    this.fanout.add(userId, conn, latestSequence);
    // A change committed between reading latest_sequence and joining the feed found no feed to push to.
    this.fanout.catchUp(userId);
    this.usedKeys.add(apiKey);
    conn.sendText(
      `{"type":"auth_success","session_id":"${newUuid()}","client_id":"${m.client_id}","user_id":"${userId}","latest_sequence":${latestSequence},` +
        `"limits":${this.limitsJson},"server_time":${unixSeconds()}${protocol === 1 ? '' : `,"protocol_version":${protocol}`}}`,
    );
  }

  // prom-client hashes a label set on every call; the children per label are kept instead.
  private readonly counters = new Map<string, { inc(): void }>();
  private readonly latencies = new Map<string, { observe(seconds: number): void }>();

  private count(type: string): void {
    let counter = this.counters.get(type);
    if (!counter) this.counters.set(type, (counter = this.metrics.messages.labels(type)));
    counter.inc();
  }

  private latency(type: string): { observe(seconds: number): void } {
    let histogram = this.latencies.get(type);
    if (!histogram) this.latencies.set(type, (histogram = this.metrics.mutationSeconds.labels(type)));
    return histogram;
  }
}

function isPing(frame: Frame): boolean {
  if (typeof frame !== 'string' || frame.length > MAX_PING_TEXT) return false;
  const parsed = parseClientMessage(parseJson(frame));
  return parsed.ok && parsed.message.type === 'ping';
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
