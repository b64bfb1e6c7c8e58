import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newUuid } from '@json-sync/core';
import type { SyncEvent } from '../events.js';
import { silentLogger } from '../logger.js';
import { LocalStore } from '../storage/local-store.js';
import { createEngineContext, type EngineContext } from '../sync/context.js';
import { EventHub } from '../sync/event-hub.js';
import { LocalChanges } from '../sync/local-changes.js';
import { Transport } from '../transport/transport.js';

export interface Parts {
  ctx: EngineContext;
  local: LocalChanges;
  /** Every event fired, in order. */
  events: SyncEvent[];
  /** Runs `fn` as the inbox runs server messages: in one transaction, events delivered after it. */
  apply<T>(fn: () => T): T;
}

/**
 * An engine's parts over a real SQLite file and a connection that is never opened: for testing
 * the replica, views and undo as units, with no server.
 */
export function engineParts(t: { teardown(fn: () => unknown): void }): Parts {
  const dir = mkdtempSync(join(tmpdir(), 'json-sync-parts-'));
  const store = LocalStore.open(join(dir, 'parts.db'), { durability: 'normal' });
  const events = new EventHub(silentLogger);
  const recorded: SyncEvent[] = [];
  events.onEvent((e) => recorded.push(e));
  const noop = () => {};
  const transport = new Transport(
    {
      serverUrl: 'ws://127.0.0.1:9/ws',
      email: 'parts@example.com',
      apiKey: 'rpa_parts',
      apiSecret: 'rps_parts',
      clientId: newUuid(),
      reconnect: { minMs: 1000, maxMs: 1000 },
      heartbeat: { intervalMs: 1000, timeoutMs: 1000 },
      clockOffset: 0,
      logger: silentLogger,
    },
    { attempt: noop, authenticated: noop, message: noop, invalid: noop, authError: noop, clockOffset: noop, lost: noop, refused: noop },
  );
  let closed = false;
  const ctx = createEngineContext({ store, transport, events, log: silentLogger, clientId: newUuid(), isClosed: () => closed });
  t.teardown(() => {
    closed = true;
    transport.close();
    ctx.sender.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    ctx,
    local: new LocalChanges(ctx),
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
