import { DEFAULT_LIMITS, isUuid, titleOf, type ClientMessage, type JsonObject } from '@json-sync/core';
import { SyncError } from '../errors.js';
import { EventType } from '../events.js';
import type { ChangeOrigin, LocalStore, MutationKind, ViewRow } from '../storage/local-store.js';
import type { Counts } from './counts.js';
import type { EventHub } from './event-hub.js';
import type { Outbox, OutboxEntry } from './outbox.js';

/** Where a written change goes out: at once when it can (its message made inside its transaction), else on the next pump. */
export interface Outgoing {
  prepare(entry: OutboxEntry): ClientMessage | null;
  sendPrepared(entry: OutboxEntry, message: ClientMessage): void;
  schedule(): void;
}

export interface LocalChangeParts {
  store: LocalStore;
  outbox: Outbox;
  counts: Counts;
  events: EventHub;
  outgoing: Outgoing;
  /** Refuses a local change before anything is written (a unique query index): throws SyncError. */
  admit: (id: string, content: JsonObject | null) => void;
}

/** Room for a mutation message's fields around its payload. */
const MESSAGE_OVERHEAD_BYTES = 512;

/** What one local change does: the document's new content (null: deleted), and its patches for the log and for undo. */
export interface PlannedChange {
  kind: MutationKind;
  content: JsonObject | null;
  /** What is sent: the content of a create, the operations of an update, nothing for a delete. */
  forward: unknown;
  reverse: unknown;
  /** `content` as JSON text, when the caller already has it (validation produced it). */
  contentText?: string;
}

/** The current view of a document as a plan sees it. */
export interface Current {
  view: ViewRow | undefined;
  /** Its content while it is live; null when deleted or unknown. */
  content: JsonObject | null;
}

type Plan = (current: Current) => PlannedChange | null;

/**
 * Local changes: for each, the document's new view and one change row (outbox entry and history
 * entry at once) commit in one transaction, then exactly one event fires.
 */
export class LocalChanges {
  constructor(private readonly p: LocalChangeParts) {}

  /** One change of document `id`; `after` runs inside its transaction (undo bookkeeping). */
  change(id: string, origin: Exclude<ChangeOrigin, 'remote'>, plan: Plan, after?: () => void): void {
    if (typeof id !== 'string' || !isUuid(id)) throw new SyncError('not_found', `no document ${String(id)}`);
    const { outgoing, store, counts, events } = this.p;
    const written = store.transaction(() => {
      const w = this.write(id, origin, plan);
      if (!w) return null;
      after?.();
      return { ...w, message: outgoing.prepare(w.entry) };
    });
    if (!written) return;
    if (written.message) outgoing.sendPrepared(written.entry, written.message);
    else outgoing.schedule();
    counts.committed();
    events.emit(written.type, written.fields);
  }

  /** Many creates in one transaction: all or none are written; their events fire after it. */
  createMany(items: { id: string; content: JsonObject; text: string }[]): void {
    const { store, counts, events, outgoing } = this.p;
    const written = store.transaction(() =>
      items.map(({ id, content, text }) => {
        const e = this.write(id, 'local', createPlan(id, content, text));
        if (!e) throw new SyncError('invalid_input', `nothing to create for ${id}`);
        return e;
      }),
    );
    counts.committed();
    for (const e of written) events.emit(e.type, e.fields);
    outgoing.schedule();
  }

  private write(id: string, origin: Exclude<ChangeOrigin, 'remote'>, plan: Plan) {
    const { store, outbox, counts } = this.p;
    const view = store.getView(id);
    const step = plan({ view, content: view && view.deleted === 0 ? (JSON.parse(view.content) as JsonObject) : null });
    if (!step) return null;
    this.p.admit(id, step.content);
    const now = new Date().toISOString();
    // Content and forward often are one object (a create), whose text validation made: serialise each once.
    const contentText = step.content === null ? null : (step.contentText ?? JSON.stringify(step.content));
    const forwardText = step.forward === null ? null : step.forward === step.content ? contentText : JSON.stringify(step.forward);
    // The change must fit in one protocol message, or it could never be sent.
    if (forwardText !== null && Buffer.byteLength(forwardText) + MESSAGE_OVERHEAD_BYTES > DEFAULT_LIMITS.max_frame_bytes) {
      throw new SyncError('invalid_input', `the change is too large to send (over ${DEFAULT_LIMITS.max_frame_bytes} bytes as one message)`);
    }
    const entry = outbox.add({
      document_id: id,
      origin,
      kind: step.kind,
      forward: forwardText,
      reverse: step.reverse === null ? null : JSON.stringify(step.reverse),
      created_at: now,
    });
    const deleted = step.kind === 'delete';
    const content = step.content ?? (view ? (JSON.parse(view.content) as JsonObject) : {});
    const title = titleOf(content) ?? store.getBase(id)?.given_title ?? null;
    const next: ViewRow = {
      id,
      content: contentText ?? view?.content ?? '{}',
      deleted: deleted ? 1 : 0,
      title,
      revision: view?.revision ?? null,
      pending: (view?.pending ?? 0) + 1,
      created_at: view?.created_at ?? now,
      updated_at: now,
      deleted_at: deleted ? now : null,
    };
    if (view) store.putView(next);
    else store.insertView(next);
    counts.viewWritten(view, next);
    if (origin === 'local') store.clearRedo(id);
    const type = step.kind === 'create' ? EventType.DocumentCreated : deleted ? EventType.DocumentDeleted : EventType.DocumentUpdated;
    return { entry, type, fields: { documentId: id, content: deleted ? null : content, title, booleanData: true } };
  }
}

/** A create of `content` (`text` is its JSON) as `id`, refused when the document exists and is live. */
export function createPlan(id: string, content: JsonObject, text?: string): Plan {
  return ({ view }) => {
    if (view && view.deleted === 0) throw new SyncError('conflict', `document ${id} already exists`);
    return { kind: 'create', content, forward: content, reverse: null, ...(text !== undefined ? { contentText: text } : {}) };
  };
}
