import { statSync } from 'node:fs';
import Database from 'better-sqlite3-multiple-ciphers';
import { SyncError } from '../errors.js';
import { applyKey, checkEncryptionKey, forgetInterruptedRekey, formToOpen, isNotADatabase, rekeyDatabase, wrongKey, type EncryptionKey } from './encryption.js';
import { migrate } from './schema.js';

import type { ChangeOrigin, MutationKind } from '../change-kinds.js';

export type { ChangeOrigin, MutationKind };

/** The local view of a document: what the API returns. */
export interface ViewRow {
  id: string;
  content: string;
  deleted: number;
  title: string | null;
  revision: number | null;
  pending: number;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
}

/** The server's version of a document, as far as the applied stream shows it. */
export interface BaseRow {
  id: string;
  content: string | null;
  revision: number;
  deleted: number;
  given_title: string | null;
}

/** Change states: in the outbox waiting for an answer, answered but not yet in the stream, history only. */
export const QUEUED = 0;
export const ANSWERED = 1;
export const SETTLED = 2;

export interface ChangeRow {
  seq: number;
  document_id: string;
  origin: ChangeOrigin;
  kind: MutationKind;
  forward: string | null;
  reverse: string | null;
  mutation_id: string | null;
  state: number;
  sent_base: number | null;
  acked_sequence: number | null;
  sequence: number | null;
  sync_revision: number | null;
  undone: number;
  redoable: number;
  created_at: string;
}

export type NewChange = Pick<ChangeRow, 'document_id' | 'origin' | 'kind' | 'forward' | 'reverse' | 'mutation_id' | 'state' | 'sequence' | 'sync_revision' | 'created_at'> & {
  /** Its seq; absent: the next one. */
  seq?: number;
};

/** An outbox change without its payloads. */
export type OutboxRow = Pick<ChangeRow, 'seq' | 'document_id' | 'kind' | 'state' | 'sent_base' | 'acked_sequence' | 'sync_revision'> & { mutation_id: string };

export interface ConflictRow {
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

/** Told of each view write inside its transaction (see onViewWritten). */
export type ViewListener = (id: string, view: ViewRow | undefined) => void;

export interface StoreOptions {
  durability: 'normal' | 'full';
  /** A better-sqlite3 native build to load (the embedded runtime needs one for its own ABI). */
  nativeBinding?: string;
  /** Encrypts the file (see encryption.ts); a plain file opened with a key is encrypted first. */
  encryptionKey?: EncryptionKey | null;
}

/**
 * Past this WAL size a checkpoint runs between writes even while they go on; below it, only when
 * they pause. On the engine's connection it is large, since that checkpoint stops the engine for
 * its length; one run elsewhere (checkpointWith) blocks nothing, so it keeps the log small.
 */
const WAL_HARD_LIMIT_BYTES = 64 * 1024 * 1024;
const WAL_LIMIT_ELSEWHERE_BYTES = 4 * 1024 * 1024;
/** How often the WAL's size is checked against that limit, in commits. */
const WAL_CHECK_EVERY = 512;
/** How long writes must pause before the WAL is checkpointed. */
const IDLE_CHECKPOINT_MS = 250;

/**
 * The engine's SQLite file: document views and bases, changes (outbox and history in one row),
 * conflicts and sync state, behind prepared statements. Every method is synchronous and short.
 *
 * One engine per file: a second connection holding `<file>-lock` exclusively (released by the OS
 * if the process dies) keeps other engines out, while the data file itself stays readable by
 * other connections (the C SDK answers reads on its own connection). WAL checkpoints never run
 * inside a write: they wait until writes pause.
 */
export class LocalStore {
  readonly db: Database.Database;
  private readonly lock: Database.Database;
  private readonly s;
  private readonly runInTransaction: (fn: () => unknown) => unknown;
  /** Undo steps for in-memory state changed inside the current transaction (see onRollback). */
  private readonly undo: (() => void)[] = [];
  /** Writes due just before the outermost transaction commits (see beforeCommit). */
  private readonly atCommit: (() => void)[] = [];
  /** Transactions open (nested ones are savepoints). */
  private depth = 0;
  private readonly idleTimer: NodeJS.Timeout;
  /** The highest seq of any change (read once, then kept as changes are added). */
  private seqCounter: number | undefined;
  /** Documents with changes on their redo stack (read once, then kept). */
  private redoDocuments: Set<string> | undefined;
  private readonly viewListeners: ViewListener[] = [];
  /** Commits since the last checkpoint, and when the latest was. */
  private commits = 0;
  private lastCommit = 0;
  private closed = false;
  private encrypted = false;
  /** Runs checkpoints on another connection (see checkpointWith); undefined: this one does. */
  private checkpointElsewhere: (() => void) | undefined;

  private constructor(
    readonly path: string,
    db: Database.Database,
    lock: Database.Database,
  ) {
    this.db = db;
    this.lock = lock;
    this.runInTransaction = db.transaction((fn: () => unknown) => fn());
    this.idleTimer = setInterval(() => {
      if (this.commits > 0 && Date.now() - this.lastCommit >= IDLE_CHECKPOINT_MS) this.checkpoint();
    }, IDLE_CHECKPOINT_MS);
    this.idleTimer.unref();
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      getState: p('SELECT value FROM sync_state WHERE key = ?').pluck(),
      setState: p('INSERT INTO sync_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
      getView: p('SELECT * FROM views WHERE id = ?'),
      revisionOf: p('SELECT revision FROM views WHERE id = ?').pluck(),
      listLive: p('SELECT * FROM views WHERE deleted = 0 ORDER BY created_at, id'),
      listAll: p('SELECT * FROM views ORDER BY created_at, id'),
      countLive: p('SELECT count(*) FROM views WHERE deleted = 0').pluck(),
      viewIds: p('SELECT id FROM views').pluck(),
      // insertView and addChange take positional parameters: they run for every created document, and
      // binding by name costs a property lookup per column (a tenth of a bulk create's CPU).
      insertView: p(`INSERT INTO views (id, content, deleted, title, revision, pending, created_at, updated_at, deleted_at)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      putView: p(`INSERT INTO views (id, content, deleted, title, revision, pending, created_at, updated_at, deleted_at)
                  VALUES (@id, @content, @deleted, @title, @revision, @pending, @created_at, @updated_at, @deleted_at)
                  ON CONFLICT (id) DO UPDATE SET content = excluded.content, deleted = excluded.deleted, title = excluded.title,
                    revision = excluded.revision, pending = excluded.pending, created_at = excluded.created_at,
                    updated_at = excluded.updated_at, deleted_at = excluded.deleted_at`),
      deleteView: p('DELETE FROM views WHERE id = ?'),
      getBase: p('SELECT * FROM bases WHERE id = ?'),
      putBase: p(`INSERT INTO bases (id, content, revision, deleted, given_title) VALUES (@id, @content, @revision, @deleted, @given_title)
                  ON CONFLICT (id) DO UPDATE SET content = excluded.content, revision = excluded.revision, deleted = excluded.deleted,
                    given_title = excluded.given_title`),
      deleteBase: p('DELETE FROM bases WHERE id = ?'),
      addChange: p(`INSERT INTO changes (seq, document_id, origin, kind, forward, reverse, mutation_id, state, sequence, sync_revision, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      getChange: p('SELECT * FROM changes WHERE seq = ?'),
      outboxIds: p(`SELECT seq, mutation_id, state FROM changes WHERE seq >= ? AND state < ${SETTLED}`),
      outboxAfter: p(`SELECT seq, document_id, kind, mutation_id, state, sent_base, acked_sequence, sync_revision FROM changes WHERE seq > ? AND state < ${SETTLED} ORDER BY seq LIMIT ?`),
      lastSeq: p('SELECT max(seq) FROM changes').pluck(),
      outboxOf: p(`SELECT * FROM changes WHERE document_id = ? AND state < ${SETTLED} ORDER BY seq`),
      setSent: p('UPDATE changes SET sent_base = ? WHERE seq = ?'),
      answer: p(`UPDATE changes SET state = ${ANSWERED}, acked_sequence = ?, sync_revision = ? WHERE seq = ?`),
      settle: p(`UPDATE changes SET state = ${SETTLED}, sequence = coalesce(?, sequence), sync_revision = coalesce(?, sync_revision) WHERE seq = ?`),
      historyOf: p('SELECT * FROM changes WHERE document_id = ? ORDER BY seq'),
      historyAfter: p('SELECT * FROM changes WHERE document_id = ? AND seq > ? ORDER BY seq'),
      latestUndoable: p(`SELECT * FROM changes WHERE document_id = ? AND origin IN ('local', 'redo') AND undone = 0 ORDER BY seq DESC LIMIT 1`),
      // redoable > 0 orders the redo stack: the change undone last is redone first.
      latestRedoable: p('SELECT * FROM changes WHERE document_id = ? AND redoable > 0 ORDER BY redoable DESC LIMIT 1'),
      markUndone: p(`UPDATE changes SET undone = 1,
                       redoable = (SELECT coalesce(max(redoable), 0) + 1 FROM changes WHERE document_id = (SELECT document_id FROM changes WHERE seq = @seq))
                     WHERE seq = @seq`),
      markRedone: p('UPDATE changes SET redoable = 0 WHERE seq = ?'),
      clearRedo: p('UPDATE changes SET redoable = 0 WHERE document_id = ? AND redoable > 0'),
      redoDocuments: p('SELECT DISTINCT document_id FROM changes WHERE redoable > 0').pluck(),
      addConflict: p(`INSERT INTO conflicts (document_id, mutation_id, kind, reason, message, rejected, server_document, created_at)
                      VALUES (@document_id, @mutation_id, @kind, @reason, @message, @rejected, @server_document, @created_at)`),
      listConflicts: p('SELECT * FROM conflicts ORDER BY id'),
    };
  }

  static open(path: string, opts: StoreOptions): LocalStore {
    const key = opts.encryptionKey ?? null;
    checkEncryptionKey(key, 'encryptionKey');
    const binding = opts.nativeBinding ? { nativeBinding: opts.nativeBinding } : {};
    const lock = lockFile(path, binding);
    let db: Database.Database;
    try {
      db = new Database(path, { timeout: 1000, ...binding });
    } catch (err) {
      lock.close();
      throw new SyncError('database', `cannot open ${path}: ${(err as Error).message}`, { cause: err });
    }
    let encrypted = false;
    try {
      encrypted = openKeyed(db, path, key);
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${opts.durability === 'full' ? 'FULL' : 'NORMAL'}`);
      db.pragma('foreign_keys = ON');
      // Checkpoints (an fsync with synchronous=NORMAL) are run by the engine when writes pause.
      db.pragma('wal_autocheckpoint = 0');
      // The WAL file shrinks back when a checkpoint lets it restart, so its size tells how much waits.
      db.pragma('journal_size_limit = 0');
      migrate(db);
    } catch (err) {
      db.close();
      lock.close();
      if (err instanceof SyncError) throw err;
      throw new SyncError('database', `cannot open ${path}: ${(err as Error).message}`, { cause: err });
    }
    const store = new LocalStore(path, db, lock);
    store.encrypted = encrypted;
    return store;
  }

  /** Whether the file is encrypted (opened with a key, or rekeyed to one). */
  isEncrypted(): boolean {
    return this.encrypted;
  }

  /**
   * Encrypts the file with `key`, re-encrypts it, or (null) decrypts it, in place and crash-safely
   * (see rekeyDatabase). Synchronous: nothing else runs on this thread until it is done.
   */
  rekey(key: EncryptionKey | null): void {
    checkEncryptionKey(key, 'rekey\'s key');
    if (this.closed) throw new SyncError('closed', 'the store is closed');
    if (this.path === ':memory:') throw new SyncError('invalid_input', 'an in-memory database cannot be encrypted');
    if (key === null && !this.encrypted) return;
    rekeyDatabase(this.db, this.path, this.encrypted ? 'encrypted' : 'plain', key);
    this.encrypted = key !== null;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.idleTimer);
    this.db.pragma('wal_checkpoint(TRUNCATE)');
    this.db.close();
    this.lock.close();
  }

  /**
   * Runs `fn` in a transaction (a savepoint when nested). If it throws, the database changes are
   * rolled back, and so is in-memory state that registered its undo with `onRollback`.
   */
  transaction<T>(fn: () => T): T {
    const mark = this.undo.length;
    this.depth++;
    try {
      return this.runInTransaction(() => {
        const result = fn();
        if (this.depth === 1) for (const write of this.atCommit.splice(0)) write();
        return result;
      }) as T;
    } catch (err) {
      for (const step of this.undo.splice(mark).reverse()) step();
      throw err;
    } finally {
      this.depth--;
      if (!this.db.inTransaction) {
        this.undo.length = 0;
        this.atCommit.length = 0;
        this.wrote();
      }
    }
  }

  /**
   * Runs `write` once, inside the outermost transaction just before it commits (at once when no
   * transaction is open): state written for every change of a slice is then written once per slice.
   */
  beforeCommit(write: () => void): void {
    if (this.depth === 0) write();
    else if (!this.atCommit.includes(write)) this.atCommit.push(write);
  }

  /** In-memory state just changed inside the current transaction: `revert` undoes it if the transaction rolls back. */
  onRollback(revert: () => void): void {
    if (this.db.inTransaction) this.undo.push(revert);
  }

  get inTransaction(): boolean {
    return this.db.inTransaction;
  }

  /**
   * A write committed. The WAL is checkpointed once writes pause (the idle timer); only a WAL
   * past its hard limit — writes that never pause — is checkpointed right after a commit.
   */
  private wrote(): void {
    this.lastCommit = Date.now();
    const limit = this.checkpointElsewhere ? WAL_LIMIT_ELSEWHERE_BYTES : WAL_HARD_LIMIT_BYTES;
    if (++this.commits % WAL_CHECK_EVERY === 0 && this.walBytes() > limit) this.checkpoint();
  }

  private checkpoint(): void {
    if (this.closed || this.db.inTransaction) return;
    this.commits = 0;
    if (this.checkpointElsewhere) this.checkpointElsewhere();
    else this.db.pragma('wal_checkpoint(PASSIVE)');
  }

  /**
   * From now on `run()` checkpoints the WAL — a PASSIVE checkpoint on a connection of its own, on
   * another thread — whenever this store would; it must return at once. The log restarts at this
   * connection's first write after such a checkpoint copied all of it. close() still checkpoints
   * here (TRUNCATE), as the file's last connection.
   */
  checkpointWith(run: () => void): void {
    this.checkpointElsewhere = run;
  }

  private walBytes(): number {
    try {
      return statSync(`${this.path}-wal`).size;
    } catch {
      return 0;
    }
  }

  getState(key: string): string | undefined {
    return this.s.getState.get(key) as string | undefined;
  }

  setState(key: string, value: string): void {
    this.s.setState.run(key, value);
  }

  getView(id: string): ViewRow | undefined {
    return this.s.getView.get(id) as ViewRow | undefined;
  }

  /** The newest server revision known of a document; null or undefined when none. */
  revisionOf(id: string): number | null | undefined {
    return this.s.revisionOf.get(id) as number | null | undefined;
  }

  listViews(includeDeleted: boolean): ViewRow[] {
    return (includeDeleted ? this.s.listAll : this.s.listLive).all() as ViewRow[];
  }

  countLive(): number {
    return this.s.countLive.get() as number;
  }

  viewIds(): string[] {
    return this.s.viewIds.all() as string[];
  }

  /** A view of a document that has none yet (cheaper than an upsert). */
  insertView(v: ViewRow): void {
    this.s.insertView.run(v.id, v.content, v.deleted, v.title, v.revision, v.pending, v.created_at, v.updated_at, v.deleted_at);
    this.viewWritten(v.id, v);
  }

  putView(v: ViewRow): void {
    this.s.putView.run(v);
    this.viewWritten(v.id, v);
  }

  deleteView(id: string): void {
    this.s.deleteView.run(id);
    this.viewWritten(id, undefined);
  }

  /**
   * Calls `listener(id, view)` inside the transaction of every view write (undefined: the row is
   * gone): query indexes and live queries follow the views in the same transaction.
   */
  onViewWritten(listener: ViewListener): () => void {
    this.viewListeners.push(listener);
    return () => this.viewListeners.splice(this.viewListeners.indexOf(listener), 1);
  }

  private viewWritten(id: string, view: ViewRow | undefined): void {
    for (const listener of this.viewListeners) listener(id, view);
  }

  getBase(id: string): BaseRow | undefined {
    return this.s.getBase.get(id) as BaseRow | undefined;
  }

  putBase(b: BaseRow): void {
    this.s.putBase.run(b);
  }

  deleteBase(id: string): void {
    this.s.deleteBase.run(id);
  }

  /** The seq the next change gets. */
  nextSeq(): number {
    return this.lastSeq() + 1;
  }

  addChange(c: NewChange): number {
    const seq = c.seq ?? this.nextSeq();
    this.s.addChange.run(seq, c.document_id, c.origin, c.kind, c.forward, c.reverse, c.mutation_id, c.state, c.sequence, c.sync_revision, c.created_at);
    this.seqCounter = seq;
    return seq;
  }

  getChange(seq: number): ChangeRow | undefined {
    return this.s.getChange.get(seq) as ChangeRow | undefined;
  }

  /** A seq no outbox entry is below. */
  outboxFrom(): number {
    return Number(this.getState('outbox_from') ?? 0);
  }

  /** Ids and states of every outbox change (read once, at open). */
  outboxIds(): IterableIterator<Pick<OutboxRow, 'seq' | 'mutation_id' | 'state'>> {
    return this.s.outboxIds.iterate(this.outboxFrom()) as IterableIterator<Pick<OutboxRow, 'seq' | 'mutation_id' | 'state'>>;
  }

  /** Up to `limit` outbox changes after seq `after`, oldest first, without payloads. */
  outboxAfter(after: number, limit: number): OutboxRow[] {
    return this.s.outboxAfter.all(after, limit) as OutboxRow[];
  }

  /** No outbox entry is below `seq` (so the next open reads from there). */
  setOutboxFrom(seq: number): void {
    this.setState('outbox_from', String(seq));
  }

  /** The highest seq a change has had (0: none). */
  lastSeq(): number {
    // Every change is added through this store, so after the first read the highest seq is known.
    if (this.seqCounter === undefined) this.seqCounter = (this.s.lastSeq.get() as number | null) ?? 0;
    return this.seqCounter;
  }

  /** One document's changes still in the outbox, oldest first, with payloads. */
  outboxOf(documentId: string): ChangeRow[] {
    return this.s.outboxOf.all(documentId) as ChangeRow[];
  }

  setSent(seq: number, base: number): void {
    this.s.setSent.run(base, seq);
  }

  /** The server answered change `seq`: it committed it at `sequence`, as the document's revision `syncRevision`. */
  answer(seq: number, sequence: number, syncRevision: number): void {
    this.s.answer.run(sequence, syncRevision, seq);
  }

  /** The change left the outbox; a sequence and revision, when known, go into its history entry. */
  settle(seq: number, sequence: number | null = null, syncRevision: number | null = null): void {
    this.s.settle.run(sequence, syncRevision, seq);
  }

  history(documentId: string): ChangeRow[] {
    return this.s.historyOf.all(documentId) as ChangeRow[];
  }

  historyAfter(documentId: string, seq: number): ChangeRow[] {
    return this.s.historyAfter.all(documentId, seq) as ChangeRow[];
  }

  latestUndoable(documentId: string): ChangeRow | undefined {
    return this.s.latestUndoable.get(documentId) as ChangeRow | undefined;
  }

  latestRedoable(documentId: string): ChangeRow | undefined {
    return this.s.latestRedoable.get(documentId) as ChangeRow | undefined;
  }

  markUndone(seq: number): void {
    this.s.markUndone.run({ seq });
    const id = this.getChange(seq)!.document_id;
    const docs = this.redoStack();
    if (docs.has(id)) return;
    docs.add(id);
    this.onRollback(() => docs.delete(id));
  }

  markRedone(seq: number): void {
    this.s.markRedone.run(seq);
  }

  /** A new local change of the document: nothing undone before it can be redone any more. */
  clearRedo(documentId: string): void {
    const docs = this.redoStack();
    if (!docs.has(documentId)) return;
    this.s.clearRedo.run(documentId);
    docs.delete(documentId);
    this.onRollback(() => docs.add(documentId));
  }

  private redoStack(): Set<string> {
    this.redoDocuments ??= new Set(this.s.redoDocuments.all() as string[]);
    return this.redoDocuments;
  }

  addConflict(c: Omit<ConflictRow, 'id'>): void {
    this.s.addConflict.run(c);
  }

  conflicts(): ConflictRow[] {
    return this.s.listConflicts.all() as ConflictRow[];
  }
}

/**
 * Keys `db` (fresh, nothing read yet) for the file's form, and reads the schema once: a wrong key
 * fails here. A plain file opened with a key is encrypted before anything else runs. An interrupted
 * rekey's journal is rolled back by that first read, in the form it was written in. Answers
 * whether the file is now encrypted.
 */
function openKeyed(db: Database.Database, path: string, key: EncryptionKey | null): boolean {
  if (key !== null && path === ':memory:') throw new SyncError('invalid_input', 'an in-memory database cannot be encrypted');
  const form = formToOpen(path);
  if (form === 'encrypted' && key === null) throw wrongKey(path, form, false);
  if (key !== null && form !== 'plain') applyKey(db, key);
  try {
    db.prepare('SELECT count(*) FROM sqlite_schema').pluck().get();
  } catch (err) {
    if (isNotADatabase(err)) throw wrongKey(path, form, key !== null);
    throw err;
  }
  forgetInterruptedRekey(path);
  if (key !== null && form === 'plain') rekeyDatabase(db, path, 'plain', key);
  return key !== null;
}

/**
 * Takes `<path>-lock`, an SQLite file held with an exclusive lock for the engine's lifetime: a
 * second engine on `path`, in this process or another, is refused with `locked`.
 */
function lockFile(path: string, binding: { nativeBinding?: string }): Database.Database {
  const lockPath = path === ':memory:' ? ':memory:' : `${path}-lock`;
  let lock: Database.Database;
  try {
    lock = new Database(lockPath, { timeout: 0, ...binding });
  } catch (err) {
    throw new SyncError('database', `cannot open ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    lock.pragma('locking_mode = EXCLUSIVE');
    lock.exec('BEGIN EXCLUSIVE; COMMIT;');
  } catch (err) {
    lock.close();
    const busy = /locked|busy/i.test((err as Error).message);
    throw new SyncError(busy ? 'locked' : 'database', busy ? `${path} is in use by another engine` : `cannot open ${path}: ${(err as Error).message}`, { cause: err });
  }
  return lock;
}
