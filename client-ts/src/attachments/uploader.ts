import { encodeAttachmentFrame, FrameKind, MAX_OPEN_UPLOADS, UPLOAD_WINDOW_BYTES, type ServerMessageOf } from '@json-sync/core';
import type { AttachmentRow, AttachmentStore } from './store.js';
import type { AttachmentWire } from './wire.js';

/** Refusals that sending the same bytes again cannot change: the upload stops until the bytes are referred to again. */
const PERMANENT = new Set(['attachment_too_large', 'attachment_quota_exceeded', 'attachment_digest_mismatch']);

/** What a server message meant for an upload: the caller reports it and starts the next. */
export type UploadOutcome =
  | { kind: 'none' }
  | { kind: 'progress'; row: AttachmentRow; bytes: number }
  | { kind: 'uploaded'; row: AttachmentRow }
  | { kind: 'failed'; row: AttachmentRow; error: string; permanent: boolean };

const NONE: UploadOutcome = { kind: 'none' };

interface Open {
  row: AttachmentRow;
  requestId: string;
  /** Bytes sent (from the server's offset on); null until upload_ready. */
  sent: number | null;
  /** Bytes the server confirmed stored. */
  confirmed: number;
}

/**
 * Uploads pending attachments, oldest first, up to MAX_OPEN_UPLOADS at a time, so that small ones
 * cost a fraction of a round trip each (docs/protocol.md, Attachments,
 * Upload): announce, then chunks from the server's offset. The bytes sent and not yet confirmed by
 * upload_progress, over all open uploads, stay within UPLOAD_WINDOW_BYTES; the oldest upload sends
 * first. A lost connection forgets the uploads in flight; the next one asks again, and the
 * server's offset says where to go on from.
 */
export class Uploader {
  /** By attachment id, in the order started. */
  private readonly open = new Map<string, Open>();
  private requests = 0;
  /** A transient refusal: nothing more is started until resume() (the caller's retry) or the next connection. */
  private stalled = false;

  constructor(
    private readonly store: AttachmentStore,
    private readonly wire: AttachmentWire,
  ) {}

  /** Starts the oldest pending uploads not open yet, while there is room and the connection is live. */
  start(): void {
    while (this.open.size < MAX_OPEN_UPLOADS && !this.stalled && this.wire.live) {
      const row = this.store.nextUploads(MAX_OPEN_UPLOADS + 1).find((r) => !this.open.has(r.id));
      if (!row) return;
      const requestId = `att-u-${++this.requests}`;
      this.open.set(row.id, { row, requestId, sent: null, confirmed: 0 });
      this.wire.send({ type: 'upload_attachment', attachment: row.id, length: row.length, content_type: row.content_type, request_id: requestId });
    }
  }

  /** After a transient refusal, the queue may go on. */
  resume(): void {
    this.stalled = false;
  }

  /** The connection ended: what is stored on the server stays there for the next attempt. */
  reset(): void {
    this.open.clear();
    this.stalled = false;
  }

  onReady(m: ServerMessageOf<'upload_ready'>): UploadOutcome {
    const u = this.byRequest(m.request_id);
    if (!u) return NONE;
    if (m.offset > u.row.length) {
      // Nothing can be sent from there: ask again later.
      this.close(u);
      this.stalled = true;
      return { kind: 'failed', row: u.row, error: `the server would resume at ${m.offset}, past the ${u.row.length} bytes`, permanent: false };
    }
    u.sent = m.offset;
    u.confirmed = m.offset;
    this.pump();
    return NONE;
  }

  onProgress(m: ServerMessageOf<'upload_progress'>): UploadOutcome {
    const u = this.open.get(m.attachment);
    if (!u || u.sent === null) return NONE;
    u.confirmed = Math.min(Math.max(u.confirmed, m.received), u.sent);
    this.pump();
    return { kind: 'progress', row: u.row, bytes: u.confirmed };
  }

  onUploaded(m: ServerMessageOf<'attachment_uploaded'>): UploadOutcome {
    const u = this.byRequest(m.request_id);
    if (!u) return NONE;
    this.close(u);
    this.store.setUpload(u.row.id, 'done');
    return { kind: 'uploaded', row: u.row };
  }

  onError(m: ServerMessageOf<'error'>): UploadOutcome {
    const u = this.byRequest(m.request_id);
    if (!u) return NONE;
    this.close(u);
    const permanent = PERMANENT.has(m.code);
    if (permanent) this.store.setUpload(u.row.id, 'none');
    else this.stalled = true;
    return { kind: 'failed', row: u.row, error: `${m.code}: ${m.message}`, permanent };
  }

  /**
   * The server reported a failure that names no request while uploads were sending: its handling
   * of a chunk failed (binary frames carry no request id), of which upload is not said. Every open
   * upload is asked for again later; the oldest is reported.
   */
  onUnnamedFailure(m: ServerMessageOf<'error'>): UploadOutcome {
    const sending = [...this.open.values()].find((u) => u.sent !== null);
    if (!sending) return NONE;
    this.open.clear();
    this.stalled = true;
    return { kind: 'failed', row: sending.row, error: `${m.code}: ${m.message}`, permanent: false };
  }

  private byRequest(requestId: string | undefined): Open | undefined {
    for (const u of this.open.values()) if (u.requestId === requestId) return u;
    return undefined;
  }

  /** An upload ended: the window room its unconfirmed bytes held goes to the others. */
  private close(u: Open): void {
    this.open.delete(u.row.id);
    this.pump();
  }

  /** Sends chunks, oldest upload first, while the shared window has room. */
  private pump(): void {
    let unconfirmed = 0;
    for (const u of this.open.values()) if (u.sent !== null) unconfirmed += u.sent - u.confirmed;
    for (const u of this.open.values()) {
      if (u.sent === null) continue;
      while (u.sent < u.row.length) {
        const bytes = this.store.readAt(u.row, u.sent);
        if (bytes.length === 0) throw new Error(`attachment ${u.row.id} has no bytes stored at ${u.sent}`);
        if (unconfirmed + bytes.length > UPLOAD_WINDOW_BYTES) return;
        if (!this.wire.sendBinary(encodeAttachmentFrame(FrameKind.UploadChunk, u.row.id, u.sent, bytes))) return;
        u.sent += bytes.length;
        unconfirmed += bytes.length;
      }
    }
  }
}
