import { ProtocolError, type ChangeEvent, type ServerMessageOf, type WireDocument } from '@json-sync/core';
import type { Database, Queryable } from './db/database.js';
import { DOCUMENT_COLUMNS, toWireDocument, type DocumentRow } from './store/documents.js';

interface EventRow {
  sequence: number;
  document_id: string;
  event_type: 'create' | 'update' | 'delete';
  forward_patch: unknown;
  reverse_patch: unknown;
  sync_revision: number;
  content_hash: string | null;
  client_id: string | null;
  mutation_id: string | null;
  created_at: Date;
  title: string | null;
}

/** A `changes` page stays about this size or below (one event can exceed it alone). */
const MAX_PAGE_BYTES = 8 * 1024 * 1024;

const EVENT_COLUMNS = 'sequence, document_id, event_type, forward_patch, reverse_patch, sync_revision, content_hash, client_id, mutation_id, created_at, title';

/** A log row as the change event it was written as (a create's title included, another's left out). */
function toChangeEvent(row: EventRow): ChangeEvent {
  const { title, ...rest } = row;
  const event: ChangeEvent = { ...rest, forward_patch: row.forward_patch as never, reverse_patch: row.reverse_patch as never, created_at: row.created_at.toISOString() };
  if (row.event_type === 'create') event.title = title;
  return event;
}

async function userSequences(db: Queryable, userId: string): Promise<{ last_sequence: number; pruned_through: number }> {
  const r = await db.query<{ last_sequence: number; pruned_through: number }>('SELECT last_sequence, pruned_through FROM users WHERE id = $1', [userId]);
  return r.rows[0] ?? { last_sequence: 0, pruned_through: 0 };
}

/** A cursor the log no longer reaches back to, or one ahead of the log (a client carrying state from another database). */
function assertCursor(cursor: number, seqs: { last_sequence: number; pruned_through: number }): void {
  if (cursor < seqs.pruned_through || cursor > seqs.last_sequence) {
    throw new ProtocolError('cursor_expired', `sequence ${cursor} is outside the kept log (${seqs.pruned_through}..${seqs.last_sequence}); request a full sync`);
  }
}

/**
 * One page of a user's change log after `lastSequence`. A cursor outside the kept log is
 * `cursor_expired`: the client must full-sync.
 */
export async function changesSince(db: Database, userId: string, lastSequence: number, limit: number): Promise<ServerMessageOf<'changes'>> {
  return db.transaction(async (tx) => {
    const seqs = await userSequences(tx, userId);
    assertCursor(lastSequence, seqs);
    const r = await tx.query<EventRow>(`SELECT ${EVENT_COLUMNS} FROM change_events WHERE user_id = $1 AND sequence > $2 ORDER BY sequence LIMIT $3`, [
      userId,
      lastSequence,
      limit + 1,
    ]);
    // A page is cut by size too (documents can be large), keeping at least one event so paging always advances.
    const events: ChangeEvent[] = [];
    let bytes = 0;
    for (const row of r.rows.slice(0, limit)) {
      const event = toChangeEvent(row);
      bytes += Buffer.byteLength(JSON.stringify(event));
      if (events.length > 0 && bytes > MAX_PAGE_BYTES) break;
      events.push(event);
    }
    const hasMore = r.rows.length > events.length;
    return { type: 'changes', events, latest_sequence: seqs.last_sequence, has_more: hasMore };
  }, 'repeatable read');
}

/**
 * A full sync, read in one snapshot: every live document, or — with `since` — every document
 * (deleted ones too) that has a change-log entry after `since`, and the sequence they reflect.
 * A `since` the kept log no longer reaches, or ahead of the log, is `cursor_expired`.
 */
export async function fullSync(db: Database, userId: string, since?: number): Promise<{ documents: WireDocument[]; latestSequence: number }> {
  return db.transaction(async (tx) => {
    const seqs = await userSequences(tx, userId);
    if (since !== undefined) assertCursor(since, seqs);
    const r =
      since === undefined
        ? await tx.query<DocumentRow>(`SELECT ${DOCUMENT_COLUMNS} FROM documents WHERE user_id = $1 AND deleted_at IS NULL ORDER BY id`, [userId])
        : await tx.query<DocumentRow>(
            `SELECT ${DOCUMENT_COLUMNS} FROM documents WHERE id IN (SELECT DISTINCT document_id FROM change_events WHERE user_id = $1 AND sequence > $2)
             AND user_id = $1 ORDER BY id`,
            [userId, since],
          );
    return { documents: r.rows.map(toWireDocument), latestSequence: seqs.last_sequence };
  }, 'repeatable read');
}

/** Stores how far a client has applied the log; never moves backwards. Returns the lag behind the latest. */
export async function acknowledge(db: Database, userId: string, clientId: string, upTo: number): Promise<{ sequence: number; lag: number }> {
  const seqs = await userSequences(db, userId);
  if (upTo > seqs.last_sequence) throw new ProtocolError('invalid_message', `up_to_sequence ${upTo} is beyond the latest sequence ${seqs.last_sequence}`);
  const r = await db.query<{ acked_sequence: number }>(
    `INSERT INTO client_acks (user_id, client_id, acked_sequence) VALUES ($1, $2, $3)
     ON CONFLICT (user_id, client_id) DO UPDATE SET acked_sequence = GREATEST(client_acks.acked_sequence, EXCLUDED.acked_sequence), updated_at = now()
     RETURNING acked_sequence`,
    [userId, clientId, upTo],
  );
  const sequence = r.rows[0]!.acked_sequence;
  return { sequence, lag: seqs.last_sequence - sequence };
}

/**
 * The events of one user in (from-1, to], for pushing what other processes committed; with
 * `withCreated`, also the documents they create (protocol 1's create push carries the document).
 */
export async function eventsInRange(
  db: Database,
  userId: string,
  from: number,
  to: number,
  withCreated: boolean,
): Promise<{ events: ChangeEvent[]; created: Map<string, DocumentRow> }> {
  const r = await db.query<EventRow>(`SELECT ${EVENT_COLUMNS} FROM change_events WHERE user_id = $1 AND sequence BETWEEN $2 AND $3 ORDER BY sequence`, [userId, from, to]);
  const createdIds = withCreated ? [...new Set(r.rows.filter((e) => e.event_type === 'create').map((e) => e.document_id))] : [];
  const created = new Map<string, DocumentRow>();
  if (createdIds.length > 0) {
    const docs = await db.query<DocumentRow>(`SELECT ${DOCUMENT_COLUMNS} FROM documents WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb)::uuid)`, [
      JSON.stringify(createdIds),
    ]);
    for (const d of docs.rows) created.set(d.id, d);
  }
  return { events: r.rows.map(toChangeEvent), created };
}

/** Drops change events older than `olderThanDays`, remembering per user how far the log was cut. */
export async function pruneLog(db: Database, olderThanDays: number): Promise<number> {
  return db.transaction(async (tx) => {
    const cut = await tx.query<{ user_id: string; through: number }>(
      `SELECT user_id, max(sequence) AS through FROM change_events WHERE created_at < now() - make_interval(days => $1) GROUP BY user_id`,
      [olderThanDays],
    );
    let removed = 0;
    for (const c of cut.rows) {
      await tx.query('UPDATE users SET pruned_through = GREATEST(pruned_through, $2) WHERE id = $1', [c.user_id, c.through]);
      const d = await tx.query('DELETE FROM change_events WHERE user_id = $1 AND sequence <= $2', [c.user_id, c.through]);
      removed += d.rowCount;
    }
    return removed;
  });
}
