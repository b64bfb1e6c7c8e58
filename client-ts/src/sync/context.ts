import type { LocalStore } from '../storage/local-store.js';
import type { Logger } from '../logger.js';
import type { Transport } from '../transport/transport.js';
import { CatchUp } from './catch-up.js';
import { Counts } from './counts.js';
import type { EventHub } from './event-hub.js';
import { Outbox } from './outbox.js';
import { Replica } from './replica.js';
import { Sender } from './sender.js';

/** How far the engine has applied the server's change stream; persisted with the changes it covers. */
export class Cursor {
  private current: number;

  constructor(private readonly store: LocalStore) {
    this.current = Number(store.getState('cursor') ?? 0);
  }

  get value(): number {
    return this.current;
  }

  set(sequence: number): void {
    const before = this.current;
    this.current = sequence;
    this.store.onRollback(() => (this.current = before));
    this.store.beforeCommit(this.persist);
  }

  /** Writes the value the cursor has when its transaction commits: once per slice, not once per change. */
  private readonly persist = () => this.store.setState('cursor', String(this.current));
}

/** What the engine's parts share: storage, connection, events, and each other. */
export interface EngineContext {
  readonly store: LocalStore;
  readonly outbox: Outbox;
  readonly cursor: Cursor;
  readonly counts: Counts;
  readonly transport: Transport;
  readonly events: EventHub;
  readonly log: Logger;
  readonly clientId: string;
  readonly sender: Sender;
  readonly replica: Replica;
  readonly catchUp: CatchUp;
  isClosed(): boolean;
}

/** Wires the parts of an engine over its store, connection and events. */
export function createEngineContext(base: Pick<EngineContext, 'store' | 'transport' | 'events' | 'log' | 'clientId' | 'isClosed'>): EngineContext {
  const ctx = { ...base, outbox: new Outbox(base.store), cursor: new Cursor(base.store), counts: new Counts(base.store, base.log) } as EngineContext;
  // The parts reach each other through the context only when called, so it is completed here.
  Object.assign(ctx, { sender: new Sender(ctx), replica: new Replica(ctx), catchUp: new CatchUp(ctx) });
  return ctx;
}
