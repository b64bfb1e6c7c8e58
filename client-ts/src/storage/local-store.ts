import Database from 'better-sqlite3';
import { SyncError } from '../errors.js';
import { migrate } from './schema.js';

export type MutationKind = 'create' | 'update' | 'delete';
export type HistoryOrigin = 'local' | 'undo' | 'redo' | 'remote';

export interface DocumentRecord {
  id: string;
  base_content: string | null;
  base_revision: number | null;
  base_deleted: number;
  known_revision: number | null;
  content: string;
  deleted: number;
  title: string | null;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
}

export interface OutboxEntry {
  seq: number;
  mutation_id: string;
  document_id: string;
  kind: MutationKind;
  payload: string | null;
  sent_message: string | null;
  acked_sequence: number | null;
  created_at: string;
}

export interface HistoryRecord {
  id: number;
  document_id: string;
  origin: HistoryOrigin;
  kind: MutationKind;
  forward: string | null;
  reverse: string | null;
  mutation_id: string | null;
  sequence: number | null;
  sync_revision: number | null;
  undone: number;
  redoable: number;
  created_at: string;
}

export interface ConflictRecordRow {
  id: number;
  document_id: string;
  mutation_id: string;
  kind: string;
  reason: string;
  message: string | null;
  rejected: string | null;
  server_document: string | null;
  created_at: string;
}

export interface StoreOptions {
  durability: 'normal' | 'full';
  /** A better-sqlite3 native build to load (the embedded runtime needs one for its own ABI). */
  nativeBinding?: string;
}

/** Paths opened by an engine in this process: SQLite's exclusive lock covers other processes. */
const openInProcess = new Set<string>();

/**
 * The engine's SQLite file: documents (server base and local view), the outbox, history, conflicts
 * and sync state, behind prepared statements. Every method is synchronous and short.
 */
export class LocalStore {
  readonly db: Database.Database;
  private readonly s;
  private readonly runInTransaction: (fn: () => unknown) => unknown;

  private constructor(
    readonly path: string,
    db: Database.Database,
  ) {
    this.db = db;
    this.runInTransaction = db.transaction((fn: () => unknown) => fn());
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      getState: p('SELECT value FROM sync_state WHERE key = ?').pluck(),
      setState: p('INSERT INTO sync_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
      getDoc: p('SELECT * FROM documents WHERE id = ?'),
      listLive: p('SELECT * FROM documents WHERE deleted = 0 ORDER BY created_at, id'),
      listAll: p('SELECT * FROM documents ORDER BY created_at, id'),
      countLive: p('SELECT count(*) FROM documents WHERE deleted = 0').pluck(),
      allIds: p('SELECT id FROM documents').pluck(),
      putDoc: p(`INSERT INTO documents (id, base_content, base_revision, base_deleted, known_revision, content, deleted, title, created_at, updated_at, deleted_at)
                 VALUES (@id, @base_content, @base_revision, @base_deleted, @known_revision, @content, @deleted, @title, @created_at, @updated_at, @deleted_at)
                 ON CONFLICT (id) DO UPDATE SET base_content = excluded.base_content, base_revision = excluded.base_revision, base_deleted = excluded.base_deleted,
                   known_revision = excluded.known_revision, content = excluded.content, deleted = excluded.deleted, title = excluded.title,
                   created_at = excluded.created_at, updated_at = excluded.updated_at, deleted_at = excluded.deleted_at`),
      deleteDoc: p('DELETE FROM documents WHERE id = ?'),
      addOutbox: p('INSERT INTO outbox (mutation_id, document_id, kind, payload, created_at) VALUES (?, ?, ?, ?, ?)'),
      outboxForDoc: p('SELECT * FROM outbox WHERE document_id = ? ORDER BY seq'),
      outboxByMutation: p('SELECT * FROM outbox WHERE mutation_id = ?'),
      outboxHeads: p(`SELECT o.* FROM outbox o WHERE o.acked_sequence IS NULL AND o.seq = (
                        SELECT min(seq) FROM outbox i WHERE i.document_id = o.document_id AND i.acked_sequence IS NULL)
                      ORDER BY o.seq LIMIT ?`),
      removeOutbox: p('DELETE FROM outbox WHERE mutation_id = ?'),
      ackOutbox: p('UPDATE outbox SET acked_sequence = ? WHERE mutation_id = ?'),
      ackedUpTo: p('SELECT * FROM outbox WHERE acked_sequence IS NOT NULL AND acked_sequence <= ?'),
      setSent: p('UPDATE outbox SET sent_message = ? WHERE mutation_id = ? AND sent_message IS NULL'),
      pendingCount: p('SELECT count(*) FROM outbox WHERE acked_sequence IS NULL').pluck(),
      outboxCount: p('SELECT count(*) FROM outbox').pluck(),
      pendingForDoc: p('SELECT count(*) FROM outbox WHERE document_id = ? AND acked_sequence IS NULL').pluck(),
      addHistory: p(`INSERT INTO history (document_id, origin, kind, forward, reverse, mutation_id, sequence, sync_revision, undone, redoable, created_at)
                     VALUES (@document_id, @origin, @kind, @forward, @reverse, @mutation_id, @sequence, @sync_revision, 0, 0, @created_at)`),
      historyFor: p('SELECT * FROM history WHERE document_id = ? ORDER BY id'),
      historyAfter: p('SELECT * FROM history WHERE document_id = ? AND id > ? ORDER BY id'),
      latestUndoable: p(`SELECT * FROM history WHERE document_id = ? AND origin IN ('local', 'redo') AND undone = 0 ORDER BY id DESC LIMIT 1`),
      // redoable > 0 orders the redo stack: the change undone last is redone first.
      latestRedoable: p('SELECT * FROM history WHERE document_id = ? AND redoable > 0 ORDER BY redoable DESC LIMIT 1'),
      markUndone: p(`UPDATE history SET undone = 1,
                       redoable = (SELECT coalesce(max(redoable), 0) + 1 FROM history WHERE document_id = (SELECT document_id FROM history WHERE id = @id))
                     WHERE id = @id`),
      markRedone: p('UPDATE history SET redoable = 0 WHERE id = ?'),
      clearRedo: p('UPDATE history SET redoable = 0 WHERE document_id = ? AND redoable > 0'),
      addConflict: p(`INSERT INTO conflicts (document_id, mutation_id, kind, reason, message, rejected, server_document, created_at)
                      VALUES (@document_id, @mutation_id, @kind, @reason, @message, @rejected, @server_document, @created_at)`),
      listConflicts: p('SELECT * FROM conflicts ORDER BY id'),
    };
  }

  static open(path: string, opts: StoreOptions): LocalStore {
    const key = path === ':memory:' ? `:memory:${Math.random()}` : path;
    if (openInProcess.has(key)) throw new SyncError('locked', `${path} is already open by another engine in this process`);
    let db: Database.Database;
    try {
      db = new Database(path, { timeout: 0, ...(opts.nativeBinding ? { nativeBinding: opts.nativeBinding } : {}) });
    } catch (err) {
      throw new SyncError('database', `cannot open ${path}: ${(err as Error).message}`, { cause: err });
    }
    try {
      // Exclusive locking: a second engine, in this process or another, is refused rather than
      // interleaving its writes; the OS releases the lock if this process dies.
      db.pragma('locking_mode = EXCLUSIVE');
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${opts.durability === 'full' ? 'FULL' : 'NORMAL'}`);
      db.pragma('foreign_keys = ON');
      db.exec('BEGIN IMMEDIATE; COMMIT;');
      migrate(db);
    } catch (err) {
      db.close();
      const busy = /locked|busy/i.test((err as Error).message);
      throw new SyncError(busy ? 'locked' : 'database', busy ? `${path} is in use by another engine (another process holds it)` : `cannot open ${path}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    openInProcess.add(key);
    const store = new LocalStore(key, db);
    return store;
  }

  close(): void {
    openInProcess.delete(this.path);
    this.db.close();
  }

  transaction<T>(fn: () => T): T {
    return this.runInTransaction(fn) as T;
  }

  getState(key: string): string | undefined {
    return this.s.getState.get(key) as string | undefined;
  }

  setState(key: string, value: string): void {
    this.s.setState.run(key, value);
  }

  getDocument(id: string): DocumentRecord | undefined {
    return this.s.getDoc.get(id) as DocumentRecord | undefined;
  }

  listDocuments(includeDeleted: boolean): DocumentRecord[] {
    return (includeDeleted ? this.s.listAll : this.s.listLive).all() as DocumentRecord[];
  }

  countDocuments(): number {
    return this.s.countLive.get() as number;
  }

  documentIds(): string[] {
    return this.s.allIds.all() as string[];
  }

  putDocument(d: DocumentRecord): void {
    this.s.putDoc.run(d);
  }

  removeDocument(id: string): void {
    this.s.deleteDoc.run(id);
  }

  addOutbox(mutationId: string, documentId: string, kind: MutationKind, payload: string | null, at: string): void {
    this.s.addOutbox.run(mutationId, documentId, kind, payload, at);
  }

  outboxFor(documentId: string): OutboxEntry[] {
    return this.s.outboxForDoc.all(documentId) as OutboxEntry[];
  }

  outboxEntry(mutationId: string): OutboxEntry | undefined {
    return this.s.outboxByMutation.get(mutationId) as OutboxEntry | undefined;
  }

  /** The oldest unanswered entry of each document, oldest first: what may be sent next. */
  outboxHeads(limit: number): OutboxEntry[] {
    return this.s.outboxHeads.all(limit) as OutboxEntry[];
  }

  removeOutbox(mutationId: string): void {
    this.s.removeOutbox.run(mutationId);
  }

  ackOutbox(mutationId: string, sequence: number): void {
    this.s.ackOutbox.run(sequence, mutationId);
  }

  ackedUpTo(sequence: number): OutboxEntry[] {
    return this.s.ackedUpTo.all(sequence) as OutboxEntry[];
  }

  setSentMessage(mutationId: string, message: string): void {
    this.s.setSent.run(message, mutationId);
  }

  pendingCount(): number {
    return this.s.pendingCount.get() as number;
  }

  outboxCount(): number {
    return this.s.outboxCount.get() as number;
  }

  pendingFor(documentId: string): number {
    return this.s.pendingForDoc.get(documentId) as number;
  }

  addHistory(h: Omit<HistoryRecord, 'id' | 'undone' | 'redoable'>): number {
    return Number(this.s.addHistory.run(h).lastInsertRowid);
  }

  history(documentId: string): HistoryRecord[] {
    return this.s.historyFor.all(documentId) as HistoryRecord[];
  }

  historyAfter(documentId: string, id: number): HistoryRecord[] {
    return this.s.historyAfter.all(documentId, id) as HistoryRecord[];
  }

  latestUndoable(documentId: string): HistoryRecord | undefined {
    return this.s.latestUndoable.get(documentId) as HistoryRecord | undefined;
  }

  latestRedoable(documentId: string): HistoryRecord | undefined {
    return this.s.latestRedoable.get(documentId) as HistoryRecord | undefined;
  }

  markUndone(id: number): void {
    this.s.markUndone.run({ id });
  }

  markRedone(id: number): void {
    this.s.markRedone.run(id);
  }

  clearRedo(documentId: string): void {
    this.s.clearRedo.run(documentId);
  }

  addConflict(c: Omit<ConflictRecordRow, 'id'>): void {
    this.s.addConflict.run(c);
  }

  conflicts(): ConflictRecordRow[] {
    return this.s.listConflicts.all() as ConflictRecordRow[];
  }
}
