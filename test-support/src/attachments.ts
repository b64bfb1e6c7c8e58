import { createHash } from 'node:crypto';
import {
  ATTACHMENT_CHUNK_BYTES,
  attachmentIdOfDigest,
  decodeAttachmentFrame,
  encodeAttachmentFrame,
  FrameKind,
  UPLOAD_WINDOW_BYTES,
  type ServerMessage,
} from '@json-sync/core';
import type { TestClient } from './ws-client.js';

/** The attachment id of `bytes`. */
export function attachmentIdOf(bytes: Uint8Array): string {
  return attachmentIdOfDigest(createHash('sha256').update(bytes).digest());
}

/** The reply that ends an upload request (or says where to send from). */
const UPLOAD_ANSWER = (requestId: string) => (m: ServerMessage) =>
  (m.type === 'upload_ready' || m.type === 'attachment_uploaded' || m.type === 'error') && (m as { request_id?: string }).request_id === requestId;
const UPLOAD_END = (requestId: string) => (m: ServerMessage) => (m.type === 'attachment_uploaded' || m.type === 'error') && (m as { request_id?: string }).request_id === requestId;

export interface UploadOptions {
  /** Declared length (default: the bytes' length). */
  length?: number;
  attachment?: string;
  contentType?: string;
  /** Send at most this many bytes from the server's offset, then return without waiting for the end. */
  stopAfter?: number;
  requestId?: string;
}

export interface UploadResult {
  /** upload_ready, or the request's final answer when no bytes were asked for. */
  first: ServerMessage;
  /** attachment_uploaded or the error ending the upload; undefined when stopped early. */
  end: ServerMessage | undefined;
  /** Bytes sent in UploadChunk frames. */
  sent: number;
  /** `received` of every upload_progress of this attachment that arrived before the end, in order. */
  progress: number[];
}

/**
 * Uploads `bytes` as a well-behaved client does: upload_attachment, then chunks from the server's
 * offset, never more than UPLOAD_WINDOW_BYTES past the last upload_progress.
 */
export async function uploadAttachment(c: TestClient, bytes: Buffer, opts: UploadOptions = {}): Promise<UploadResult> {
  const attachment = opts.attachment ?? attachmentIdOf(bytes);
  const requestId = opts.requestId ?? `u-${Math.random().toString(36).slice(2)}`;
  const first = await c.request(
    { type: 'upload_attachment', attachment, length: opts.length ?? bytes.length, request_id: requestId, ...(opts.contentType ? { content_type: opts.contentType } : {}) },
    UPLOAD_ANSWER(requestId),
  );
  if (first.type !== 'upload_ready') return { first, end: first, sent: 0, progress: [] };
  const progress: number[] = [];
  let offset = first.offset;
  let confirmed = offset;
  const limit = opts.stopAfter === undefined ? bytes.length : Math.min(bytes.length, offset + opts.stopAfter);
  let sent = 0;
  while (offset < limit) {
    while (offset + Math.min(ATTACHMENT_CHUNK_BYTES, limit - offset) - confirmed > UPLOAD_WINDOW_BYTES) {
      const p = await c.next((m) => m.type === 'upload_progress' && m.attachment === attachment);
      if (p.type === 'upload_progress') progress.push((confirmed = p.received));
    }
    const piece = bytes.subarray(offset, Math.min(limit, offset + ATTACHMENT_CHUNK_BYTES));
    c.ws.send(encodeAttachmentFrame(FrameKind.UploadChunk, attachment, offset, piece));
    offset += piece.length;
    sent += piece.length;
  }
  if (opts.stopAfter !== undefined) return { first, end: undefined, sent, progress };
  // next() looks at what arrived already first: an answer that came while sending is not missed.
  const end = await c.next(UPLOAD_END(requestId), 60_000);
  for (const m of c.all('upload_progress')) if (m.attachment === attachment) progress.push(m.received);
  c.received.splice(0, c.received.length, ...c.received.filter((m) => m.type !== 'upload_progress' || m.attachment !== attachment));
  return { first, end, sent, progress };
}

export interface DownloadResult {
  first: ServerMessage;
  bytes: Buffer;
  end: ServerMessage | undefined;
  /** Offsets of the DownloadChunk frames received. */
  offsets: number[];
}

/** download_attachment, and every DownloadChunk of it up to download_complete (or the error). */
export async function downloadAttachment(c: TestClient, attachment: string, offset?: number): Promise<DownloadResult> {
  const requestId = `d-${Math.random().toString(36).slice(2)}`;
  const pieces: Buffer[] = [];
  const offsets: number[] = [];
  c.onBinary = (frame) => {
    const d = decodeAttachmentFrame(frame);
    if (!d.ok || d.frame.kind !== FrameKind.DownloadChunk || d.frame.attachment !== attachment) throw new Error(`unexpected binary frame: ${d.ok ? d.frame.attachment : d.error}`);
    offsets.push(d.frame.offset);
    pieces.push(Buffer.from(d.frame.bytes));
  };
  try {
    const mine = (m: ServerMessage) => (m as { request_id?: string }).request_id === requestId;
    const first = await c.request({ type: 'download_attachment', attachment, request_id: requestId, ...(offset !== undefined ? { offset } : {}) }, mine);
    const end = first.type === 'download_ready' ? await c.next((m) => mine(m) && (m.type === 'download_complete' || m.type === 'error'), 60_000) : undefined;
    return { first, bytes: Buffer.concat(pieces), end, offsets };
  } finally {
    c.onBinary = null;
  }
}
