import type { Queryable } from '../db/database.js';

/**
 * Where attachment bytes live, behind the metadata tables (attachments, attachment_uploads). A blob
 * is named only by a uuid the server generated, never by anything a client sent, and is written
 * front to back by one upload at a time (under its upload row's lock: uploads.ts).
 *
 * Implementations: PostgreSQL (pg-blob-store.ts, the default, also on the embedded database), a
 * directory (dir-blob-store.ts). docs/scaling.md says how an object store fits.
 */
export interface BlobStore {
  /**
   * Writes `bytes` at `offset`, dropping whatever the blob held from `offset` on (bytes of an
   * attempt that stored them but crashed before recording it). `tx` is the transaction holding
   * the upload's row lock: a store in the same database writes through it, so the bytes and the
   * upload's `received` commit together.
   */
  append(blobId: string, offset: number, bytes: Buffer, tx: Queryable): Promise<void>;
  /** The blob's bytes from `from` to its end, one piece (at most ATTACHMENT_CHUNK_BYTES) at a time. */
  read(blobId: string, from: number): AsyncIterable<Buffer>;
  /** Removes the blob; removing one that does not exist is no error. */
  delete(blobId: string): Promise<void>;
}

/** A blob id that is not a uuid: nothing a client sends can reach a store. */
export class BlobIdError extends Error {
  readonly code = 'invalid_blob_id';
  constructor(id: string) {
    super(`not a blob id: ${JSON.stringify(id.slice(0, 64))}`);
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function checkBlobId(id: string): string {
  if (!UUID.test(id)) throw new BlobIdError(id);
  return id;
}
