import { encodeAttachmentFrame, FrameKind, UPLOAD_WINDOW_BYTES, type ServerMessageOf } from '@json-sync/core';
import type { AttachmentRow, AttachmentStore } from './store.js';
import type { AttachmentWire } from './wire.js';

/** Refusals that sending the same bytes again cannot change: the upload stops until the bytes are referred to again. */
const PERMANENT = new Set(['attachment_too_large', 'attachment_quota_exceeded', 'attachment_digest_mismatch']);

/** What a server message meant for the upload: the caller reports it and starts the next. */
export type UploadOutcome =
  | { kind: 'none' }
  | { kind: 'progress'; row: AttachmentRow; bytes: number }
  | { kind: 'uploaded'; row: AttachmentRow }
  | { kind: 'failed'; row: AttachmentRow; error: string; permanent: boolean };

const NONE: UploadOutcome = { kind: 'none' };

interface Current {
  row: AttachmentRow;
  requestId: string;
  /** Bytes sent (from the server's offset on); null until upload_ready. */
  sent: number | null;
  /** Bytes the server confirmed stored. */
  confirmed: number;
}

/**
 * Uploads pending attachments one at a time, oldest first (docs/protocol.md, Attachments, Upload):
 * announce, then chunks from the server's offset, never more than UPLOAD_WINDOW_BYTES past its
 * last upload_progress. A lost connection forgets the upload in flight; the next one asks again,
 * and the server's offset says where to go on from.
 */
export class Uploader {
  private current: Current | null = null;
  private requests = 0;
  /** A transient refusal: nothing more is tried on this connection. */
  private stalled = false;

  constructor(
    private readonly store: AttachmentStore,
    private readonly wire: AttachmentWire,
  ) {}

  get busy(): boolean {
    return this.current !== null;
  }

  /** Starts the oldest pending upload when none is in flight and the connection is live. */
  start(): void {
    if (this.current || this.stalled || !this.wire.live) return;
    const row = this.store.nextUpload();
    if (!row) return;
    const requestId = `att-u-${++this.requests}`;
    this.current = { row, requestId, sent: null, confirmed: 0 };
    this.wire.send({ type: 'upload_attachment', attachment: row.id, length: row.length, content_type: row.content_type, request_id: requestId });
  }

  /** The connection ended: what is stored on the server stays there for the next attempt. */
  reset(): void {
    this.current = null;
    this.stalled = false;
  }

  owns(requestId: string): boolean {
    return this.current?.requestId === requestId;
  }

  onReady(m: ServerMessageOf<'upload_ready'>): UploadOutcome {
    const c = this.current;
    if (!c || c.requestId !== m.request_id) return NONE;
    if (m.offset > c.row.length) {
      // Nothing can be sent from there: try again on the next connection.
      this.current = null;
      this.stalled = true;
      return { kind: 'failed', row: c.row, error: `the server would resume at ${m.offset}, past the ${c.row.length} bytes`, permanent: false };
    }
    c.sent = m.offset;
    c.confirmed = m.offset;
    this.pump();
    return NONE;
  }

  onProgress(m: ServerMessageOf<'upload_progress'>): UploadOutcome {
    const c = this.current;
    if (!c || c.row.id !== m.attachment || c.sent === null) return NONE;
    c.confirmed = Math.max(c.confirmed, m.received);
    this.pump();
    return { kind: 'progress', row: c.row, bytes: c.confirmed };
  }

  onUploaded(m: ServerMessageOf<'attachment_uploaded'>): UploadOutcome {
    const c = this.current;
    if (!c || c.requestId !== m.request_id) return NONE;
    this.current = null;
    this.store.setUpload(c.row.id, 'done');
    return { kind: 'uploaded', row: c.row };
  }

  onError(m: ServerMessageOf<'error'>): UploadOutcome {
    const c = this.current;
    if (!c || c.requestId !== m.request_id) return NONE;
    this.current = null;
    const permanent = PERMANENT.has(m.code);
    if (permanent) this.store.setUpload(c.row.id, 'none');
    else this.stalled = true;
    return { kind: 'failed', row: c.row, error: `${m.code}: ${m.message}`, permanent };
  }

  /** Sends chunks while the window has room. */
  private pump(): void {
    const c = this.current;
    if (!c || c.sent === null) return;
    while (c.sent < c.row.length) {
      const bytes = this.store.readAt(c.row, c.sent);
      if (bytes.length === 0) throw new Error(`attachment ${c.row.id} has no bytes stored at ${c.sent}`);
      if (c.sent + bytes.length - c.confirmed > UPLOAD_WINDOW_BYTES) return;
      if (!this.wire.sendBinary(encodeAttachmentFrame(FrameKind.UploadChunk, c.row.id, c.sent, bytes))) return;
      c.sent += bytes.length;
    }
  }
}
