import { DEFAULT_LIMITS, isUuid, titleOf, type JsonObject } from '@json-sync/core';
import { SyncError } from '../errors.js';
import { EventType } from '../events.js';
import type { ChangeOrigin, MutationKind, ViewRow } from '../storage/local-store.js';
import type { EngineContext } from './context.js';

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
  constructor(private readonly ctx: EngineContext) {}

  /** One change of document `id`; `after` runs inside its transaction (undo bookkeeping). */
  change(id: string, origin: Exclude<ChangeOrigin, 'remote'>, plan: Plan, after?: () => void): void {
    if (typeof id !== 'string' || !isUuid(id)) throw new SyncError('not_found', `no document ${String(id)}`);
    const { sender } = this.ctx;
    const written = this.ctx.store.transaction(() => {
      const w = this.write(id, origin, plan);
      if (!w) return null;
      after?.();
      return { ...w, message: sender.prepare(w.entry) };
    });
    if (!written) return;
    if (written.message) sender.sendPrepared(written.entry, written.message);
    else sender.schedule();
    this.ctx.counts.committed();
    this.ctx.events.emit(written.type, written.fields);
  }

  /** Many creates in one transaction: all or none are written; their events fire after it. */
  createMany(items: { id: string; content: JsonObject; text: string }[]): void {
    const events = this.ctx.store.transaction(() =>
      items.map(({ id, content, text }) => {
        const e = this.write(id, 'local', createPlan(id, content, text));
        if (!e) throw new SyncError('invalid_input', `nothing to create for ${id}`);
        return e;
      }),
    );
    this.ctx.counts.committed();
    for (const e of events) this.ctx.events.emit(e.type, e.fields);
    this.ctx.sender.schedule();
  }

  private write(id: string, origin: Exclude<ChangeOrigin, 'remote'>, plan: Plan) {
    const { store, outbox } = this.ctx;
    const view = store.getView(id);
    const step = plan({ view, content: view && view.deleted === 0 ? (JSON.parse(view.content) as JsonObject) : null });
    if (!step) return null;
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
    this.ctx.counts.viewWritten(view, next);
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
