import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import {
  ATTACHMENT_CHUNK_BYTES,
  attachmentIdOfDigest,
  attachmentRef,
  attachmentRefs,
  decodeAttachmentFrame,
  DEFAULT_LIMITS,
  FrameKind,
  type AttachmentRef,
  type JsonObject,
  type ServerMessage,
} from '@json-sync/core';
import { SyncError } from '../errors.js';
import { EventType } from '../events.js';
import type { Logger } from '../logger.js';
import type { LocalStore, ViewRow } from '../storage/local-store.js';
import type { EventHub } from '../sync/event-hub.js';
import { addBytes, addStream, type ByteSource } from './adding.js';
import { Downloader, type DownloadOutcome } from './downloader.js';
import { assertPath, attachmentIdOf, contentTypeOf, type AddOptions, type AttachmentId } from './input.js';
import { chunksOf, saveTo } from './reading.js';
import { AttachmentStore, type AttachmentRow } from './store.js';
import { Uploader, type UploadOutcome } from './uploader.js';
import type { AttachmentWire } from './wire.js';

export interface AttachmentState {
  /** The bytes are here, complete and checked. */
  local: boolean;
  /** Bytes stored so far (a download in progress: fewer than length). */
  received: number;
  length: number;
  /** The server has the bytes for this user. */
  uploaded: boolean;
}

export interface AttachmentOptions {
  /** 'lazy': fetch on first read; 'eager': fetch what local documents refer to as they arrive. */
  fetch: 'lazy' | 'eager';
  /** Past this many bytes of complete attachments, unreferenced ones that are uploaded are evicted. */
  cacheBytes: number;
}

export interface AttachmentParts {
  store: LocalStore;
  wire: AttachmentWire;
  events: EventHub;
  log: Logger;
  isClosed: () => boolean;
}

/** At most this many progress events per second per transfer. */
const PROGRESS_INTERVAL_MS = 100;
const EAGER_RETRY_MIN_MS = 1000;
const UPLOAD_RETRY_MIN_MS = 1000;
const UPLOAD_RETRY_MAX_MS = 60_000;
const EAGER_RETRY_MAX_MS = 5 * 60_000;

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * The engine's attachments: the local store of their bytes, the upload queue, downloads, and what
 * documents' references mean for them. It owns the uploader and downloader, which return what
 * happened; events, waiters, eviction and the next transfer are decided here. Transfers run beside
 * document sync on the same connection and never hold it up: the server's attachment messages and
 * binary frames come here, not through the inbox.
 */
export class Attachments {
  private readonly store: AttachmentStore;
  private readonly uploader: Uploader;
  private readonly downloader: Downloader;
  private readonly waiters = new Map<string, Waiter[]>();
  /** Downloads whose bytes are all here and being hashed. */
  private readonly verifying = new Set<string>();
  private readonly lastProgress = new Map<string, number>();
  /**
   * Eager downloads that failed, with the delay before the next try. A document usually arrives
   * before its attachment's upload is done (uploads never hold documents up), so the server's
   * not_found is tried again later, less and less often.
   */
  private readonly retryDelay = new Map<string, number>();
  /** Refused eager downloads whose next try is scheduled: not asked for before it. */
  private readonly retrying = new Set<string>();
  /** Contents of documents just written that refer to attachments (eager fetching looks at them after the commit). */
  private arrived: string[] = [];
  private localWrites = 0;
  /** A local write queued an upload again (see localWrite). */
  private requeued = false;
  private maxBytes: number;
  private uploadRetry: NodeJS.Timeout | undefined;
  private uploadRetryMs = 0;

  constructor(
    private readonly p: AttachmentParts,
    private readonly opts: AttachmentOptions,
  ) {
    this.store = new AttachmentStore(p.store);
    this.uploader = new Uploader(this.store, p.wire);
    this.downloader = new Downloader(this.store, p.wire);
    this.maxBytes = Number(p.store.getState('max_attachment_bytes') ?? DEFAULT_LIMITS.max_attachment_bytes);
    p.store.onViewWritten((_id, view) => this.viewWritten(view));
  }

  // ---- the API --------------------------------------------------------------------------------

  add(bytes: Uint8Array, options?: AddOptions): AttachmentRef {
    if (!(bytes instanceof Uint8Array)) throw new SyncError('invalid_input', 'an attachment is a Uint8Array (or Buffer) of bytes');
    const contentType = contentTypeOf(options);
    const { ref } = stored(() => addBytes(this.store, bytes, contentType, this.maxBytes));
    this.added(ref);
    return ref;
  }

  async addStream(source: ByteSource, options?: AddOptions): Promise<AttachmentRef> {
    const contentType = contentTypeOf(options);
    const { ref } = await addStream(this.store, source, contentType, this.maxBytes, this.p.isClosed);
    this.added(ref);
    return ref;
  }

  async addFile(path: string, options?: AddOptions): Promise<AttachmentRef> {
    assertPath(path);
    const contentType = contentTypeOf(options);
    return this.addStream(createReadStream(path, { highWaterMark: ATTACHMENT_CHUNK_BYTES }), { contentType });
  }

  read(id: AttachmentId): Buffer | null {
    const row = this.store.get(attachmentIdOf(id));
    if (row?.state !== 'complete') return null;
    return stored(() => {
      this.store.touch(row.id);
      return this.store.readAll(row);
    });
  }

  async get(id: AttachmentId): Promise<Buffer> {
    const row = await this.local(id);
    return stored(() => this.store.readAll(row));
  }

  async save(id: AttachmentId, path: string): Promise<void> {
    assertPath(path);
    await saveTo(this.store, await this.local(id), path);
  }

  stream(id: AttachmentId): Readable {
    return Readable.from(this.chunks(attachmentIdOf(id)), { objectMode: false });
  }

  async fetch(id: AttachmentId): Promise<void> {
    await this.local(id);
  }

  state(id: AttachmentId): AttachmentState | null {
    const row = this.store.get(attachmentIdOf(id));
    if (!row) return null;
    return { local: row.state === 'complete', received: row.received, length: row.length, uploaded: row.upload === 'done' };
  }

  pendingUploads(): number {
    return this.store.pendingUploads();
  }

  /**
   * Runs a local document write: documents it makes refer to attachments whose bytes are here
   * re-queue their uploads when those are not done (the server refused them before, say).
   */
  localWrite<T>(write: () => T): T {
    this.localWrites++;
    try {
      return write();
    } finally {
      this.localWrites--;
      if (this.requeued) {
        this.requeued = false;
        this.uploader.start();
      }
    }
  }

  // ---- the connection -------------------------------------------------------------------------

  connected(maxAttachmentBytes: number | undefined): void {
    this.maxBytes = maxAttachmentBytes ?? DEFAULT_LIMITS.max_attachment_bytes;
    this.p.store.setState('max_attachment_bytes', String(this.maxBytes));
    this.uploader.start();
    if (this.opts.fetch === 'eager') {
      for (const content of this.store.referencingContents()) this.arrived.push(content);
      this.fetchArrived();
    }
  }

  lost(): void {
    this.uploader.reset();
    for (const id of this.downloader.reset()) this.rejectWaiters(id, new SyncError('connection', `the connection was lost while attachment ${id} downloaded; the bytes received are kept and the next fetch goes on from them`));
  }

  close(): void {
    clearTimeout(this.uploadRetry);
    for (const id of [...this.waiters.keys()]) this.rejectWaiters(id, new SyncError('closed', 'the engine was closed'));
  }

  /** Takes the server's attachment messages (true), leaving every other to the inbox (false). */
  handles(m: ServerMessage): boolean {
    return this.guarded(m.type, () => this.route(m));
  }

  /** A binary frame from the server. */
  frame(bytes: Buffer): void {
    this.guarded('a download chunk', () => this.chunk(bytes));
  }

  /**
   * Runs a server message's handling: a failure (the local store's, say) is reported and ends
   * nothing but that message, since it runs inside the socket's own callback.
   */
  private guarded(what: string, handle: () => boolean | void): boolean {
    try {
      return handle() !== false;
    } catch (err) {
      this.p.log.error(`handling ${what} failed: ${(err as Error).stack ?? err}`);
      this.p.events.emit(EventType.SyncError, { error: `handling ${what} failed: ${(err as Error).message}` });
      return true;
    }
  }

  private route(m: ServerMessage): boolean {
    switch (m.type) {
      case 'upload_ready':
        return this.afterUpload(this.uploader.onReady(m));
      case 'upload_progress':
        return this.afterUpload(this.uploader.onProgress(m));
      case 'attachment_uploaded':
        return this.afterUpload(this.uploader.onUploaded(m));
      case 'download_ready':
        return this.afterDownload(this.downloader.onReady(m));
      case 'download_complete':
        return this.afterDownload(this.downloader.onComplete(m));
      case 'error':
        if (m.request_id?.startsWith('att-u-')) return this.afterUpload(this.uploader.onError(m));
        if (m.request_id?.startsWith('att-d-')) return this.afterDownload(this.downloader.onError(m));
        // Not ours alone: the inbox reports it too.
        if (m.request_id === undefined && m.mutation_id === undefined && m.code === 'server_error') this.afterUpload(this.uploader.onUnnamedFailure(m));
        return false;
      default:
        return false;
    }
  }

  private chunk(bytes: Buffer): void {
    const d = decodeAttachmentFrame(bytes);
    if (!d.ok || d.frame.kind !== FrameKind.DownloadChunk) {
      this.p.log.warn(`server sent a binary frame that is not a download chunk (${d.ok ? `kind ${d.frame.kind}` : d.error}); skipped`);
      return;
    }
    this.afterDownload(this.downloader.onFrame(d.frame));
  }

  // ---- outcomes -------------------------------------------------------------------------------

  private afterUpload(o: UploadOutcome): true {
    switch (o.kind) {
      case 'progress':
        // Bytes were stored: the server is well again, so the next refusal waits the least.
        this.uploadRetryMs = 0;
        this.progress(o.row, o.bytes, true);
        break;
      case 'uploaded':
        this.uploadRetryMs = 0;
        this.lastProgress.delete(`u${o.row.id}`);
        this.emit(EventType.AttachmentCompleted, o.row, o.row.length, true);
        this.uploader.start();
        this.evict();
        break;
      case 'failed':
        this.lastProgress.delete(`u${o.row.id}`);
        this.p.log.warn(`upload of attachment ${o.row.id} failed: ${o.error}${o.permanent ? '' : '; it is tried again'}`);
        if (o.permanent) {
          this.emit(EventType.AttachmentFailed, o.row, 0, true, o.error);
          this.uploader.start();
        } else {
          this.retryUploads();
        }
        break;
    }
    return true;
  }

  private afterDownload(o: DownloadOutcome): true {
    switch (o.kind) {
      case 'progress':
        this.progress(o.row, o.bytes, false);
        break;
      case 'received':
        this.lastProgress.delete(`d${o.row.id}`);
        this.verifying.add(o.row.id);
        void this.verify(o.row).finally(() => this.verifying.delete(o.row.id));
        this.downloader.start();
        break;
      case 'superseded':
        this.lastProgress.delete(`d${o.id}`);
        this.settled(o.id, this.store.get(o.id));
        this.downloader.start();
        break;
      case 'failed': {
        this.lastProgress.delete(`d${o.id}`);
        // An eager download nobody waits for is tried again quietly; a reader hears why it failed.
        if (this.opts.fetch === 'eager') this.retryLater(o.id);
        if (this.waiters.has(o.id) || this.opts.fetch !== 'eager') {
          const row = this.store.get(o.id);
          const ref = row ? attachmentRef(o.id, row.length, row.content_type) : attachmentRef(o.id, 0);
          this.p.events.emit(EventType.AttachmentFailed, { content: ref, error: o.error });
        } else {
          this.p.log.info(`eager download of attachment ${o.id} failed (${o.error}); it is tried again`);
        }
        const code = o.code === 'attachment_not_found' ? 'not_found' : 'connection';
        this.rejectWaiters(o.id, new SyncError(code, code === 'not_found' ? `attachment ${o.id}: the server has no such attachment this user may read` : `downloading attachment ${o.id} failed: ${o.error}`));
        this.downloader.start();
        break;
      }
    }
    return true;
  }

  /** Hashes a finished download a page at a time between other work: readable only if it matches its id. */
  private async verify(row: AttachmentRow): Promise<void> {
    const hash = createHash('sha256');
    let at = 0;
    try {
      while (at < row.length) {
        if (this.p.isClosed()) return;
        const page = this.store.chunksFrom(row, at);
        if (page.length === 0 || page[0]!.offset !== at) break;
        for (const c of page) {
          hash.update(c.bytes);
          at = c.offset + c.bytes.length;
        }
        await new Promise<void>((r) => setImmediate(r));
      }
      if (this.p.isClosed()) return;
      const now = this.store.get(row.id);
      // Replaced meanwhile (the same bytes added here): what is there now is complete and checked.
      if (now?.blob !== row.blob) return this.settled(row.id, now);
      if (at === row.length && attachmentIdOfDigest(hash.digest()) === row.id) {
        this.store.completeDownload(row.id);
        this.retryDelay.delete(row.id);
        this.emit(EventType.AttachmentCompleted, row, row.length, false);
        this.resolveWaiters(row.id);
        this.evict(row.id);
        return;
      }
      this.store.remove(row);
      const error = `the downloaded bytes of attachment ${row.id} do not match its id; they were dropped`;
      this.emit(EventType.AttachmentFailed, row, 0, false, error);
      this.rejectWaiters(row.id, new SyncError('database', error));
    } catch (err) {
      if (this.p.isClosed()) return;
      this.rejectWaiters(row.id, new SyncError('database', `storing attachment ${row.id} failed: ${(err as Error).message}`, { cause: err }));
    }
  }

  private settled(id: string, row: AttachmentRow | undefined): void {
    if (row?.state === 'complete') this.resolveWaiters(id);
    else this.rejectWaiters(id, new SyncError('database', `attachment ${id} was removed while it was checked`));
  }

  // ---- internals ------------------------------------------------------------------------------

  private async *chunks(id: string): AsyncGenerator<Buffer> {
    yield* chunksOf(this.store, await this.local(id));
  }

  /** The complete row of `id`, fetched first when it is not here. */
  private async local(id: AttachmentId): Promise<AttachmentRow> {
    const key = attachmentIdOf(id);
    const here = this.store.get(key);
    if (here?.state === 'complete') {
      this.store.touch(key);
      return here;
    }
    if (!this.verifying.has(key) && !this.p.wire.live) {
      throw new SyncError('connection', `attachment ${key} is not stored on this device and the engine is not connected to fetch it`);
    }
    await new Promise<void>((resolve, reject) => {
      const list = this.waiters.get(key) ?? [];
      list.push({ resolve, reject });
      this.waiters.set(key, list);
      if (!this.verifying.has(key)) {
        this.downloader.want(key);
        this.downloader.start();
      }
    });
    const row = this.store.get(key);
    if (row?.state !== 'complete') throw new SyncError('database', `attachment ${key} was removed as soon as it arrived (attachmentCacheBytes is smaller than it)`);
    return row;
  }

  /** Bytes were added: they upload, and whoever waited for a download of them has them now. */
  private added(ref: AttachmentRef): void {
    this.resolveWaiters(ref.$attachment);
    this.uploader.start();
    this.evict();
  }

  private viewWritten(view: ViewRow | undefined): void {
    if (!view || view.deleted !== 0 || !view.content.includes('"$attachment"')) return;
    if (this.localWrites > 0) {
      for (const ref of refsIn(view.content)) {
        const row = this.store.get(ref.$attachment);
        if (!row) continue;
        if (this.store.queueUpload(row)) this.requeued = true;
        this.store.touch(row.id);
      }
    }
    if (this.opts.fetch === 'eager') {
      if (this.arrived.length === 0) setImmediate(() => this.fetchArrived());
      this.arrived.push(view.content);
    }
  }

  /** Eager fetching: downloads what the documents just written refer to and this device lacks. */
  private fetchArrived(): void {
    const contents = this.arrived;
    this.arrived = [];
    if (this.p.isClosed() || !this.p.wire.live) return;
    for (const content of contents) {
      for (const ref of refsIn(content)) {
        const id = ref.$attachment;
        if (this.retrying.has(id) || this.verifying.has(id) || this.store.get(id)?.state === 'complete') continue;
        this.downloader.want(id);
      }
    }
    this.downloader.start();
  }

  /**
   * The server refused an upload for a reason that passes (its database failed, say): the queue
   * waits, then goes on from the server's offset; the wait doubles from 1 s to a minute while
   * refusals go on with no byte stored between them. A new connection goes on at once.
   */
  private retryUploads(): void {
    this.uploadRetryMs = Math.min(UPLOAD_RETRY_MAX_MS, Math.max(UPLOAD_RETRY_MIN_MS, this.uploadRetryMs * 2));
    clearTimeout(this.uploadRetry);
    this.uploadRetry = setTimeout(() => {
      if (this.p.isClosed()) return;
      this.uploader.resume();
      this.uploader.start();
    }, this.uploadRetryMs).unref();
  }

  /** An eager download that failed: asked for again after a delay that doubles each time (1 s to 5 min). */
  private retryLater(id: string): void {
    const delay = Math.min(EAGER_RETRY_MAX_MS, (this.retryDelay.get(id) ?? EAGER_RETRY_MIN_MS / 2) * 2);
    this.retryDelay.set(id, delay);
    this.retrying.add(id);
    setTimeout(() => {
      this.retrying.delete(id);
      // Offline, the next connection's look at every document asks for it.
      if (this.p.isClosed() || !this.p.wire.live || this.store.get(id)?.state === 'complete' || this.verifying.has(id)) return;
      this.downloader.want(id);
      this.downloader.start();
    }, delay).unref();
  }

  /**
   * Beyond the cache size, removes complete attachments no live document refers to and that wait
   * for no upload, least recently used first (`keep`: one just fetched for a reader).
   */
  private evict(keep?: string): void {
    let total = this.store.completeBytes();
    if (total <= this.opts.cacheBytes) return;
    const referenced = new Set<string>();
    for (const content of this.store.referencingContents()) for (const ref of refsIn(content)) referenced.add(ref.$attachment);
    for (const row of this.store.evictable()) {
      if (total <= this.opts.cacheBytes) break;
      if (row.id === keep || referenced.has(row.id)) continue;
      this.store.remove(row);
      total -= row.length;
    }
  }

  private progress(row: AttachmentRow, bytes: number, upload: boolean): void {
    const key = `${upload ? 'u' : 'd'}${row.id}`;
    const now = performance.now();
    if (now - (this.lastProgress.get(key) ?? -Infinity) < PROGRESS_INTERVAL_MS) return;
    this.lastProgress.set(key, now);
    this.emit(EventType.AttachmentProgress, row, bytes, upload);
  }

  private emit(type: EventType, row: AttachmentRow, bytes: number, upload: boolean, error?: string): void {
    const ref = attachmentRef(row.id, row.length, row.content_type);
    this.p.events.emit(type, { content: ref, numericData: bytes, booleanData: upload, ...(error ? { error } : {}) });
  }

  private resolveWaiters(id: string): void {
    const list = this.waiters.get(id);
    this.waiters.delete(id);
    for (const w of list ?? []) w.resolve();
  }

  private rejectWaiters(id: string, err: Error): void {
    const list = this.waiters.get(id);
    this.waiters.delete(id);
    for (const w of list ?? []) w.reject(err);
  }
}

/** A store call: SQLite's failures are the API's `database` errors. */
function stored<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof SyncError) throw err;
    throw new SyncError('database', `the attachment store failed: ${(err as Error).message}`, { cause: err });
  }
}

/** The references in a document's content as the store keeps it (JSON text). */
function refsIn(content: string): AttachmentRef[] {
  return attachmentRefs(JSON.parse(content) as JsonObject);
}
