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

  static async load(tx: Queryable, items: BatchItem[], now: Date): Promise<BatchStore> {
    const store = new BatchStore(now);
    const keys = items.map((i) => ({ u: i.userId, m: i.message.mutation_id }));
    const replays = await tx.query<{ user_id: string; mutation_id: string; payload_hash: string; reply: ServerMessage }>(
      `SELECT m.user_id, m.mutation_id, m.payload_hash, m.reply FROM mutations m
       JOIN jsonb_to_recordset($1::jsonb) AS k(u uuid, m uuid) ON m.user_id = k.u AND m.mutation_id = k.m`,
      [JSON.stringify(keys)],
    );
    for (const r of replays.rows) store.replays.set(`${r.user_id}/${r.mutation_id}`, r);

    const ids = [...new Set(items.map((i) => documentIdOf(i.message)))];
    const docs = await tx.query<DocumentRow>(`SELECT ${DOCUMENT_COLUMNS} FROM documents WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb)::uuid)`, [
      JSON.stringify(ids),
    ]);
    for (const d of docs.rows) store.documents.set(d.id, d);
    for (const id of ids) if (!store.documents.has(id)) store.absent.add(id);

    // Stale bases need the log since the oldest base per document, to find paths changed by others.
    const oldest = new Map<string, { u: string; d: string; b: number }>();
    for (const i of items) {
      const base = i.message.base_revision;
      const doc = store.documents.get(documentIdOf(i.message));
      if (base === undefined || !doc || doc.user_id !== i.userId || base >= doc.sync_revision) continue;
      const seen = oldest.get(doc.id);
      if (!seen || base < seen.b) oldest.set(doc.id, { u: i.userId, d: doc.id, b: base });
    }
    if (oldest.size > 0) {
      const ev = await tx.query<PriorEvent & { document_id: string }>(
        `SELECT e.document_id, e.sync_revision, e.event_type, e.forward_patch, e.client_id FROM change_events e
         JOIN jsonb_to_recordset($1::jsonb) AS x(u uuid, d uuid, b int) ON e.user_id = x.u AND e.document_id = x.d AND e.sync_revision > x.b
         ORDER BY e.document_id, e.sync_revision`,
        [JSON.stringify([...oldest.values()])],
      );
      for (const e of ev.rows) {
        const list = store.priorEvents.get(e.document_id) ?? [];
        list.push(e);
        store.priorEvents.set(e.document_id, list);
      }
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

  /** Writes everything buffered in one statement per table. */
  async flush(tx: Queryable): Promise<void> {
    const inserts = [...this.written.values()].filter((d) => this.absent.has(d.id));
    const updates = [...this.written.values()].filter((d) => !this.absent.has(d.id));
    if (inserts.length > 0) {
      const r = await tx.query(
        `INSERT INTO documents (${DOCUMENT_COLUMNS}) SELECT ${DOCUMENT_COLUMNS} FROM jsonb_populate_recordset(NULL::documents, $1::jsonb)
         ON CONFLICT (id) DO NOTHING`,
        [JSON.stringify(inserts)],
      );
      if (r.rowCount !== inserts.length) throw new BatchRaceError('a document id was taken meanwhile');
    }
    if (updates.length > 0) {
      await tx.query(
        `UPDATE documents d SET content = x.content, sync_revision = x.sync_revision, content_hash = x.content_hash, title = x.title,
           updated_at = x.updated_at, deleted_at = x.deleted_at
         FROM jsonb_populate_recordset(NULL::documents, $1::jsonb) AS x WHERE d.id = x.id`,
        [JSON.stringify(updates)],
      );
    }
    if (this.events.length > 0) {
      await tx.query(
        `INSERT INTO change_events (user_id, sequence, document_id, event_type, forward_patch, reverse_patch, sync_revision, content_hash, client_id, mutation_id, created_at)
         SELECT user_id, sequence, document_id, event_type, forward_patch, reverse_patch, sync_revision, content_hash, client_id, mutation_id, $2
         FROM jsonb_populate_recordset(NULL::change_events, $1::jsonb)`,
        [JSON.stringify(this.events), this.now],
      );
    }
    if (this.mutations.length > 0) {
      await tx.query(
        `INSERT INTO mutations (user_id, mutation_id, payload_hash, reply, created_at)
         SELECT user_id, mutation_id, payload_hash, reply, $2 FROM jsonb_populate_recordset(NULL::mutations, $1::jsonb)`,
        [JSON.stringify(this.mutations), this.now],
      );
    }
    if (this.conflicts.length > 0) {
      await tx.query(
        `INSERT INTO conflicts (user_id, document_id, mutation_id, mutation_type, client_id, base_revision, lost_to_revision, rejected_patch, created_at)
         SELECT user_id, document_id, mutation_id, mutation_type, client_id, base_revision, lost_to_revision, rejected_patch, $2
         FROM jsonb_populate_recordset(NULL::conflicts, $1::jsonb)`,
        [JSON.stringify(this.conflicts), this.now],
      );
    }
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
