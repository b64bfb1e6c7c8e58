import { ATTACHMENT_CHUNK_BYTES } from '@json-sync/core';
import type { Database, Queryable } from '../db/database.js';
import { checkBlobId, type BlobStore } from './blob-store.js';

/**
 * Blobs as rows of attachment_chunks in the server's own database (PostgreSQL or the embedded
 * one): one row per stored chunk, keyed by where it starts. Reads fetch one row per query, so a
 * download holds one chunk in memory however large the attachment.
 */
export class PostgresBlobStore implements BlobStore {
  constructor(private readonly db: Database) {}

  async append(blobId: string, offset: number, bytes: Buffer, tx: Queryable): Promise<void> {
    checkBlobId(blobId);
    // Two statements: a data-modifying CTE's delete is invisible to the insert's key check beside it.
    await tx.query('DELETE FROM attachment_chunks WHERE blob_id = $1 AND "offset" >= $2', [blobId, offset]);
    await tx.query('INSERT INTO attachment_chunks (blob_id, "offset", bytes) VALUES ($1, $2, $3)', [blobId, offset, bytes]);
  }

  async *read(blobId: string, from: number): AsyncIterable<Buffer> {
    checkBlobId(blobId);
    let position = from;
    for (;;) {
      // The chunk holding `position`: the last one starting at or before it.
      const r = await this.db.query<{ offset: number; bytes: Uint8Array }>(
        `SELECT "offset", bytes FROM attachment_chunks WHERE blob_id = $1 AND "offset" <= $2 ORDER BY "offset" DESC LIMIT 1`,
        [blobId, position],
      );
      const row = r.rows[0];
      if (!row) return;
      const bytes = Buffer.from(row.bytes.buffer, row.bytes.byteOffset, row.bytes.byteLength);
      const start = position - row.offset;
      if (start >= bytes.length) return;
      for (let i = start; i < bytes.length; i += ATTACHMENT_CHUNK_BYTES) yield bytes.subarray(i, Math.min(bytes.length, i + ATTACHMENT_CHUNK_BYTES));
      position = row.offset + bytes.length;
    }
  }

  async delete(blobId: string): Promise<void> {
    await this.db.query('DELETE FROM attachment_chunks WHERE blob_id = $1', [checkBlobId(blobId)]);
  }
}
