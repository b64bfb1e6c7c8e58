import { attachmentIdOfDigest, digestOfAttachmentId } from './reference.js';

/**
 * Attachment bytes travel in binary WebSocket frames on the document connection (docs/protocol.md,
 * Attachments). Every frame starts with a fixed header: one byte of kind, the attachment's 32
 * digest bytes, and the offset of the frame's first byte as an unsigned 64-bit big-endian integer.
 * The rest of the frame is the bytes. A frame names its attachment and position in full, so a
 * frame is never interpreted by where it falls among others.
 */
export const FRAME_HEADER_BYTES = 1 + 32 + 8;

export const FrameKind = {
  /** Client → server: bytes of an upload the server has answered `upload_ready` for. */
  UploadChunk: 1,
  /** Server → client: bytes of a download the server has answered `download_ready` for. */
  DownloadChunk: 2,
} as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

/**
 * The most bytes one frame carries. Chunks are this size except an attachment's last; with the
 * header a frame stays far below the smallest max_frame_bytes a server may set (see limits).
 */
export const ATTACHMENT_CHUNK_BYTES = 256 * 1024;

/**
 * An uploader keeps at most this many bytes sent and not yet confirmed by `upload_progress`: the
 * server's memory per upload is bounded by it. A client that sends more is cut off. Measured with
 * bench/attachments/run.mjs (200 MB, PostgreSQL store): 1 MiB 75 MB/s, 2 MiB 95 MB/s, 4 MiB
 * 103 MB/s up; the server's peak RSS with 8 clients 197 MB at 2 MiB, 287 MB at 4 MiB. The server
 * stores the chunks that wait together in one transaction, so the window must hold more than one
 * such run for the client's next bytes to arrive while the last ones are written.
 */
export const UPLOAD_WINDOW_BYTES = 8 * ATTACHMENT_CHUNK_BYTES;

/** Uploads one connection may have open at once, and downloads it may have streaming: more is rate_limited. */
export const MAX_OPEN_UPLOADS = 4;
export const MAX_OPEN_DOWNLOADS = 4;

export interface AttachmentFrame {
  kind: FrameKind;
  attachment: string;
  offset: number;
  bytes: Buffer;
}

export function encodeAttachmentFrame(kind: FrameKind, attachment: string, offset: number, bytes: Uint8Array): Buffer {
  if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError('offset must be a non-negative integer');
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + bytes.length);
  frame[0] = kind;
  digestOfAttachmentId(attachment).copy(frame, 1);
  frame.writeBigUInt64BE(BigInt(offset), 33);
  frame.set(bytes, FRAME_HEADER_BYTES);
  return frame;
}

/** Reads a binary frame's header. `bytes` is a view into `frame`, not a copy. */
export function decodeAttachmentFrame(frame: Uint8Array): { ok: true; frame: AttachmentFrame } | { ok: false; error: string } {
  if (frame.length < FRAME_HEADER_BYTES) return { ok: false, error: `a binary frame has a ${FRAME_HEADER_BYTES}-byte header` };
  const buf = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
  const kind = buf[0];
  if (kind !== FrameKind.UploadChunk && kind !== FrameKind.DownloadChunk) return { ok: false, error: `unknown binary frame kind ${kind}` };
  const offset = buf.readBigUInt64BE(33);
  if (offset > BigInt(Number.MAX_SAFE_INTEGER)) return { ok: false, error: 'offset out of range' };
  return {
    ok: true,
    frame: { kind, attachment: attachmentIdOfDigest(buf.subarray(1, 33)), offset: Number(offset), bytes: buf.subarray(FRAME_HEADER_BYTES) },
  };
}
