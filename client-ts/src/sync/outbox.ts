import { QUEUED, type ChangeRow, type LocalStore, type MutationKind, type NewChange } from '../storage/local-store.js';

/** A change in the outbox, as the sender and the replica track it (payloads stay in the database). */
export interface OutboxEntry {
  seq: number;
  documentId: string;
  kind: MutationKind;
  mutationId: string;
  /** The stream sequence the server answered with; null while unanswered. */
  ackedSequence: number | null;
  /** The base revision the first send carried (-1: none); null when never sent. */
  sentBase: number | null;
}

/**
 * The outbox in memory, indexed, mirroring the changes whose state is below SETTLED. Every
 * method writes the database and the index together; inside a transaction the index change is
 * undone if the transaction rolls back.
 */
export class Outbox {
  private readonly bySeq = new Map<number, OutboxEntry>();
  private readonly byMutation = new Map<string, OutboxEntry>();
  private readonly byDocument = new Map<string, OutboxEntry[]>();
  /** Each document's oldest unanswered entry, in the order they became heads: what may be sent next. */
  private readonly headsByDocument = new Map<string, OutboxEntry>();
  /** Answered entries by ascending acked sequence: they leave when the stream reaches it. */
  private answered: OutboxEntry[] = [];
  private unanswered = 0;

  constructor(private readonly store: LocalStore) {
    for (const row of store.outbox()) {
      this.index({
        seq: row.seq,
        documentId: row.document_id,
        kind: row.kind,
        mutationId: row.mutation_id!,
        ackedSequence: row.state === QUEUED ? null : row.acked_sequence,
        sentBase: row.sent_base,
      });
    }
  }

  /** Adds a local change to the outbox (and to history: it is one row). */
  add(change: Omit<NewChange, 'state' | 'sequence' | 'sync_revision'> & { mutation_id: string }): OutboxEntry {
    const seq = this.store.addChange({ ...change, state: QUEUED, sequence: null, sync_revision: null });
    const entry: OutboxEntry = { seq, documentId: change.document_id, kind: change.kind, mutationId: change.mutation_id, ackedSequence: null, sentBase: null };
    this.index(entry);
    this.store.onRollback(() => this.unindex(entry));
    return entry;
  }

  get size(): number {
    return this.bySeq.size;
  }

  /** Entries the server has not answered. */
  get pending(): number {
    return this.unanswered;
  }

  entry(mutationId: string): OutboxEntry | undefined {
    return this.byMutation.get(mutationId);
  }

  of(documentId: string): readonly OutboxEntry[] {
    return this.byDocument.get(documentId) ?? [];
  }

  pendingOf(documentId: string): number {
    let n = 0;
    for (const e of this.of(documentId)) if (e.ackedSequence === null) n++;
    return n;
  }

  /** One document's entries with their payloads, oldest first. */
  rowsOf(documentId: string): ChangeRow[] {
    return this.byDocument.has(documentId) ? this.store.outboxOf(documentId) : [];
  }

  heads(): IterableIterator<OutboxEntry> {
    return this.headsByDocument.values();
  }

  markSent(entry: OutboxEntry, base: number): void {
    this.store.setSent(entry.seq, base);
    entry.sentBase = base;
    this.store.onRollback(() => (entry.sentBase = null));
  }

  /** The server answered: the entry stays in the view until the stream reaches `sequence`. */
  answer(entry: OutboxEntry, sequence: number): void {
    this.store.answer(entry.seq, sequence);
    this.unindex(entry);
    entry.ackedSequence = sequence;
    this.index(entry);
    this.store.onRollback(() => {
      this.unindex(entry);
      entry.ackedSequence = null;
      this.index(entry);
    });
  }

  /** The entry leaves the outbox; it stays in history, with the sequence and revision when known. */
  settle(entry: OutboxEntry, sequence: number | null = null, syncRevision: number | null = null): void {
    this.store.settle(entry.seq, sequence ?? entry.ackedSequence, syncRevision);
    this.unindex(entry);
    this.store.onRollback(() => this.index(entry));
  }

  /** Answered entries whose sequence the stream has reached. */
  answeredUpTo(sequence: number): OutboxEntry[] {
    let n = 0;
    while (n < this.answered.length && this.answered[n]!.ackedSequence! <= sequence) n++;
    return this.answered.slice(0, n);
  }

  private index(entry: OutboxEntry): void {
    this.bySeq.set(entry.seq, entry);
    this.byMutation.set(entry.mutationId, entry);
    const list = this.byDocument.get(entry.documentId);
    if (!list) this.byDocument.set(entry.documentId, [entry]);
    else insertBy(list, entry, (e) => e.seq);
    if (entry.ackedSequence === null) {
      this.unanswered++;
      const head = this.headsByDocument.get(entry.documentId);
      if (!head || entry.seq < head.seq) {
        this.headsByDocument.delete(entry.documentId);
        this.headsByDocument.set(entry.documentId, entry);
      }
    } else {
      insertBy(this.answered, entry, (e) => e.ackedSequence!);
    }
  }

  private unindex(entry: OutboxEntry): void {
    if (!this.bySeq.delete(entry.seq)) return;
    this.byMutation.delete(entry.mutationId);
    const list = this.byDocument.get(entry.documentId)!;
    list.splice(list.indexOf(entry), 1);
    if (list.length === 0) this.byDocument.delete(entry.documentId);
    if (entry.ackedSequence === null) {
      this.unanswered--;
      if (this.headsByDocument.get(entry.documentId) === entry) {
        this.headsByDocument.delete(entry.documentId);
        const next = list.find((e) => e.ackedSequence === null);
        if (next) this.headsByDocument.set(entry.documentId, next);
      }
    } else {
      this.answered.splice(this.answered.indexOf(entry), 1);
    }
  }
}

/** Inserts keeping `list` sorted by `key` (entries mostly arrive in order: search from the end). */
function insertBy<T>(list: T[], item: T, key: (x: T) => number): void {
  let i = list.length;
  while (i > 0 && key(list[i - 1]!) > key(item)) i--;
  list.splice(i, 0, item);
}
