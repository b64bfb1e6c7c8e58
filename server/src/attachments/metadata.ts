import { newUuid } from '@json-sync/core';
import type { Queryable } from '../db/database.js';

/** An attachment a user may read: what download_ready says, and where its bytes are. */
export interface OwnedAttachment {
  length: number;
  content_type: string;
  blob_id: string;
}

/**
 * The attachment `id` if `userId` owns it. One indexed lookup (the owner row's primary key, then
 * the attachment's), the same whether the bytes exist for another user or not at all.
 */
export async function ownedAttachment(db: Queryable, userId: string, id: string): Promise<OwnedAttachment | undefined> {
  const r = await db.query<OwnedAttachment>(
    `SELECT a.length, o.content_type, a.blob_id FROM attachment_owners o JOIN attachments a ON a.id = o.attachment
     WHERE o.user_id = $1 AND o.attachment = $2`,
    [userId, id],
  );
  return r.rows[0];
}

/** Bytes counted against the user's quota: attachments they own and uploads in progress (declared lengths), except `except`'s upload. */
export async function quotaUsage(db: Queryable, userId: string, except: string): Promise<number> {
  const r = await db.query<{ used: string | number }>(
    `SELECT (SELECT coalesce(sum(a.length), 0) FROM attachment_owners o JOIN attachments a ON a.id = o.attachment WHERE o.user_id = $1)
          + (SELECT coalesce(sum(length), 0) FROM attachment_uploads WHERE user_id = $1 AND attachment <> $2) AS used`,
    [userId, except],
  );
  return Number(r.rows[0]!.used);
}

/**
 * Makes `userId` an owner of `id`, whose verified bytes are the blob `blobId`. If the attachment is
 * stored already (another user uploaded it) the owner row points at that copy and the result names
 * `blobId` as surplus, for the caller to delete once this transaction committed.
 */
export async function addOwner(tx: Queryable, userId: string, id: string, length: number, contentType: string, blobId: string): Promise<{ surplusBlob: string | null }> {
  const inserted = await tx.query('INSERT INTO attachments (id, length, blob_id) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING RETURNING id', [id, length, blobId]);
  await tx.query('INSERT INTO attachment_owners (user_id, attachment, content_type) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [userId, id, contentType]);
  return { surplusBlob: inserted.rowCount === 0 ? blobId : null };
}

/** A zero-length attachment has no bytes to send: its owner row is made at once (its blob is empty). */
export function addEmptyOwner(tx: Queryable, userId: string, id: string, contentType: string): Promise<{ surplusBlob: string | null }> {
  return addOwner(tx, userId, id, 0, contentType, newUuid());
}
