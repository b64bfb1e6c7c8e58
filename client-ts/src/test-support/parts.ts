import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newUuid, type ClientMessage } from '@json-sync/core';
import type { SyncEvent } from '../events.js';
import { silentLogger } from '../logger.js';
import { suiteEncryption } from './encryption.js';
import { LocalStore } from '../storage/local-store.js';
import { assembleSync, type SyncParts } from '../sync/assemble.js';
import { EventHub } from '../sync/event-hub.js';
import type { Wire } from '../sync/wire.js';

/** A connection that is not there: nothing is live, nothing is sent. */
export const offlineWire: Wire = { live: false, send: () => false, setPaused: () => {} };

/** A connection the test controls: live or not as it says, every message sent recorded. */
export class ScriptedWire implements Wire {
  live = true;
  readonly sent: ClientMessage[] = [];
  paused = false;

  send(message: ClientMessage): boolean {
    if (!this.live) return false;
    this.sent.push(message);
    return true;
  }

  setPaused(paused: boolean): void {
    this.paused = paused;
  }

  /** The messages sent since the last call. */
  take(): ClientMessage[] {
    return this.sent.splice(0);
  }
}

export interface Parts {
  ctx: SyncParts & { store: LocalStore; events: EventHub; clientId: string };
  local: SyncParts['local'];
  /** Every event fired, in order. */
  events: SyncEvent[];
  /** Runs `fn` as the inbox runs server messages: in one transaction, events delivered after it. */
  apply<T>(fn: () => T): T;
}

export interface PartsOptions {
  wire?: Wire;
  /** The inbox's `yielding` hook (default: never). */
  yielding?: () => boolean;
  /** Another file than a fresh one (to reopen what an earlier Parts wrote). */
  path?: string;
}

/**
 * An engine's parts over a real SQLite file and a connection the test controls (by default none):
 * for testing the replica, session, views and undo as units, with no server.
 */
export function engineParts(t: { teardown(fn: () => unknown): void }, opts: PartsOptions = {}): Parts {
  const dir = mkdtempSync(join(tmpdir(), 'json-sync-parts-'));
  const store = LocalStore.open(opts.path ?? join(dir, 'parts.db'), { durability: 'normal', ...suiteEncryption() });
  const events = new EventHub(silentLogger);
  const recorded: SyncEvent[] = [];
  events.onEvent((e) => recorded.push(e));
  let closed = false;
  const clientId = newUuid();
  const sync = assembleSync({
    store,
    wire: opts.wire ?? offlineWire,
    events,
    log: silentLogger,
    clientId,
    isClosed: () => closed,
    drained: () => {},
    yielding: opts.yielding ?? (() => false),
    admit: () => {},
  });
  t.teardown(() => {
    closed = true;
    sync.session.sender.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    ctx: { ...sync, store, events, clientId },
    local: sync.local,
    events: recorded,
    apply(fn) {
      events.hold();
      try {
        return store.transaction(fn);
      } finally {
        events.release();
      }
    },
  };
}
