import type { MutationMessage, PatchOp, ServerMessage } from '@json-sync/core';
import type { Queryable } from '../db/database.js';
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
  /** Ids that did not exist when loaded: their first write must insert, never update another user's row. */
  private readonly absent = new Set<string>();
  readonly events: NewEvent[] = [];
  readonly mutations: { user_id: string; mutation_id: string; payload_hash: string; reply: ServerMessage }[] = [];
  readonly conflicts: NewConflict[] = [];

  /** Undo steps for everything buffered, so a mutation that fails halfway leaves no trace. */
  private readonly undo: (() => void)[] = [];

  private constructor(readonly now: Date) {}

  /** A store with nothing loaded: its flush only finishes a batch (last sequences, NOTIFY). */
  static empty(now: Date): BatchStore {
    return new BatchStore(now);
  }

  /** Reads everything a batch needs in one round trip: earlier replies, documents, and the log since stale bases. */
  static async load(tx: Queryable, items: BatchItem[], now: Date): Promise<BatchStore> {
    const store = new BatchStore(now);
    const keys = items.map((i) => ({ u: i.userId, m: i.message.mutation_id }));
    const ids = [...new Set(items.map((i) => documentIdOf(i.message)))];
    // The oldest base per document: the log above it tells which paths others changed meanwhile.
    // Keyed by user and document: another user's mutation naming the same id must not hide the owner's log.
    const oldest = new Map<string, { u: string; d: string; b: number }>();
    for (const i of items) {
      const base = i.message.base_revision;
      const d = documentIdOf(i.message);
      const key = `${i.userId}/${d}`;
      const seen = oldest.get(key);
      if (base !== undefined && (!seen || base < seen.b)) oldest.set(key, { u: i.userId, d, b: base });
    }
    const r = await tx.query<{ replays: StoredReplyRow[]; docs: DocumentJson[]; events: (PriorEvent & { document_id: string })[] }>(
      `SELECT
         (SELECT coalesce(json_agg(m), '[]') FROM (
            SELECT m.user_id, m.mutation_id, m.payload_hash, m.reply FROM mutations m
            JOIN jsonb_to_recordset($1::jsonb) AS k(u uuid, m uuid) ON m.user_id = k.u AND m.mutation_id = k.m) m) AS replays,
         (SELECT coalesce(json_agg(d), '[]') FROM (
            SELECT ${DOCUMENT_COLUMNS} FROM documents WHERE id IN (SELECT jsonb_array_elements_text($2::jsonb)::uuid)) d) AS docs,
         (SELECT coalesce(json_agg(e ORDER BY e.document_id, e.sync_revision), '[]') FROM (
            SELECT e.document_id, e.sync_revision, e.event_type, e.forward_patch, e.client_id FROM change_events e
            JOIN jsonb_to_recordset($3::jsonb) AS x(u uuid, d uuid, b bigint) ON e.user_id = x.u AND e.document_id = x.d AND e.sync_revision > x.b) e) AS events`,
      [JSON.stringify(keys), JSON.stringify(ids), JSON.stringify([...oldest.values()])],
    );
    const row = r.rows[0]!;
    for (const m of row.replays) store.replays.set(`${m.user_id}/${m.mutation_id}`, m);
    for (const d of row.docs) {
      store.documents.set(d.id, { ...d, created_at: new Date(d.created_at), updated_at: new Date(d.updated_at), deleted_at: d.deleted_at ? new Date(d.deleted_at) : null });
    }
    for (const id of ids) if (!store.documents.has(id)) store.absent.add(id);
    for (const e of row.events) {
      const list = store.priorEvents.get(e.document_id) ?? [];
      list.push(e);
      store.priorEvents.set(e.document_id, list);
    }
    return store;
  }

  replay(userId: string, mutationId: string): StoredReply | undefined {
    return this.replays.get(`${userId}/${mutationId}`);
  }

  document(id: string): DocumentRow | undefined {
    return this.documents.get(id);
  }

  /** The log entries of one document with a revision above `base`, in order. */
  eventsSince(documentId: string, base: number): PriorEvent[] {
    const prior = this.priorEvents.get(documentId) ?? [];
    const fresh = this.events.filter((e) => e.document_id === documentId);
    return [...prior, ...fresh].filter((e) => e.sync_revision > base);
  }

  putDocument(row: DocumentRow): void {
    const [before, wasWritten] = [this.documents.get(row.id), this.written.get(row.id)];
    this.documents.set(row.id, row);
    this.written.set(row.id, row);
    this.undo.push(() => {
      restore(this.documents, row.id, before);
      restore(this.written, row.id, wasWritten);
    });
  }

  addEvent(e: NewEvent): void {
    this.events.push(e);
    this.undo.push(() => this.events.pop());
  }

  addConflict(c: NewConflict): void {
    this.conflicts.push(c);
    this.undo.push(() => this.conflicts.pop());
  }

  recordReply(userId: string, mutationId: string, payloadHash: string, reply: ServerMessage): void {
    const key = `${userId}/${mutationId}`;
    this.replays.set(key, { payload_hash: payloadHash, reply });
    this.mutations.push({ user_id: userId, mutation_id: mutationId, payload_hash: payloadHash, reply });
    this.undo.push(() => {
      this.replays.delete(key);
      this.mutations.pop();
    });
  }

  mark(): number {
    return this.undo.length;
  }

  rollbackTo(mark: number): void {
    while (this.undo.length > mark) this.undo.pop()!();
  }

  /**
   * Writes everything buffered in one statement (data-modifying CTEs), together with the users'
   * new last sequences and the NOTIFY payloads when given. Throws BatchRaceError when a new
   * document's id was taken meanwhile (by another user's create): the caller must roll back.
   */
  async flush(tx: Queryable, finish?: { lastSequences: { id: string; seq: number }[]; notify: string[]; channel: string }): Promise<void> {
    const inserts = [...this.written.values()].filter((d) => this.absent.has(d.id));
    const updates = [...this.written.values()].filter((d) => !this.absent.has(d.id));
    const r = await tx.query<{ inserted: number }>(
      `WITH ins AS (
         INSERT INTO documents (${DOCUMENT_COLUMNS}) SELECT ${DOCUMENT_COLUMNS} FROM jsonb_populate_recordset(NULL::documents, $1::jsonb)
         ON CONFLICT (id) DO NOTHING RETURNING 1
       ), upd AS (
         UPDATE documents d SET content = x.content, sync_revision = x.sync_revision, content_hash = x.content_hash, title = x.title, given_title = x.given_title,
           updated_at = x.updated_at, deleted_at = x.deleted_at
         FROM jsonb_populate_recordset(NULL::documents, $2::jsonb) AS x WHERE d.id = x.id RETURNING 1
       ), ev AS (
         INSERT INTO change_events (user_id, sequence, document_id, event_type, forward_patch, reverse_patch, sync_revision, content_hash, client_id, mutation_id, created_at)
         SELECT user_id, sequence, document_id, event_type, forward_patch, reverse_patch, sync_revision, content_hash, client_id, mutation_id, $6
         FROM jsonb_populate_recordset(NULL::change_events, $3::jsonb) RETURNING 1
       ), mu AS (
         INSERT INTO mutations (user_id, mutation_id, payload_hash, reply, created_at)
         SELECT user_id, mutation_id, payload_hash, reply, $6 FROM jsonb_populate_recordset(NULL::mutations, $4::jsonb) RETURNING 1
       ), co AS (
         INSERT INTO conflicts (user_id, document_id, mutation_id, mutation_type, client_id, base_revision, lost_to_revision, rejected_patch, created_at)
         SELECT user_id, document_id, mutation_id, mutation_type, client_id, base_revision, lost_to_revision, rejected_patch, $6
         FROM jsonb_populate_recordset(NULL::conflicts, $5::jsonb) RETURNING 1
       ), us AS (
         UPDATE users u SET last_sequence = x.seq FROM jsonb_to_recordset($7::jsonb) AS x(id uuid, seq bigint) WHERE u.id = x.id RETURNING 1
       )
       SELECT (SELECT count(*) FROM ins)::int AS inserted,
              (SELECT count(*) FROM (SELECT pg_notify($9, p) FROM jsonb_array_elements_text($8::jsonb) AS p) n)::int AS notified,
              (SELECT count(*) FROM upd)::int + (SELECT count(*) FROM ev)::int + (SELECT count(*) FROM mu)::int
                + (SELECT count(*) FROM co)::int + (SELECT count(*) FROM us)::int AS written`,
      [
        JSON.stringify(inserts),
        JSON.stringify(updates),
        JSON.stringify(this.events),
        JSON.stringify(this.mutations),
        JSON.stringify(this.conflicts),
        this.now,
        JSON.stringify(finish?.lastSequences ?? []),
        JSON.stringify(finish?.notify ?? []),
        finish?.channel ?? '',
      ],
    );
    if (r.rows[0]!.inserted !== inserts.length) throw new BatchRaceError('a document id was taken meanwhile');
  }
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
