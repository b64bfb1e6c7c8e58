import { randomUUID } from 'node:crypto';
import { contentHash, type QueryableDocument } from '@json-sync/core';
import type { Queryable } from '../db/database.js';

/**
 * Documents for the query tests, written straight into the documents table with the ids, titles
 * and times the shared cases give them (the protocol would assign its own times). The server has
 * no never-synced document: a case's null revision is stored as 1, and the reference is given the
 * documents as stored (`asStored`).
 */
export function asStored(docs: readonly QueryableDocument[]): QueryableDocument[] {
  return docs.map((d) => ({ ...d, revision: d.revision ?? 1 }));
}

/** A new user (of a new application) holding `docs`. */
export async function userWithDocuments(db: Pick<Queryable, 'query'>, docs: readonly QueryableDocument[], opts: { deleted?: boolean } = {}): Promise<string> {
  const app = randomUUID();
  const user = randomUUID();
  await db.query('INSERT INTO applications (id, name) VALUES ($1, $2)', [app, 'query tests']);
  await db.query('INSERT INTO users (id, application_id, email, email_normalized) VALUES ($1, $2, $3, $3)', [user, app, `${user}@example.com`]);
  await insertDocuments(db, user, docs, opts);
  return user;
}

/** `docs` given to an existing user, in batches of one statement each (ids that are not UUIDs get new ones). */
export async function insertDocuments(db: Pick<Queryable, 'query'>, user: string, docs: readonly QueryableDocument[], opts: { deleted?: boolean } = {}): Promise<void> {
  for (let i = 0; i < docs.length; i += 500) {
    const rows = asStored(docs.slice(i, i + 500)).map((d) => ({
      id: opts.deleted || d.id.length !== 36 ? randomUUID() : d.id,
      content: d.content,
      sync_revision: d.revision,
      content_hash: contentHash(d.content),
      title: d.title,
      created_at: d.createdAt,
      updated_at: d.updatedAt,
      deleted_at: opts.deleted ? d.updatedAt : null,
    }));
    await db.query(
      `INSERT INTO documents (id, user_id, content, sync_revision, content_hash, title, created_at, updated_at, deleted_at)
       SELECT x.id, $1, x.content, x.sync_revision, x.content_hash, x.title, x.created_at, x.updated_at, x.deleted_at
       FROM jsonb_to_recordset($2::jsonb) AS x(id uuid, content jsonb, sync_revision int, content_hash text, title text, created_at timestamptz, updated_at timestamptz, deleted_at timestamptz)`,
      [user, JSON.stringify(rows)],
    );
  }
}
