import { createHash, type Hash } from 'node:crypto';
import { ATTACHMENT_CHUNK_BYTES, attachmentIdOfDigest, attachmentRef, type AttachmentRef } from '@json-sync/core';
import { SyncError } from '../errors.js';
import { assertSize } from './input.js';
import type { AttachmentRow, AttachmentStore } from './store.js';

/** Something an add reads its bytes from: an async iterable of byte chunks (a Node stream is one). */
export type ByteSource = AsyncIterable<Uint8Array> | NodeJS.ReadableStream;

/**
 * Writes bytes as they come under a staging row, in chunks of ATTACHMENT_CHUNK_BYTES, hashing as
 * it writes; `finish` names them by their digest. Only one chunk is ever held in memory.
 */
class StagedAdd {
  private readonly hash: Hash = createHash('sha256');
  private readonly row: AttachmentRow;
  private pending = Buffer.allocUnsafe(ATTACHMENT_CHUNK_BYTES);
  private filled = 0;
  /** Bytes written to the store so far: where the next chunk goes. */
  private flushed = 0;
  private length = 0;

  constructor(
    private readonly store: AttachmentStore,
    contentType: string,
    private readonly max: number,
  ) {
    this.row = store.beginStaging(contentType);
  }

  write(bytes: Uint8Array): void {
    assertSize(this.length + bytes.length, this.max);
    this.hash.update(bytes);
    this.length += bytes.length;
    let at = 0;
    while (at < bytes.length) {
      const n = Math.min(bytes.length - at, ATTACHMENT_CHUNK_BYTES - this.filled);
      this.pending.set(bytes.subarray(at, at + n), this.filled);
      this.filled += n;
      at += n;
      if (this.filled === ATTACHMENT_CHUNK_BYTES) this.flush();
    }
  }

  finish(): { ref: AttachmentRef; added: boolean } {
    this.flush();
    const id = attachmentIdOfDigest(this.hash.digest());
    const added = this.store.commitStaging(this.row, id, this.length);
    return { ref: attachmentRef(id, this.length, this.row.content_type), added };
  }

  abandon(): void {
    this.store.remove(this.row);
  }

  private flush(): void {
    if (this.filled === 0) return;
    this.store.putChunk(this.row.blob, this.flushed, this.pending.subarray(0, this.filled));
    this.flushed += this.filled;
    this.filled = 0;
  }
}

/** Adds bytes held in memory: one transaction. */
export function addBytes(store: AttachmentStore, bytes: Uint8Array, contentType: string, max: number): { ref: AttachmentRef; added: boolean } {
  assertSize(bytes.length, max);
  return store.transaction(() => {
    const add = new StagedAdd(store, contentType, max);
    add.write(bytes);
    return add.finish();
  });
}

/** Adds the bytes `source` yields, chunk by chunk; on any failure nothing is kept. */
export async function addStream(store: AttachmentStore, source: ByteSource, contentType: string, max: number, isClosed: () => boolean): Promise<{ ref: AttachmentRef; added: boolean }> {
  if (source === null || typeof source !== 'object' || typeof (source as AsyncIterable<unknown>)[Symbol.asyncIterator] !== 'function') {
    throw new SyncError('invalid_input', 'source must be an async iterable of Uint8Array chunks or a readable stream');
  }
  const add = new StagedAdd(store, contentType, max);
  try {
    for await (const chunk of source as AsyncIterable<unknown>) {
      if (isClosed()) break;
      if (!(chunk instanceof Uint8Array)) throw new SyncError('invalid_input', 'a source must yield Uint8Array chunks (a stream without an encoding)');
      add.write(chunk);
    }
    if (isClosed()) throw new SyncError('closed', 'the engine was closed during the add');
    return add.finish();
  } catch (err) {
    if (isClosed()) throw new SyncError('closed', 'the engine was closed during the add', { cause: err });
    add.abandon();
    if (err instanceof SyncError) throw err;
    if (String((err as { code?: unknown }).code).startsWith('SQLITE')) throw new SyncError('database', `storing the attachment failed: ${(err as Error).message}`, { cause: err });
    throw new SyncError('invalid_input', `reading the attachment's bytes failed: ${(err as Error).message}`, { cause: err });
  }
}
