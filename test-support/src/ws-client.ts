import WebSocket from 'ws';
import { randomBytes } from 'node:crypto';
import { authenticateBody, newUuid, sign, unixSeconds, type ServerMessage, type ServerMessageOf } from '@json-sync/core';

export interface Identity {
  email: string;
  apiKey: string;
  secret: string;
  clientId?: string;
}

type Predicate = (m: ServerMessage) => boolean;

const MUTATION_REPLIES = new Set(['document_created_response', 'document_updated_response', 'document_deleted_response', 'conflict_detected', 'error']);

/**
 * A bare protocol client for tests: raw frames in, every received message recorded, and helpers
 * to wait for the next message matching a predicate.
 */
export class TestClient {
  readonly received: ServerMessage[] = [];
  /** Binary frames (attachment chunks), in arrival order, unless `onBinary` takes them. */
  readonly binary: Buffer[] = [];
  onBinary: ((frame: Buffer) => void) | null = null;
  private waiters: { pred: Predicate; resolve: (m: ServerMessage) => void }[] = [];
  closed: Promise<{ code: number; reason: string }>;
  clientId: string;
  userId = '';
  latestSequence = 0;

  private constructor(
    readonly ws: WebSocket,
    clientId: string,
  ) {
    this.clientId = clientId;
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        const frame = Buffer.isBuffer(data) ? data : Buffer.concat(data as Buffer[]);
        if (this.onBinary) this.onBinary(frame);
        else this.binary.push(frame);
        return;
      }
      const m = JSON.parse(data.toString()) as ServerMessage;
      this.received.push(m);
      const w = this.waiters.find((x) => x.pred(m));
      if (w) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(m);
      }
    });
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  /** Opens a connection; over wss://, `tls.ca` is the certificate authority to trust (PEM text) instead of the system's. */
  static async open(url: string, clientId: string = newUuid(), tls: { ca?: string } = {}): Promise<TestClient> {
    const ws = new WebSocket(url, { maxPayload: 64 * 1024 * 1024, ...(tls.ca ? { ca: tls.ca } : {}) });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new TestClient(ws, clientId);
  }

  /**
   * Opens and authenticates (with a nonce, as our clients do); throws unless auth_success arrives.
   * `protocol`: the version to say (none: what the original system's clients send, nothing).
   */
  static async connect(url: string, id: Identity, opts: { ca?: string; protocol?: number } = {}): Promise<TestClient> {
    const c = await TestClient.open(url, id.clientId, opts.ca === undefined ? {} : { ca: opts.ca });
    const reply = await c.authenticate(id, opts.protocol === undefined ? {} : { protocol_version: opts.protocol });
    if (reply.type !== 'auth_success') throw new Error(`authentication failed: ${JSON.stringify(reply)}`);
    return c;
  }

  authMessage(id: Identity, overrides: Record<string, unknown> = {}, opts: { nonce?: boolean; timestamp?: number } = {}): Record<string, unknown> {
    const timestamp = opts.timestamp ?? unixSeconds();
    const nonce = opts.nonce === false ? undefined : randomBytes(16).toString('hex');
    const signature = sign({ secret: id.secret, timestamp, email: id.email, apiKey: id.apiKey, body: authenticateBody(this.clientId, nonce) });
    return {
      type: 'authenticate',
      email: id.email,
      client_id: this.clientId,
      api_key: id.apiKey,
      signature,
      timestamp,
      ...(nonce ? { nonce } : {}),
      ...overrides,
    };
  }

  async authenticate(id: Identity, overrides: Record<string, unknown> = {}, opts: { nonce?: boolean; timestamp?: number } = {}): Promise<ServerMessage> {
    const reply = await this.request(this.authMessage(id, overrides, opts), (m) => m.type === 'auth_success' || m.type === 'auth_error');
    if (reply.type === 'auth_success') {
      this.userId = reply.user_id;
      this.latestSequence = reply.latest_sequence;
    }
    return reply;
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** The next message (not yet consumed by an earlier `next`) matching `pred`. */
  next(pred: Predicate = () => true, timeoutMs = 10_000): Promise<ServerMessage> {
    for (let i = 0; i < this.received.length; i++) {
      const m = this.received[i]!;
      if (pred(m)) {
        this.received.splice(i, 1);
        return Promise.resolve(m);
      }
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new Error(`timed out waiting for a message; got: ${JSON.stringify(this.received.slice(-5))}`));
      }, timeoutMs);
      const done = (m: ServerMessage) => {
        clearTimeout(timer);
        this.received.splice(this.received.indexOf(m), 1);
        resolve(m);
      };
      this.waiters.push({ pred, resolve: done });
    });
  }

  request(message: unknown, pred: Predicate, timeoutMs?: number): Promise<ServerMessage> {
    const p = this.next(pred, timeoutMs);
    this.send(message);
    return p;
  }

  /** Sends a mutation and waits for the reply that echoes its mutation_id. */
  mutate(message: Record<string, unknown>, timeoutMs?: number): Promise<ServerMessage> {
    const mutation_id = (message.mutation_id as string | undefined) ?? newUuid();
    return this.request({ ...message, mutation_id }, (m) => (m as { mutation_id?: string }).mutation_id === mutation_id && MUTATION_REPLIES.has(m.type), timeoutMs);
  }

  async create(content: Record<string, unknown>, id: string = newUuid()): Promise<ServerMessageOf<'document_created_response'>> {
    const r = await this.mutate({ type: 'create_document', document: { id, content } });
    if (r.type !== 'document_created_response') throw new Error(`create failed: ${JSON.stringify(r)}`);
    return r;
  }

  async ping(): Promise<void> {
    await this.request({ type: 'ping' }, (m) => m.type === 'pong');
  }

  /** Every message of a type received so far and not consumed. */
  all<T extends ServerMessage['type']>(type: T): ServerMessageOf<T>[] {
    return this.received.filter((m) => m.type === type) as ServerMessageOf<T>[];
  }

  close(): void {
    this.ws.close();
  }
}
