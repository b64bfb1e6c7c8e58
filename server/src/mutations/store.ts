import type { MutationMessage, PatchOp, ServerMessage } from '@json-sync/core';
import type { Queryable } from '../db/database.js';
import { jsonLiteral, literal } from '../db/sql.js';
import { notifySql } from '../notify.js';
import { DOCUMENT_COLUMNS, type DocumentRow } from '../store/documents.js';

export interface StoredReply {
  payload_hash: string;
  reply: ServerMessage;
}

/** A change-log entry as conflict detection needs it. */
export interface PriorEvent {
  sync_revision: number;
  event_type: 'create' | 'update' | 'delete';
  forward_patch: PatchOp[] | null;
  client_id: string | null;
}

export interface NewEvent extends PriorEvent {
  user_id: string;
  sequence: number;
  document_id: string;
  reverse_patch: unknown;
  content_hash: string | null;
  mutation_id: string;
}

export interface NewConflict {
  user_id: string;
  document_id: string;
  mutation_id: string;
  mutation_type: string;
  client_id: string;
  base_revision: number | null;
  lost_to_revision: number;
  rejected_patch: unknown;
}

interface StoredReplyRow extends StoredReply {
  user_id: string;
  mutation_id: string;
}

/** A document row as json_agg renders it: times are strings. */
type DocumentJson = Omit<DocumentRow, 'created_at' | 'updated_at' | 'deleted_at'> & { created_at: string; updated_at: string; deleted_at: string | null };

export interface BatchItem {
  userId: string;
  message: MutationMessage;
}

/** Raised when a bulk write finds the database changed under the batch (another user's create of the same id). */
export class BatchRaceError extends Error {}

/** What a batch's write announces beside its rows: the users' new last sequences and the NOTIFY payloads. */
export interface BatchFinish {
  lastSequences: { id: string; seq: number }[];
  notify: string[];
  channel: string;
}

/** Undo records for everything buffered, so a mutation that fails halfway leaves no trace. */
type UndoStep =
  | { kind: 'document'; id: string; before: DocumentRow | undefined; wasWritten: DocumentRow | undefined; text: string | undefined }
  | { kind: 'event' }
  | { kind: 'conflict' }
  | { kind: 'reply'; key: string };

/**
 * The rows a batch of mutations reads, loaded in a few set-based queries, and the rows it writes,
 * buffered and written in a few more. Mutations run against it synchronously, in order, each
 * seeing the effects of the ones before it. The callers hold every affected user's row lock, and
 * only lock holders write a user's documents, so what is loaded stays current until commit.
 */
export class BatchStore {
  private readonly replays = new Map<string, StoredReply>();
  private readonly documents = new Map<string, DocumentRow>();
  private readonly priorEvents = new Map<string, PriorEvent[]>();
  private readonly written = new Map<string, DocumentRow>();
  /** The canonical JSON of written contents, where the mutation made it already (for its hash). */
  private readonly contentTexts = new Map<string, string>();
  /** Ids that did not exist when loaded: their first write must insert, never update another user's row. */
  private readonly absent = new Set<string>();
  readonly events: NewEvent[] = [];
  /** Each reply's JSON text, made once: it is stored for replays and sent as it is. */
  readonly mutations: { user_id: string; mutation_id: string; payload_hash: string; reply: string }[] = [];
  readonly conflicts: NewConflict[] = [];
  private readonly undo: UndoStep[] = [];

  private constructor(readonly now: Date) {}

  /** A store with nothing loaded: its write only finishes a batch (last sequences, NOTIFY). */
  static empty(now: Date): BatchStore {
    return new BatchStore(now);
  }

  /**
   * The one statement that reads everything a batch needs: earlier replies, documents, and the
   * log since stale bases. Values are inlined so it can share a round trip with other statements.
   */
  static loadSql(items: BatchItem[]): string {
    const keys = items.map((i) => ({ u: i.userId, m: i.message.mutation_id }));
    const ids = [...new Set(items.map((i) => documentIdOf(i.message)))];
    // The oldest base per document: the log above it tells which paths others changed meanwhile.
    // Keyed by user and document: another user's mutation naming the same id must not hide the owner's log.
    const oldest = new Map<string, { u: string; d: string; b: number }>();
    for (const i of items) {
      const base = i.message.base_revision;
      if (base === undefined) continue;
      const d = documentIdOf(i.message);
      const key = `${i.userId}/${d}`;
      const seen = oldest.get(key);
      if (!seen || base < seen.b) oldest.set(key, { u: i.userId, d, b: base });
    }
    return `SELECT
         (SELECT coalesce(json_agg(m), '[]') FROM (
            SELECT m.user_id, m.mutation_id, m.payload_hash, m.reply FROM mutations m
            JOIN jsonb_to_recordset(${jsonLiteral(keys)}) AS k(u uuid, m uuid) ON m.user_id = k.u AND m.mutation_id = k.m) m) AS replays,
         (SELECT coalesce(json_agg(d), '[]') FROM (
            SELECT ${DOCUMENT_COLUMNS} FROM documents WHERE id IN (SELECT jsonb_array_elements_text(${jsonLiteral(ids)})::uuid)) d) AS docs,
         (SELECT coalesce(json_agg(e ORDER BY e.document_id, e.sync_revision), '[]') FROM (
            SELECT e.document_id, e.sync_revision, e.event_type, e.forward_patch, e.client_id FROM change_events e
            JOIN jsonb_to_recordset(${jsonLiteral([...oldest.values()])}) AS x(u uuid, d uuid, b bigint) ON e.user_id = x.u AND e.document_id = x.d AND e.sync_revision > x.b) e) AS events`;
  }

  /** The store over the row `loadSql` returned. */
  static fromRow(row: LoadedRow, items: BatchItem[], now: Date): BatchStore {
    const store = new BatchStore(now);
    for (const m of row.replays) store.replays.set(`${m.user_id}/${m.mutation_id}`, m);
    for (const d of row.docs) {
      store.documents.set(d.id, { ...d, created_at: new Date(d.created_at), updated_at: new Date(d.updated_at), deleted_at: d.deleted_at ? new Date(d.deleted_at) : null });
    }
    for (const i of items) {
      const id = documentIdOf(i.message);
      if (!store.documents.has(id)) store.absent.add(id);
    }
    for (const e of row.events) {
      const list = store.priorEvents.get(e.document_id);
      if (list) list.push(e);
      else store.priorEvents.set(e.document_id, [e]);
    }
    return store;
  }

  /** Loads a store in its own round trip (the one-mutation-at-a-time path). */
  static async load(tx: Queryable, items: BatchItem[], now: Date): Promise<BatchStore> {
    const r = await tx.query<LoadedRow>(BatchStore.loadSql(items));
    return BatchStore.fromRow(r.rows[0]!, items, now);
  }

  replay(userId: string, mutationId: string): StoredReply | undefined {
    return this.replays.get(`${userId}/${mutationId}`);
  }

  document(id: string): DocumentRow | undefined {
    return this.documents.get(id);
  }

  /** The log entries of one document with a revision above `base`, in order. */
  eventsSince(documentId: string, base: number): PriorEvent[] {
    const out: PriorEvent[] = [];
    for (const e of this.priorEvents.get(documentId) ?? []) if (e.sync_revision > base) out.push(e);
    for (const e of this.events) if (e.document_id === documentId && e.sync_revision > base) out.push(e);
    return out;
  }

  putDocument(row: DocumentRow, contentText?: string): void {
    this.undo.push({ kind: 'document', id: row.id, before: this.documents.get(row.id), wasWritten: this.written.get(row.id), text: this.contentTexts.get(row.id) });
    this.documents.set(row.id, row);
    this.written.set(row.id, row);
    restore(this.contentTexts, row.id, contentText);
  }

  addEvent(e: NewEvent): void {
    this.events.push(e);
    this.undo.push({ kind: 'event' });
  }

  addConflict(c: NewConflict): void {
    this.conflicts.push(c);
    this.undo.push({ kind: 'conflict' });
  }

  /** Records a reply (given as its JSON text) for replays of the same mutation. */
  recordReply(userId: string, mutationId: string, payloadHash: string, reply: ServerMessage, replyText: string): void {
    const key = `${userId}/${mutationId}`;
    this.replays.set(key, { payload_hash: payloadHash, reply });
    this.mutations.push({ user_id: userId, mutation_id: mutationId, payload_hash: payloadHash, reply: replyText });
    this.undo.push({ kind: 'reply', key });
  }

  mark(): number {
    return this.undo.length;
  }

  rollbackTo(mark: number): void {
    while (this.undo.length > mark) {
      const step = this.undo.pop()!;
      switch (step.kind) {
        case 'document':
          restore(this.documents, step.id, step.before);
          restore(this.written, step.id, step.wasWritten);
          restore(this.contentTexts, step.id, step.text);
          break;
        case 'event':
          this.events.pop();
          break;
        case 'conflict':
          this.conflicts.pop();
          break;
        case 'reply':
          this.replays.delete(step.key);
          this.mutations.pop();
          break;
      }
    }
  }

  /**
   * The one statement (data-modifying CTEs) that writes everything buffered, together with the
   * users' new last sequences when given. A new document whose id was taken meanwhile (another
   * user's create) fails it with a unique violation on documents_pkey (see `isIdTaken`), which
   * also stops any COMMIT sent after it.
   */
  writeSql(lastSequences: BatchFinish['lastSequences'] = []): string {
    const inserts: string[] = [];
    const updates: string[] = [];
    for (const d of this.written.values()) (this.absent.has(d.id) ? inserts : updates).push(this.rowJson(d));
    const now = `${literal(this.now.toISOString())}::timestamptz`;
    // Replies are JSON text already: spliced in as they are rather than parsed and serialised again.
    const mutations = `[${this.mutations.map((m) => `{"user_id":"${m.user_id}","mutation_id":"${m.mutation_id}","payload_hash":"${m.payload_hash}","reply":${m.reply}}`).join(',')}]`;
    return `WITH ins AS (
         INSERT INTO documents (${DOCUMENT_COLUMNS}) SELECT ${DOCUMENT_COLUMNS} FROM jsonb_populate_recordset(NULL::documents, ${jsonLiteral(`[${inserts.join(',')}]`)})
         RETURNING 1
       ), upd AS (
         UPDATE documents d SET content = x.content, sync_revision = x.sync_revision, content_hash = x.content_hash, title = x.title, given_title = x.given_title,
           updated_at = x.updated_at, deleted_at = x.deleted_at
         FROM jsonb_populate_recordset(NULL::documents, ${jsonLiteral(`[${updates.join(',')}]`)}) AS x WHERE d.id = x.id RETURNING 1
       ), ev AS (
         INSERT INTO change_events (user_id, sequence, document_id, event_type, forward_patch, reverse_patch, sync_revision, content_hash, client_id, mutation_id, created_at)
         SELECT user_id, sequence, document_id, event_type, forward_patch, reverse_patch, sync_revision, content_hash, client_id, mutation_id, ${now}
         FROM jsonb_populate_recordset(NULL::change_events, ${jsonLiteral(this.events)}) RETURNING 1
       ), mu AS (
         INSERT INTO mutations (user_id, mutation_id, payload_hash, reply, created_at)
         SELECT user_id, mutation_id, payload_hash, reply, ${now} FROM jsonb_populate_recordset(NULL::mutations, ${jsonLiteral(mutations)}) RETURNING 1
       ), co AS (
         INSERT INTO conflicts (user_id, document_id, mutation_id, mutation_type, client_id, base_revision, lost_to_revision, rejected_patch, created_at)
         SELECT user_id, document_id, mutation_id, mutation_type, client_id, base_revision, lost_to_revision, rejected_patch, ${now}
         FROM jsonb_populate_recordset(NULL::conflicts, ${jsonLiteral(this.conflicts)}) RETURNING 1
       ), us AS (
         UPDATE users u SET last_sequence = x.seq FROM jsonb_to_recordset(${jsonLiteral(lastSequences)}) AS x(id uuid, seq bigint) WHERE u.id = x.id RETURNING 1
       )
       SELECT (SELECT count(*) FROM ins)::int + (SELECT count(*) FROM upd)::int + (SELECT count(*) FROM ev)::int + (SELECT count(*) FROM mu)::int
                + (SELECT count(*) FROM co)::int + (SELECT count(*) FROM us)::int AS written`;
  }

  /** A written row as JSON, its content spliced in as the canonical text already made for its hash. */
  private rowJson(d: DocumentRow): string {
    const content = this.contentTexts.get(d.id) ?? JSON.stringify(d.content);
    // Ids and hashes are validated UUIDs and hex; titles go through JSON.stringify.
    return (
      `{"id":"${d.id}","user_id":"${d.user_id}","content":${content},"sync_revision":${d.sync_revision},"content_hash":"${d.content_hash}",` +
      `"title":${JSON.stringify(d.title)},"given_title":${JSON.stringify(d.given_title)},"created_at":"${d.created_at.toISOString()}",` +
      `"updated_at":"${d.updated_at.toISOString()}","deleted_at":${d.deleted_at ? `"${d.deleted_at.toISOString()}"` : 'null'}}`
    );
  }

  /**
   * Writes everything buffered in its own round trip, and the NOTIFY when given, inside the
   * caller's transaction (the one-mutation-at-a-time path); BatchRaceError when an id was taken.
   */
  async flush(tx: Queryable, finish?: BatchFinish): Promise<void> {
    try {
      await tx.query(this.writeSql(finish?.lastSequences));
      if (finish && finish.notify.length > 0) await tx.query(notifySql(finish.channel, finish.notify));
    } catch (err) {
      if (isIdTaken(err)) throw new BatchRaceError('a document id was taken meanwhile');
      throw err;
    }
  }
}

/** The unique violation a new document's id meets when another user's create of that id committed first. */
export function isIdTaken(err: unknown): boolean {
  const e = err as { code?: string; constraint?: string };
  return e.code === '23505' && e.constraint === 'documents_pkey';
}

/** What `loadSql` returns: one row of three JSON arrays. */
export interface LoadedRow {
  replays: StoredReplyRow[];
  docs: DocumentJson[];
  events: (PriorEvent & { document_id: string })[];
}

function restore<V>(map: Map<string, V>, key: string, value: V | undefined): void {
  if (value === undefined) map.delete(key);
  else map.set(key, value);
}

export function documentIdOf(m: MutationMessage): string {
  switch (m.type) {
    case 'create_document':
      return m.document.id;
    case 'update_document':
      return m.patch.document_id;
    case 'delete_document':
      return m.document_id;
  }
}
