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
 * Payload (characters of its JSON) of the unanswered mutations on the connection: once reached,
 * nothing more goes until answers free room (a single change of any size still goes). Large
 * documents would otherwise put tens of megabytes into the socket at once: every other message
 * (a page request, a ping) waits behind them, and a dropped connection sends them all again.
 */
export const MAX_IN_FLIGHT_PAYLOAD = 8 * 1024 * 1024;

/** Whether a window of `count` unanswered mutations with `payload` characters has room for one more. */
function hasRoom(count: number, payload: number): boolean {
  return count < MAX_IN_FLIGHT && (payload < MAX_IN_FLIGHT_PAYLOAD || count === 0);
}

/**
 * Sends the outbox: each document's oldest unanswered change, many documents at once, and keeps
 * the window of changes sent and not yet answered. The first send of a change fixes its message
 * (its base revision is stored first), so every resend is the same mutation to the server's
 * idempotency check. When it may send is the session's to say (`mayPump`).
 */
export class Sender {
  private readonly inFlight = new Map<string, { entry: OutboxEntry; payload: number }>(); // mutation_id →
  private readonly inFlightDocs = new Set<string>();
  private inFlightPayload = 0;
  /** The payload size of each message built and not yet sent (`message` to `track`). */
  private readonly built = new WeakMap<ClientMessage, number>();
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
    if (!hasRoom(this.inFlight.size, this.inFlightPayload)) return;
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
      // Built one by one while the window has room: a message is built only to be sent.
      const messages = p.store.transaction(() => {
        const out: ClientMessage[] = [];
        let payload = this.inFlightPayload;
        for (const entry of batch) {
          if (!hasRoom(this.inFlight.size + out.length, payload)) break;
          const message = this.message(entry);
          payload += this.built.get(message)!;
          out.push(message);
        }
        return out;
      });
      for (let i = 0; i < messages.length; i++) {
        if (!p.wire.send(messages[i]!)) break;
        this.track(batch[i]!, messages[i]!);
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
    if (!p.wire.live || !p.mayPump() || !hasRoom(this.inFlight.size, this.inFlightPayload)) return null;
    if (this.inFlightDocs.has(entry.documentId) || !p.outbox.isHead(entry)) return null;
    return this.message(entry);
  }

  sendPrepared(entry: OutboxEntry, message: ClientMessage): void {
    if (!this.p.wire.send(message)) return this.schedule();
    this.track(entry, message);
  }

  private track(entry: OutboxEntry, message: ClientMessage): void {
    const payload = this.built.get(message) ?? 0;
    this.inFlight.set(entry.mutationId, { entry, payload });
    this.inFlightDocs.add(entry.documentId);
    this.inFlightPayload += payload;
  }

  /** An answer for `mutationId` arrived (or will never come): its slot is free, so the pump runs again. */
  settle(mutationId: string): void {
    const sent = this.inFlight.get(mutationId);
    this.coolingDown.delete(mutationId);
    if (!sent) return;
    this.inFlight.delete(mutationId);
    this.inFlightDocs.delete(sent.entry.documentId);
    this.inFlightPayload -= sent.payload;
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
    this.inFlightPayload = 0;
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
    const message: ClientMessage =
      entry.kind === 'create'
        ? { type: 'create_document', document: { id: entry.documentId, content: payload }, ...base, mutation_id: entry.mutationId }
        : entry.kind === 'update'
          ? { type: 'update_document', patch: { document_id: entry.documentId, patch: payload }, ...base, mutation_id: entry.mutationId }
          : { type: 'delete_document', document_id: entry.documentId, ...base, mutation_id: entry.mutationId };
    this.built.set(message, forward?.length ?? 0);
    return message;
  }
}
