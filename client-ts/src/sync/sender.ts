import type { ClientMessage } from '@json-sync/core';
import type { LocalStore } from '../storage/local-store.js';
import type { Outbox, OutboxEntry } from './outbox.js';
import type { Wire } from './wire.js';

export interface SenderParts {
  store: LocalStore;
  outbox: Outbox;
  wire: Wire;
  /** Whether the session lets changes go out now (connected, and no snapshot on its way). */
  mayPump: () => boolean;
  isClosed: () => boolean;
}

/**
 * Unanswered mutations on the connection at once. One per document (a document's changes apply
 * in order); many documents at once, so a backlog uploads at the server's pace. The server
 * refuses more than 1024 unanswered per connection.
 */
const MAX_IN_FLIGHT = 512;

/**
 * Sends the outbox: each document's oldest unanswered change, many documents at once, and keeps
 * the window of changes sent and not yet answered. The first send of a change fixes its message
 * (its base revision is stored first), so every resend is the same mutation to the server's
 * idempotency check. When it may send is the session's to say (`mayPump`).
 */
export class Sender {
  private readonly inFlight = new Map<string, OutboxEntry>(); // mutation_id →
  private readonly inFlightDocs = new Set<string>();
  private readonly coolingDown = new Map<string, number>(); // mutation_id → earliest resend time
  private retryTimer: NodeJS.Timeout | null = null;
  private scheduled = false;

  constructor(private readonly p: SenderParts) {}

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  isInFlight(mutationId: string): boolean {
    return this.inFlight.has(mutationId);
  }

  /** Pumps on the next turn (never inside a transaction: a send must follow the commit of what it sends). */
  schedule(): void {
    if (this.scheduled || this.p.isClosed()) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  pump(): void {
    const { p } = this;
    if (p.isClosed() || !p.wire.live || !p.mayPump()) return;
    if (p.store.inTransaction) return this.schedule();
    const now = Date.now();
    let nextRetry = Infinity;
    const batch: OutboxEntry[] = [];
    for (const entry of p.outbox.heads()) {
      if (this.inFlight.size + batch.length >= MAX_IN_FLIGHT) break;
      if (this.inFlight.has(entry.mutationId) || this.inFlightDocs.has(entry.documentId)) continue;
      const notBefore = this.coolingDown.get(entry.mutationId);
      if (notBefore !== undefined && notBefore > now) {
        nextRetry = Math.min(nextRetry, notBefore);
        continue;
      }
      batch.push(entry);
    }
    if (batch.length > 0) {
      const messages = p.store.transaction(() => batch.map((e) => this.message(e)));
      for (let i = 0; i < batch.length; i++) {
        if (!p.wire.send(messages[i]!)) break;
        this.inFlight.set(batch[i]!.mutationId, batch[i]!);
        this.inFlightDocs.add(batch[i]!.documentId);
      }
    }
    if (nextRetry !== Infinity && !this.retryTimer) {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        this.pump();
      }, nextRetry - now);
    }
  }

  /**
   * A change just written, inside its transaction: when it can go at once, its message is made
   * (and its base stored) in the same transaction, to be sent by `sendPrepared` once that commits —
   * one commit and no turn of the event loop between the call and the wire.
   */
  prepare(entry: OutboxEntry): ClientMessage | null {
    const { p } = this;
    if (!p.wire.live || !p.mayPump() || this.inFlight.size >= MAX_IN_FLIGHT) return null;
    if (this.inFlightDocs.has(entry.documentId) || !p.outbox.isHead(entry)) return null;
    return this.message(entry);
  }

  sendPrepared(entry: OutboxEntry, message: ClientMessage): void {
    if (!this.p.wire.send(message)) return this.schedule();
    this.inFlight.set(entry.mutationId, entry);
    this.inFlightDocs.add(entry.documentId);
  }

  /** An answer for `mutationId` arrived (or will never come): its slot is free, so the pump runs again. */
  settle(mutationId: string): void {
    const entry = this.inFlight.get(mutationId);
    this.coolingDown.delete(mutationId);
    if (!entry) return;
    this.inFlight.delete(mutationId);
    this.inFlightDocs.delete(entry.documentId);
    this.schedule();
  }

  /** The same message again, after `delayMs` (rate_limited, server_error, an answer that was junk). */
  retryLater(mutationId: string, delayMs: number): void {
    this.settle(mutationId);
    this.coolingDown.set(mutationId, Date.now() + delayMs);
  }

  /** The connection ended: nothing is in flight any more. */
  reset(): void {
    this.inFlight.clear();
    this.inFlightDocs.clear();
  }

  close(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  /** The entry's message: built on its first send (storing the base it carries), rebuilt the same on resends. */
  private message(entry: OutboxEntry): ClientMessage {
    const { store, outbox } = this.p;
    if (entry.sentBase === null) {
      const revision = store.revisionOf(entry.documentId) ?? null;
      // A create of a document the server has never had has no base now and none at any resend
      // (only its own answer gives it a revision): nothing to store for the resend to repeat.
      if (entry.kind === 'create' && revision === null) entry.sentBase = -1;
      else outbox.markSent(entry, revision ?? -1);
    }
    const base = entry.sentBase! >= 0 ? { base_revision: entry.sentBase! } : {};
    const forward = store.getChange(entry.seq)!.forward;
    const payload = forward === null ? null : JSON.parse(forward);
    switch (entry.kind) {
      case 'create':
        return { type: 'create_document', document: { id: entry.documentId, content: payload }, ...base, mutation_id: entry.mutationId };
      case 'update':
        return { type: 'update_document', patch: { document_id: entry.documentId, patch: payload }, ...base, mutation_id: entry.mutationId };
      case 'delete':
        return { type: 'delete_document', document_id: entry.documentId, ...base, mutation_id: entry.mutationId };
    }
  }
}
