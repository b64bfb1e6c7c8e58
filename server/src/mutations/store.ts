import type { MutationMessage, PatchOp, ServerMessage } from '@json-sync/core';
import type { Queryable } from '../db/database.js';
import { jsonLiteral, literal, uuidArrayLiteral } from '../db/sql.js';
import { notifySql } from '../notify.js';
import type { DocumentRow } from '../store/documents.js';

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

/** A change-log row to write: the change event clients receive, and whose log it belongs to. */
export interface NewEvent extends PriorEvent {
  user_id: string;
  sequence: number;
  document_id: string;
  reverse_patch: unknown;
  content_hash: string | null;
  mutation_id: string;
  created_at: string;
  title?: string | null;
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
  | { kind: 'document'; id: string; before: DocumentRow | undefined; wasWritten: DocumentRow | undefined; text: string | undefined; wasStale: boolean }
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
  /** Written documents whose title or strings some write of this batch changed: their search vector is made again. */
  private readonly searchStale = new Set<string>();
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
   * The one statement (sync_load_batch, migration 5) that reads everything a batch needs: earlier
   * replies, documents, and the log since stale bases. Values are inlined so it can share a round
   * trip with other statements.
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
    return `SELECT * FROM sync_load_batch(${jsonLiteral(keys)}, ${uuidArrayLiteral(ids)}, ${jsonLiteral([...oldest.values()])})`;
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

  /** Buffers a document's new version; `sameSearchText` when its title and strings are as before this write. */
  putDocument(row: DocumentRow, contentText: string | undefined, sameSearchText: boolean): void {
    const wasStale = this.searchStale.has(row.id);
    this.undo.push({ kind: 'document', id: row.id, before: this.documents.get(row.id), wasWritten: this.written.get(row.id), text: this.contentTexts.get(row.id), wasStale });
    this.documents.set(row.id, row);
    this.written.set(row.id, row);
    restore(this.contentTexts, row.id, contentText);
    if (!sameSearchText) this.searchStale.add(row.id);
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
          if (!step.wasStale) this.searchStale.delete(step.id);
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
   * The one statement (sync_write_batch, migration 5) that writes everything buffered, together with the
   * users' new last sequences when given. A new document whose id was taken meanwhile (another
   * user's create) fails it with a unique violation on documents_pkey (see `isIdTaken`), which
   * also stops any COMMIT sent after it.
   */
  writeSql(lastSequences: BatchFinish['lastSequences'] = []): string {
    const inserts: string[] = [];
    const updates: string[] = [];
    const sameSearch: string[] = [];
    for (const d of this.written.values()) {
      if (this.absent.has(d.id)) inserts.push(this.rowJson(d));
      else {
        updates.push(this.rowJson(d));
        if (!this.searchStale.has(d.id)) sameSearch.push(d.id);
      }
    }
    const now = `${literal(this.now.toISOString())}::timestamptz`;
    // Replies are JSON text already: spliced in as they are rather than parsed and serialised again.
    const mutations = `[${this.mutations.map((m) => `{"user_id":"${m.user_id}","mutation_id":"${m.mutation_id}","payload_hash":"${m.payload_hash}","reply":${m.reply}}`).join(',')}]`;
    return `SELECT sync_write_batch(${jsonLiteral(`[${inserts.join(',')}]`)}, ${jsonLiteral(`[${updates.join(',')}]`)}, ${uuidArrayLiteral(sameSearch)}, ${jsonLiteral(this.events)},
       ${jsonLiteral(mutations)}, ${jsonLiteral(this.conflicts)}, ${jsonLiteral(lastSequences)}, ${now})`;
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
