import { randomBytes } from 'node:crypto';
import { QUEUED, SETTLED, type ChangeRow, type LocalStore, type MutationKind, type NewChange, type OutboxRow } from '../storage/local-store.js';

/** A change in the outbox, as the sender and the replica track it (payloads stay in the database). */
export interface OutboxEntry {
  seq: number;
  documentId: string;
  kind: MutationKind;
  mutationId: string;
  /** The stream sequence the server answered with; null while unanswered. */
  ackedSequence: number | null;
  /**
   * The document revision the server gave the change, once answered (null before, and for entries
   * answered by an engine that did not record it): a base at this revision or later holds the change.
   */
  ackedRevision: number | null;
  /** The base revision the first send carried (-1: none); null when never sent. */
  sentBase: number | null;
}

/** The oldest outbox entries held in memory (what may be sent next); the rest wait in the database for their turn. */
const WINDOW = 4096;

/**
 * The outbox: the changes whose state is below SETTLED. Memory holds only a window of the oldest
 * entries — everything sent, answered or about to be sent is in it — so a backlog of any size
 * costs a bounded amount of memory. Mutation ids are this engine's random prefix followed by the
 * change's seq, so an id in the stream is known as ours, and its entry found, without an index.
 * Every method writes the database and memory together; inside a transaction the memory change is
 * undone if the transaction rolls back.
 */
export class Outbox {
  /** The window, in seq order (the oldest first). */
  private readonly window = new Map<number, OutboxEntry>();
  private readonly byDocument = new Map<string, OutboxEntry[]>();
  /** Each document's oldest unanswered entry in the window, in the order they became heads: what may be sent next. */
  private readonly headsByDocument = new Map<string, OutboxEntry>();
  /** Answered entries (all in the window: only window entries are sent), by ascending acked sequence. */
  private readonly answered: OutboxEntry[] = [];
  /** Every outbox entry with a seq up to here is in the window. */
  private loadedThrough: number;
  /** The highest seq of any change. */
  private newest: number;
  private windowMax = 0;
  private total = 0;
  private unanswered = 0;
  private readonly prefix: string;
  /** Entries of migrated files, whose ids are not derived from their seq. */
  private readonly legacy = new Map<string, number>();

  constructor(private readonly store: LocalStore) {
    let prefix = store.getState('mutation_prefix');
    if (!prefix) store.setState('mutation_prefix', (prefix = randomBytes(10).toString('hex')));
    this.prefix = `${prefix.slice(0, 8)}-${prefix.slice(8, 12)}-${prefix.slice(12, 16)}-${prefix.slice(16, 20)}-`;
    for (const row of store.outboxIds()) {
      this.total++;
      if (row.state === QUEUED) this.unanswered++;
      if (!row.mutation_id.startsWith(this.prefix)) this.legacy.set(row.mutation_id, row.seq);
    }
    this.newest = store.lastSeq();
    this.loadedThrough = store.outboxFrom() - 1;
    this.refill();
    if (this.total === 0) store.setOutboxFrom(this.newest + 1);
  }

  /** Adds a local change to the outbox (and to history: it is one row). */
  add(change: Omit<NewChange, 'state' | 'sequence' | 'sync_revision' | 'mutation_id'>): OutboxEntry {
    const seq = this.store.nextSeq();
    const mutationId = `${this.prefix}${seq.toString(16).padStart(12, '0')}`;
    this.store.addChange({ ...change, seq, mutation_id: mutationId, state: QUEUED, sequence: null, sync_revision: null });
    const entry: OutboxEntry = { seq, documentId: change.document_id, kind: change.kind, mutationId, ackedSequence: null, ackedRevision: null, sentBase: null };
    const before = { newest: this.newest, loadedThrough: this.loadedThrough };
    const inWindow = this.loadedThrough >= this.newest && this.window.size < WINDOW;
    this.newest = seq;
    this.total++;
    this.unanswered++;
    if (inWindow) {
      this.loadedThrough = seq;
      this.index(entry);
    }
    this.store.onRollback(() => {
      if (inWindow) this.unindex(entry);
      this.newest = before.newest;
      this.loadedThrough = before.loadedThrough;
      this.total--;
      this.unanswered--;
    });
    return entry;
  }

  get size(): number {
    return this.total;
  }

  /** Entries the server has not answered. */
  get pending(): number {
    return this.unanswered;
  }

  /** The outbox entry of a mutation id, or undefined (not ours, or no longer in the outbox). */
  entry(mutationId: string): OutboxEntry | undefined {
    const seq = mutationId.startsWith(this.prefix) ? Number.parseInt(mutationId.slice(this.prefix.length), 16) : this.legacy.get(mutationId);
    return seq === undefined ? undefined : this.at(seq);
  }

  /** The outbox entry of change `seq`, or undefined when it is not in the outbox. */
  at(seq: number): OutboxEntry | undefined {
    const held = this.window.get(seq);
    if (held || seq <= this.loadedThrough) return held;
    const row = this.store.getChange(seq);
    return row && row.state < SETTLED && row.origin !== 'remote' ? this.toEntry(row as OutboxRow) : undefined;
  }

  /** One document's entries with their payloads, oldest first. */
  rowsOf(documentId: string): ChangeRow[] {
    // With the whole outbox in the window, the window knows which documents have entries.
    const all = this.loadedThrough >= this.newest;
    return this.total === 0 || (all && !this.byDocument.has(documentId)) ? [] : this.store.outboxOf(documentId);
  }

  /** Whether `entry` is its document's oldest unanswered entry (what may be sent for it next). */
  isHead(entry: OutboxEntry): boolean {
    return this.headsByDocument.get(entry.documentId) === entry;
  }

  heads(): IterableIterator<OutboxEntry> {
    return this.headsByDocument.values();
  }

  /**
   * Whether an unanswered entry is in the window. Every entry ever sent (in this process or an
   * earlier one) is in the window: it holds the oldest entries, and entries only leave it by
   * settling. So when none there is unanswered, nothing unanswered has ever reached the server.
   */
  get unansweredHeld(): boolean {
    return this.headsByDocument.size > 0;
  }

  markSent(entry: OutboxEntry, base: number): void {
    this.store.setSent(entry.seq, base);
    entry.sentBase = base;
    this.store.onRollback(() => (entry.sentBase = null));
  }

  /**
   * The server answered: the entry stays in the view until the stream reaches `sequence` (or a
   * base at `revision` arrives). An entry is answered once: a repeated answer (the server replays
   * its stored reply to a resend) changes nothing and returns false.
   */
  answer(entry: OutboxEntry, sequence: number, revision: number): boolean {
    if (entry.ackedSequence !== null) return false;
    this.store.answer(entry.seq, sequence, revision);
    this.setAnswered(entry, sequence, revision);
    this.store.onRollback(() => this.setAnswered(entry, null, null));
    return true;
  }

  /** The entry leaves the outbox; it stays in history, with the sequence and revision when known. */
  settle(entry: OutboxEntry, sequence: number | null = null, syncRevision: number | null = null): void {
    // Settled already (every entry up to loadedThrough that is still in the outbox is in the window).
    if (entry.seq <= this.loadedThrough && !this.window.has(entry.seq)) return;
    const oldest = this.window.keys().next().value === entry.seq;
    const held = this.window.has(entry.seq);
    this.store.settle(entry.seq, sequence ?? entry.ackedSequence, syncRevision);
    if (held) this.unindex(entry);
    this.total--;
    if (entry.ackedSequence === null) this.unanswered--;
    const legacy = this.legacy.delete(entry.mutationId);
    this.store.onRollback(() => {
      if (legacy) this.legacy.set(entry.mutationId, entry.seq);
      if (held) this.index(entry);
      this.total++;
      if (entry.ackedSequence === null) this.unanswered++;
    });
    if (this.window.size < WINDOW / 2) this.refill();
    // The oldest entry left: the next open reads the outbox from the oldest that remains.
    if (oldest) this.store.setOutboxFrom(this.window.keys().next().value ?? this.loadedThrough + 1);
  }

  /** Answered entries whose sequence the stream has reached. */
  answeredUpTo(sequence: number): OutboxEntry[] {
    let n = 0;
    while (n < this.answered.length && this.answered[n]!.ackedSequence! <= sequence) n++;
    return this.answered.slice(0, n);
  }

  /** Moves the next entries after the window from the database into it. */
  private refill(): void {
    if (this.loadedThrough >= this.newest) return;
    const room = WINDOW - this.window.size;
    const rows = this.store.outboxAfter(this.loadedThrough, room);
    for (const row of rows) this.index(this.toEntry(row));
    const through = rows.length < room ? this.newest : rows.at(-1)!.seq;
    const before = this.loadedThrough;
    this.loadedThrough = through;
    this.store.onRollback(() => {
      for (const row of rows) this.unindex(this.window.get(row.seq)!);
      this.loadedThrough = before;
    });
  }

  private toEntry(row: OutboxRow): OutboxEntry {
    return {
      seq: row.seq,
      documentId: row.document_id,
      kind: row.kind,
      mutationId: row.mutation_id,
      ackedSequence: row.state === QUEUED ? null : row.acked_sequence,
      ackedRevision: row.state === QUEUED ? null : row.sync_revision,
      sentBase: row.sent_base,
    };
  }

  private setAnswered(entry: OutboxEntry, sequence: number | null, revision: number | null): void {
    this.unindexState(entry);
    entry.ackedSequence = sequence;
    entry.ackedRevision = revision;
    this.indexState(entry);
    this.unanswered += sequence === null ? 1 : -1;
  }

  private index(entry: OutboxEntry): void {
    this.window.set(entry.seq, entry);
    // Entries join the window in seq order; one put back by a rollback may not: keep the order.
    if (entry.seq < this.windowMax) this.resort();
    else this.windowMax = entry.seq;
    const list = this.byDocument.get(entry.documentId);
    if (list) insertBy(list, entry, (e) => e.seq);
    else this.byDocument.set(entry.documentId, [entry]);
    this.indexState(entry);
  }

  private unindex(entry: OutboxEntry): void {
    if (!this.window.delete(entry.seq)) return;
    const list = this.byDocument.get(entry.documentId)!;
    list.splice(list.indexOf(entry), 1);
    if (list.length === 0) this.byDocument.delete(entry.documentId);
    this.unindexState(entry);
  }

  /** Unanswered: maybe its document's head. Answered: in the answered list. */
  private indexState(entry: OutboxEntry): void {
    if (entry.ackedSequence === null) {
      const head = this.headsByDocument.get(entry.documentId);
      if (!head || entry.seq < head.seq) {
        this.headsByDocument.delete(entry.documentId);
        this.headsByDocument.set(entry.documentId, entry);
      }
    } else {
      insertBy(this.answered, entry, (e) => e.ackedSequence!);
    }
  }

  private unindexState(entry: OutboxEntry): void {
    if (entry.ackedSequence !== null) {
      this.answered.splice(this.answered.indexOf(entry), 1);
      return;
    }
    if (this.headsByDocument.get(entry.documentId) !== entry) return;
    this.headsByDocument.delete(entry.documentId);
    const next = this.byDocument.get(entry.documentId)?.find((e) => e !== entry && e.ackedSequence === null);
    if (next) this.headsByDocument.set(entry.documentId, next);
  }

  private resort(): void {
    const entries = [...this.window.values()].sort((a, b) => a.seq - b.seq);
    this.window.clear();
    for (const e of entries) this.window.set(e.seq, e);
    this.windowMax = entries.at(-1)!.seq;
  }
}

/** Inserts keeping `list` sorted by `key` (entries mostly arrive in order: search from the end). */
function insertBy<T>(list: T[], item: T, key: (x: T) => number): void {
  let i = list.length;
  while (i > 0 && key(list[i - 1]!) > key(item)) i--;
  list.splice(i, 0, item);
}
