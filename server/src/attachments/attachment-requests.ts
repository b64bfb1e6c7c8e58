import { createHash } from 'node:crypto';
import {
  ATTACHMENT_CHUNK_BYTES,
  DEFAULT_CONTENT_TYPE,
  decodeAttachmentFrame,
  digestOfAttachmentId,
  encodeAttachmentFrame,
  FrameKind,
  MAX_OPEN_DOWNLOADS,
  MAX_OPEN_UPLOADS,
  type ClientMessageOf,
  type ErrorCode,
  type Limits,
} from '@json-sync/core';
import type { Connection } from '../connection.js';
import type { Database } from '../db/database.js';
import type { Logger } from '../logger.js';
import type { BlobStore } from './blob-store.js';
import { addEmptyOwner, ownedAttachment, quotaUsage, type OwnedAttachment } from './metadata.js';
import type { OpenUpload } from './open-upload.js';
import { UploadLostError, UploadRows } from './upload-rows.js';

/** How the dispatcher answers with an error (counted in its metrics). */
export type SendError = (conn: Connection, code: ErrorCode, message: string, requestId?: string) => void;

/**
 * The attachment requests of docs/protocol.md (Attachments): uploads (upload_attachment, then
 * UploadChunk frames, each handled in the connection's frame order) and downloads, which stream
 * beside the connection's other traffic rather than hold its frame queue.
 */
export class AttachmentRequests {
  private readonly rows: UploadRows;

  constructor(
    private readonly db: Database,
    private readonly store: BlobStore,
    private readonly limits: Limits,
    private readonly log: Logger,
    private readonly sendError: SendError,
  ) {
    this.rows = new UploadRows(db, store);
  }

  async upload(conn: Connection, m: ClientMessageOf<'upload_attachment'>): Promise<void> {
    const { userId } = conn.session!;
    const { attachment, length, request_id: requestId } = m;
    if (length > this.limits.max_attachment_bytes) {
      return this.sendError(conn, 'attachment_too_large', `${length} bytes is over max_attachment_bytes (${this.limits.max_attachment_bytes})`, requestId);
    }
    const owned = await ownedAttachment(this.db, userId, attachment);
    if (owned) {
      conn.uploads?.delete(attachment);
      return conn.send({ type: 'attachment_uploaded', request_id: requestId, attachment, length: owned.length });
    }
    const quota = this.limits.attachment_quota_bytes;
    if (quota > 0) {
      const used = await quotaUsage(this.db, userId, attachment);
      if (used + length > quota) return this.sendError(conn, 'attachment_quota_exceeded', `${used} of ${quota} bytes used; ${length} more do not fit`, requestId);
    }
    const contentType = m.content_type ?? DEFAULT_CONTENT_TYPE;
    if (length === 0) {
      if (!createHash('sha256').digest().equals(digestOfAttachmentId(attachment))) return this.mismatch(conn, attachment, requestId);
      await this.db.transaction((tx) => addEmptyOwner(tx, userId, attachment, contentType));
      return conn.send({ type: 'attachment_uploaded', request_id: requestId, attachment, length: 0 });
    }
    const uploads = (conn.uploads ??= new Map());
    if (!uploads.has(attachment) && uploads.size >= MAX_OPEN_UPLOADS) {
      return this.sendError(conn, 'rate_limited', `at most ${MAX_OPEN_UPLOADS} uploads open on one connection`, requestId);
    }
    const row = await this.rows.open(userId, attachment, length, contentType);
    const u: OpenUpload = { row, hash: createHash('sha256'), requestId };
    if (row.received > 0) await this.rehash(u);
    if (conn.closed) return;
    uploads.set(attachment, u);
    if (row.received === row.length) return this.complete(conn, u, null);
    conn.send({ type: 'upload_ready', request_id: requestId, attachment, offset: row.received });
  }

  /**
   * A resumed upload's hash is rebuilt from the bytes stored (read once). Fewer than the row says
   * (a directory store that lost its last writes in a crash) moves the upload back to what is there.
   */
  private async rehash(u: OpenUpload): Promise<void> {
    let seen = 0;
    for await (const piece of this.store.read(u.row.blobId, 0)) {
      const take = Math.min(piece.length, u.row.received - seen);
      u.hash.update(piece.subarray(0, take));
      seen += take;
      if (seen === u.row.received) break;
    }
    if (seen < u.row.received) await this.rows.rewind(u.row, seen);
  }

  /**
   * Binary frames that arrived one after another: UploadChunks of uploads open on this
   * connection, each at its upload's next offset. Consecutive chunks of one upload are stored in
   * one transaction, so a client that keeps its window full pays the database's round trips and
   * commit once per window rather than once per chunk (bench/attachments/run.mjs).
   */
  async chunks(conn: Connection, frames: Buffer[]): Promise<void> {
    type Run = { u: OpenUpload; pieces: Buffer[]; end: number };
    let run = null as Run | null;
    const flush = async () => {
      if (run) await this.storeRun(conn, run.u, run.pieces);
      run = null;
    };
    for (const frame of frames) {
      const decoded = decodeAttachmentFrame(frame);
      if (!decoded.ok || decoded.frame.kind !== FrameKind.UploadChunk) {
        await flush();
        this.sendError(conn, 'invalid_message', decoded.ok ? 'a client sends UploadChunk frames only' : decoded.error);
        continue;
      }
      const { attachment, offset, bytes } = decoded.frame;
      if (run && run.u.row.attachment !== attachment) await flush();
      const u: OpenUpload | undefined = conn.uploads?.get(attachment);
      if (!u) {
        await flush();
        this.sendError(conn, 'invalid_chunk', `no upload of ${attachment} is open on this connection`);
        continue;
      }
      const at: number = run ? run.end : u.row.received;
      const problem =
        offset !== at
          ? `chunk at offset ${offset}; the upload continues at ${at}`
          : bytes.length === 0
            ? 'an empty chunk'
            : bytes.length > ATTACHMENT_CHUNK_BYTES
              ? `a chunk carries at most ${ATTACHMENT_CHUNK_BYTES} bytes`
              : offset + bytes.length > u.row.length
                ? `the chunk runs past the declared length ${u.row.length}`
                : null;
      if (problem) {
        // What came before the bad chunk is stored first; the upload then closes where it got to.
        await flush();
        if (conn.uploads?.get(attachment) === u) this.closeUpload(conn, u, problem);
        continue;
      }
      run ??= { u, pieces: [], end: at };
      run.pieces.push(bytes);
      run.end += bytes.length;
    }
    await flush();
  }

  /** Stores a run of an upload's chunks, in order from its `received`, in one transaction. */
  private async storeRun(conn: Connection, u: OpenUpload, pieces: Buffer[]): Promise<void> {
    const { row } = u;
    const bytes = pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
    u.hash.update(bytes);
    if (row.received + bytes.length === row.length) return this.complete(conn, u, bytes);
    try {
      await this.rows.append(row, bytes);
    } catch (err) {
      return this.storeFailed(conn, u, err);
    }
    conn.send({ type: 'upload_progress', attachment: row.attachment, received: row.received });
  }

  /**
   * Every byte of the upload is here: stored already, or `last` not yet (the hash has run over it).
   * They become the user's attachment, `last` stored in the same transaction, when they are what
   * the id says; when they are not, nothing of them is kept.
   */
  private async complete(conn: Connection, u: OpenUpload, last: Buffer | null): Promise<void> {
    const { row } = u;
    conn.uploads?.delete(row.attachment);
    try {
      if (!u.hash.digest().equals(digestOfAttachmentId(row.attachment))) {
        await this.rows.drop(row);
        return this.mismatch(conn, row.attachment, u.requestId);
      }
      await this.rows.commit(row, last);
    } catch (err) {
      return this.storeFailed(conn, u, err);
    }
    if (last) conn.send({ type: 'upload_progress', attachment: row.attachment, received: row.received });
    conn.send({ type: 'attachment_uploaded', request_id: u.requestId, attachment: row.attachment, length: row.length });
  }

  /**
   * Storing failed: the upload is over on this connection either way (its hash may have run ahead
   * of the store; a resume rebuilds it from what is stored), answered with the request's id.
   */
  private storeFailed(conn: Connection, u: OpenUpload, err: unknown): void {
    if (err instanceof UploadLostError) return this.closeUpload(conn, u, err.message);
    conn.uploads?.delete(u.row.attachment);
    // The database failed (the transaction rolled back, so `received` still holds): the client
    // resumes from the offset the next upload_ready gives, instead of meeting invalid_chunk for
    // every frame in flight.
    this.log.error({ err: (err as Error).message, attachment: u.row.attachment }, 'storing an attachment chunk failed');
    this.sendError(conn, 'server_error', 'storing the chunk failed; resume with upload_attachment', u.requestId);
  }

  /** A chunk out of place closes its upload; what was stored stays for the next attempt. */
  private closeUpload(conn: Connection, u: OpenUpload, problem: string): void {
    conn.uploads?.delete(u.row.attachment);
    this.sendError(conn, 'invalid_chunk', `${problem}; upload of ${u.row.attachment} closed, resume with upload_attachment`, u.requestId);
  }

  private mismatch(conn: Connection, attachment: string, requestId: string): void {
    this.sendError(conn, 'attachment_digest_mismatch', `the bytes' SHA-256 is not ${attachment}; nothing was kept`, requestId);
  }

  /**
   * Answers download_attachment, then streams the bytes without holding the connection's frame
   * queue: the returned promise ends once download_ready is sent.
   */
  async download(conn: Connection, m: ClientMessageOf<'download_attachment'>): Promise<void> {
    const { attachment, request_id: requestId } = m;
    if (conn.downloads >= MAX_OPEN_DOWNLOADS) return this.sendError(conn, 'rate_limited', `at most ${MAX_OPEN_DOWNLOADS} downloads at once on one connection`, requestId);
    const owned = await ownedAttachment(this.db, conn.session!.userId, attachment);
    if (!owned) return this.sendError(conn, 'attachment_not_found', `no attachment ${attachment}`, requestId);
    const offset = m.offset ?? 0;
    if (offset > owned.length) return this.sendError(conn, 'invalid_chunk', `offset ${offset} is past the length ${owned.length}`, requestId);
    conn.downloads++;
    conn.send({ type: 'download_ready', request_id: requestId, attachment, length: owned.length, content_type: owned.content_type, offset });
    void this.stream(conn, attachment, requestId, owned, offset)
      .catch((err: Error) => {
        this.log.error({ err: err.message, attachment }, 'download failed');
        this.sendError(conn, 'server_error', 'download failed; retry from the bytes you have', requestId);
      })
      .finally(() => conn.downloads--);
  }

  /**
   * One chunk read from the store at a time, sent only while the connection has room (nothing of
   * ours queued, uWS under the high-water mark): a reader that stops costs one chunk per download.
   */
  private async stream(conn: Connection, attachment: string, requestId: string, owned: OwnedAttachment, offset: number): Promise<void> {
    let position = offset;
    for await (const piece of this.store.read(owned.blob_id, offset)) {
      const take = piece.subarray(0, Math.max(0, owned.length - position));
      if (take.length === 0) break;
      while (!conn.closed && !conn.roomForBinary()) await conn.nextDrain();
      if (conn.closed) return;
      conn.sendBinary(encodeAttachmentFrame(FrameKind.DownloadChunk, attachment, position, take));
      position += take.length;
    }
    if (position !== owned.length) throw new Error(`the store holds ${position} of ${owned.length} bytes of ${owned.blob_id}`);
    conn.send({ type: 'download_complete', request_id: requestId, attachment });
  }
}
