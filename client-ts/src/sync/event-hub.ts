import type { JsonObject } from '@json-sync/core';
import { SyncError } from '../errors.js';
import { EVENT_NAMES, EventType, type EventHandler, type EventName, type SyncEvent } from '../events.js';
import type { Logger } from '../logger.js';

/**
 * Delivers events to handlers. While held (server messages being applied in one transaction),
 * events queue and are delivered only once the transaction committed; those of a message whose
 * changes were rolled back are dropped with them.
 */
export class EventHub {
  private readonly handlers = new Map<EventType, Set<EventHandler>>();
  private readonly allHandlers = new Set<{ handler: EventHandler; filter: Set<EventType> | null }>();
  private held = 0;
  private queued: SyncEvent[] = [];

  constructor(private readonly log: Logger) {}

  on(name: EventName, handler: EventHandler): void {
    const type = EVENT_NAMES[name];
    if (type === undefined) throw new SyncError('invalid_input', `unknown event ${String(name)}`);
    let set = this.handlers.get(type);
    if (!set) this.handlers.set(type, (set = new Set()));
    set.add(handler);
  }

  off(name: EventName, handler: EventHandler): void {
    this.handlers.get(EVENT_NAMES[name])?.delete(handler);
  }

  onEvent(handler: EventHandler, filter?: EventType | EventType[]): () => void {
    if (typeof handler !== 'function') throw new SyncError('invalid_input', 'handler must be a function');
    const entry = { handler, filter: filter === undefined ? null : new Set(Array.isArray(filter) ? filter : [filter]) };
    this.allHandlers.add(entry);
    return () => this.allHandlers.delete(entry);
  }

  emit(type: EventType, fields: Partial<Omit<SyncEvent, 'type'>> = {}): void {
    if (this.allHandlers.size === 0 && !this.handlers.get(type)?.size) return;
    const event: SyncEvent = {
      type,
      documentId: fields.documentId ?? null,
      title: fields.title ?? null,
      content: (fields.content ?? null) as JsonObject | null,
      error: fields.error ?? null,
      numericData: fields.numericData ?? 0,
      booleanData: fields.booleanData ?? false,
    };
    if (this.held > 0) this.queued.push(event);
    else this.deliver(event);
  }

  /** Queue events until the matching release(). */
  hold(): void {
    this.held++;
  }

  release(): void {
    if (--this.held > 0) return;
    const events = this.queued;
    this.queued = [];
    for (const e of events) this.deliver(e);
  }

  /** A point in the queue to drop back to with dropSince(). */
  mark(): number {
    return this.queued.length;
  }

  dropSince(mark: number): void {
    this.queued.length = Math.min(this.queued.length, mark);
  }

  private deliver(event: SyncEvent): void {
    const call = (h: EventHandler) => {
      try {
        h(event);
      } catch (err) {
        this.log.error(`event handler threw: ${(err as Error).message}`);
      }
    };
    for (const h of this.handlers.get(event.type) ?? []) call(h);
    for (const { handler, filter } of this.allHandlers) if (!filter || filter.has(event.type)) call(handler);
  }
}
