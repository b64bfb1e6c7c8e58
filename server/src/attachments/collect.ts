import { attachmentIdsOfPatch, attachmentRefs, type JsonValue } from '@json-sync/core';
import type { Database, Queryable } from '../db/database.js';
import type { BlobStore } from './blob-store.js';

export interface CollectOptions {
  /** An owner's claim stays at least this long after the upload, referenced or not. */
  graceMs: number;
  /** An upload in progress untouched this long is dropped, bytes and all. */
  uploadExpiryMs: number;
}

export interface Collected {
  /** Owner claims removed: nothing of that user refers to the attachment any more. */
  owners: { user_id: string; attachment: string }[];
  /** Attachments whose bytes were deleted: no owner and no upload left. */
  attachments: { id: string; length: number }[];
  /** Uploads dropped as stale. */
  uploads: { user_id: string; attachment: string; received: number }[];
}

/**
 * Attachment collection (docs/protocol.md, Collection). Safe beside a running server (any number of
 * processes): each user's claims are judged while holding that user's row lock, which every
 * mutation takes to allocate its sequence, so a reference committed meanwhile is either seen here
 * or commits after the claim's removal.
 */
export async function collectAttachments(db: Database, store: BlobStore, opts: CollectOptions): Promise<Collected> {
  const uploads = (
    await db.query<{ user_id: string; attachment: string; received: number; blob_id: string }>(
      `DELETE FROM attachment_uploads WHERE updated_at < now() - make_interval(secs => $1::double precision / 1000)
       RETURNING user_id, attachment, received, blob_id`,
      [opts.uploadExpiryMs],
    )
  ).rows;
  for (const u of uploads) await store.delete(u.blob_id);

  const owners: Collected['owners'] = [];
  const users = await db.query<{ user_id: string }>(
    'SELECT DISTINCT user_id FROM attachment_owners WHERE created_at < now() - make_interval(secs => $1::double precision / 1000)',
    [opts.graceMs],
  );
  for (const { user_id } of users.rows) {
    const removed = await db.transaction((tx) => collectUser(tx, user_id, opts.graceMs));
    for (const attachment of removed) owners.push({ user_id, attachment });
  }

  const orphans = (
    await db.query<{ id: string; length: number; blob_id: string }>(
      `DELETE FROM attachments a WHERE NOT EXISTS (SELECT 1 FROM attachment_owners o WHERE o.attachment = a.id)
         AND NOT EXISTS (SELECT 1 FROM attachment_uploads u WHERE u.attachment = a.id)
       RETURNING id, length, blob_id`,
    )
  ).rows;
  for (const a of orphans) await store.delete(a.blob_id);
  return { owners, attachments: orphans.map(({ id, length }) => ({ id, length })), uploads: uploads.map(({ user_id, attachment, received }) => ({ user_id, attachment, received })) };
}

/** One user's claims past the grace period that none of their documents or kept changes refer to. */
async function collectUser(tx: Queryable, userId: string, graceMs: number): Promise<string[]> {
  await tx.query('SELECT 1 FROM users WHERE id = $1 FOR UPDATE', [userId]);
  const candidates = await tx.query<{ attachment: string }>(
    `SELECT o.attachment FROM attachment_owners o WHERE o.user_id = $1 AND o.created_at < now() - make_interval(secs => $2::double precision / 1000)
       AND NOT EXISTS (SELECT 1 FROM attachment_uploads u WHERE u.user_id = o.user_id AND u.attachment = o.attachment)`,
    [userId, graceMs],
  );
  if (candidates.rowCount === 0) return [];
  // Only JSON that spells the key can hold a reference; core says which are references: whole
  // ones in content, and in patches also an id written into a reference (a diff of two references).
  const holders = await tx.query<{ patch: boolean; v: JsonValue }>(
    `SELECT false AS patch, content AS v FROM documents WHERE user_id = $1 AND content::text LIKE '%$attachment%'
     UNION ALL SELECT true, forward_patch FROM change_events WHERE user_id = $1 AND forward_patch::text LIKE '%$attachment%'
     UNION ALL SELECT true, reverse_patch FROM change_events WHERE user_id = $1 AND reverse_patch::text LIKE '%$attachment%'`,
    [userId],
  );
  const referenced = new Set<string>();
  for (const { patch, v } of holders.rows) {
    if (patch) for (const id of attachmentIdsOfPatch(v)) referenced.add(id);
    else for (const ref of attachmentRefs(v)) referenced.add(ref.$attachment);
  }
  const unreferenced = candidates.rows.map((r) => r.attachment).filter((a) => !referenced.has(a));
  if (unreferenced.length === 0) return [];
  await tx.query('DELETE FROM attachment_owners WHERE user_id = $1 AND attachment = ANY ($2::text[])', [userId, unreferenced]);
  return unreferenced;
}
