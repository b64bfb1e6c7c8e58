import type { JsonObject, WireDocument } from '@json-sync/core';

/** A row of the documents table as the server reads it. */
export interface DocumentRow {
  id: string;
  user_id: string;
  content: JsonObject;
  sync_revision: number;
  content_hash: string;
  /** The document's title: its content's, else `given_title`. */
  title: string | null;
  /** The title its create carried beside the content, cut like every title; null when none. */
  given_title: string | null;
  created_at: Date;
  updated_at: Date;
  deleted_at: Date | null;
}

export const DOCUMENT_COLUMNS = 'id, user_id, content, sync_revision, content_hash, title, given_title, created_at, updated_at, deleted_at';

export function toWireDocument(row: DocumentRow): WireDocument {
  return {
    id: row.id,
    user_id: row.user_id,
    title: row.title,
    content: row.content,
    sync_revision: row.sync_revision,
    content_hash: row.content_hash,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    deleted_at: row.deleted_at ? row.deleted_at.toISOString() : null,
  };
}
