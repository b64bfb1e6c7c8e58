import { newUuid } from '@json-sync/core';
import type { Database } from '../db/database.js';
import type { BlobStore } from './blob-store.js';
import { addOwner } from './metadata.js';

/** One user's upload of one attachment, as the connection writing it holds it. */
export interface UploadRow {
  userId: string;
  attachment: string;
  length: number;
  contentType: string;
  blobId: string;
  /** Bytes stored so far. */
  received: number;
  /** This connection's claim on the upload: a later upload_attachment (any connection, any process) replaces it. */
  holder: string;
}

/** The upload was taken over by a newer upload_attachment, or dropped as stale: this connection may not write it. */
export class UploadLostError extends Error {
  readonly code = 'upload_lost';
  constructor(attachment: string) {
    super(`the upload of ${attachment} was taken over by another upload_attachment or expired`);
  }
}

interface Row {
  length: number;
  received: number;
  blob_id: string;
  holder: string;
}

/**
 * Every write to an upload runs in a transaction holding its row's lock and checks the holder, so
 * two connections of a user (on any processes) never write one blob at once: the bytes stored are
 * exactly the bytes the holder hashed.
 */
export class UploadRows {
  constructor(
    private readonly db: Database,
    private readonly store: BlobStore,
  ) {}

  /**
   * Opens (or takes over) the user's upload of `attachment`: what an earlier attempt stored stays
   * if it declared the same length, else it starts over on a new blob.
   */
  async open(userId: string, attachment: string, length: number, contentType: string): Promise<UploadRow> {
    const holder = newUuid();
    const { row, staleBlob } = await this.db.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO attachment_uploads (user_id, attachment, length, content_type, blob_id, holder) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (user_id, attachment) DO NOTHING`,
        [userId, attachment, length, contentType, newUuid(), holder],
      );
      const found = (await tx.query<Row>('SELECT length, received, blob_id, holder FROM attachment_uploads WHERE user_id = $1 AND attachment = $2 FOR UPDATE', [userId, attachment])).rows[0]!;
      if (found.holder === holder) return { row: found, staleBlob: null };
      const restart = found.length !== length;
      const blobId = restart ? newUuid() : found.blob_id;
      const received = restart ? 0 : found.received;
      await tx.query(
        'UPDATE attachment_uploads SET length = $3, received = $4, content_type = $5, blob_id = $6, holder = $7, updated_at = now() WHERE user_id = $1 AND attachment = $2',
        [userId, attachment, length, received, contentType, blobId, holder],
      );
      return { row: { length, received, blob_id: blobId, holder }, staleBlob: restart ? found.blob_id : null };
    });
    if (staleBlob) await this.store.delete(staleBlob);
    return { userId, attachment, length, contentType, blobId: row.blob_id, received: row.received, holder };
  }

  /** Stores `bytes` at the upload's `received` and moves it on; UploadLostError if this connection no longer holds it. */
  async append(u: UploadRow, bytes: Buffer): Promise<void> {
    await this.db.transaction(async (tx) => {
      // A chunk need not be durable when its commit returns: lost in a crash together with its
      // `received` (one transaction), it is sent again from the offset the next upload_ready gives,
      // and the engine keeps its bytes until attachment_uploaded. The commit that makes the
      // attachment someone's (commit()) stays synchronous.
      await tx.query('SET LOCAL synchronous_commit = off');
      await this.lock(tx, u);
      await this.store.append(u.blobId, u.received, bytes, tx);
      await tx.query('UPDATE attachment_uploads SET received = $3, updated_at = now() WHERE user_id = $1 AND attachment = $2', [u.userId, u.attachment, u.received + bytes.length]);
    });
    u.received += bytes.length;
  }

  /** Sets how much is stored, after a resume found less than the row said (a store that lost its last writes). */
  async rewind(u: UploadRow, received: number): Promise<void> {
    await this.db.transaction(async (tx) => {
      await this.lock(tx, u);
      await tx.query('UPDATE attachment_uploads SET received = $3, updated_at = now() WHERE user_id = $1 AND attachment = $2', [u.userId, u.attachment, received]);
    });
    u.received = received;
  }

  /**
   * The bytes were verified: the attachment becomes the user's, stored once. `last`, when given,
   * are the upload's last bytes, not stored yet (the hash ran over them first): they are stored in
   * the same transaction, the upload's one synchronous commit, so a small attachment costs one
   * transaction for its bytes, not two.
   */
  async commit(u: UploadRow, last: Buffer | null): Promise<void> {
    const { surplusBlob } = await this.db.transaction(async (tx) => {
      await this.lock(tx, u);
      if (last) await this.store.append(u.blobId, u.received, last, tx);
      const added = await addOwner(tx, u.userId, u.attachment, u.length, u.contentType, u.blobId);
      await tx.query('DELETE FROM attachment_uploads WHERE user_id = $1 AND attachment = $2', [u.userId, u.attachment]);
      return added;
    });
    if (last) u.received += last.length;
    if (surplusBlob) await this.store.delete(surplusBlob);
  }

  /** The bytes did not match the id: nothing of them is kept. */
  async drop(u: UploadRow): Promise<void> {
    await this.db.transaction(async (tx) => {
      await this.lock(tx, u);
      await tx.query('DELETE FROM attachment_uploads WHERE user_id = $1 AND attachment = $2', [u.userId, u.attachment]);
    });
    await this.store.delete(u.blobId);
  }

  private async lock(tx: { query: Database['query'] }, u: UploadRow): Promise<void> {
    const r = await tx.query<{ holder: string }>('SELECT holder FROM attachment_uploads WHERE user_id = $1 AND attachment = $2 FOR UPDATE', [u.userId, u.attachment]);
    if (r.rows[0]?.holder !== u.holder) throw new UploadLostError(u.attachment);
  }
}
