import type { Logger } from '../logger.js';
import type { LocalStore } from '../storage/local-store.js';
import { CatchUp } from './catch-up.js';
import { Counts } from './counts.js';
import { Cursor } from './cursor.js';
import type { EventHub } from './event-hub.js';
import { Inbox } from './inbox.js';
import { LocalChanges, type LocalChangeParts } from './local-changes.js';
import { Outbox } from './outbox.js';
import { Replica } from './replica.js';
import type { Sender } from './sender.js';
import { Session } from './session.js';
import type { Wire } from './wire.js';

export interface SyncInputs {
  store: LocalStore;
  wire: Wire;
  events: EventHub;
  log: Logger;
  clientId: string;
  isClosed: () => boolean;
  /** The inbox is empty (whenSynced's moment to check). */
  drained: () => void;
  /** Whether calls from outside wait for the engine's thread (see SyncEngine.yieldSlicesWhen). */
  yielding: () => boolean;
  /** Refuses a local change before it is written (see LocalChangeParts.admit). */
  admit: LocalChangeParts['admit'];
}

/** An engine's sync parts, each built over only what it needs. */
export interface SyncParts {
  outbox: Outbox;
  cursor: Cursor;
  counts: Counts;
  replica: Replica;
  sender: Sender;
  catchUp: CatchUp;
  session: Session;
  inbox: Inbox;
  local: LocalChanges;
}

/**
 * Wires the parts of one engine. The dependencies point one way: the session drives replica,
 * sender and catch-up; the inbox and local changes hand their work to the session and the sender;
 * storage, outbox, cursor, counts and events are leaves beneath them all.
 */
export function assembleSync(i: SyncInputs): SyncParts {
  const { store, wire, events, log, clientId, isClosed } = i;
  const outbox = new Outbox(store);
  const cursor = new Cursor(store);
  const counts = new Counts(store, log);
  const replica = new Replica({ store, outbox, cursor, counts, events, log, clientId });
  const catchUp = new CatchUp();
  const session = new Session({ store, outbox, cursor, wire, events, replica, catchUp, isClosed });
  const { sender } = session;
  const inbox = new Inbox({ store, events, counts, wire, log, isClosed }, (item, current) => session.handle(item, current), {
    afterSlice: () => session.advance(),
    drained: i.drained,
    yielding: i.yielding,
  });
  const local = new LocalChanges({ store, outbox, counts, events, outgoing: sender, admit: i.admit });
  return { outbox, cursor, counts, replica, sender, catchUp, session, inbox, local };
}
