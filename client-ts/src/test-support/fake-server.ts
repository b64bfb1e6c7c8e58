import type { Test } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { DEFAULT_LIMITS, newUuid, unixSeconds, type AuthErrorReason, type ClientMessage, type ServerMessage } from '@json-sync/core';
import { SyncEngine, type EngineOptions } from '../engine.js';

/**
 * A scripted server: it accepts any authenticate, records every client message and lets the test
 * answer them — with valid messages or with junk no real server would send.
 */
export async function fakeServer(t: Test, latestSequence = 0, refuse: (attempt: number) => AuthErrorReason | null = () => null) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const received: ClientMessage[] = [];
  const sockets: WebSocket[] = [];
  const userId = newUuid();
  let onMessage: (m: ClientMessage, ws: WebSocket) => void = () => {};
  let onBinary: (frame: Buffer) => void = () => {};
  let attempts = 0;
  wss.on('connection', (ws) => {
    sockets.push(ws);
    ws.on('message', (data, isBinary) => {
      // Attachment bytes: this server stores nothing, and answers only what it is scripted to.
      if (isBinary) return onBinary(data as Buffer);
      const m = JSON.parse(data.toString()) as ClientMessage;
      received.push(m);
      if (m.type === 'authenticate') {
        const reason = refuse(++attempts);
        if (reason) {
          ws.send(JSON.stringify({ type: 'auth_error', reason, server_time: unixSeconds() }));
          ws.close(1008);
          return;
        }
        const reply: ServerMessage = {
          type: 'auth_success',
          session_id: newUuid(),
          client_id: m.client_id,
          user_id: userId,
          latest_sequence: latestSequence,
          limits: { ...DEFAULT_LIMITS },
          server_time: unixSeconds(),
        };
        ws.send(JSON.stringify(reply));
        return;
      }
      onMessage(m, ws);
    });
  });
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => resolve());
      }),
  );
  return {
    url: `ws://127.0.0.1:${(wss.address() as { port: number }).port}/ws`,
    userId,
    received,
    /** Text as it is, a Buffer as a binary frame, anything else as JSON. */
    send: (frame: unknown) => sockets.at(-1)!.send(typeof frame === 'string' || Buffer.isBuffer(frame) ? frame : JSON.stringify(frame)),
    answer(fn: (m: ClientMessage, ws: WebSocket) => void) {
      onMessage = fn;
    },
    /** Binary frames the client sends (attachment bytes) go to `fn`. */
    binary(fn: (frame: Buffer) => void) {
      onBinary = fn;
    },
    /** Drops the current connection abruptly. */
    drop: () => sockets.at(-1)!.terminate(),
  };
}

/** An engine of a fresh database file talking to `url` (a fake server: any key is accepted). */
export function engineFor(t: Test, url: string, reconnect = { minMs: 50, maxMs: 500 }, extra: Partial<EngineOptions> = {}): SyncEngine {
  const dir = mkdtempSync(join(tmpdir(), 'json-sync-junk-'));
  const e = SyncEngine.open({
    databasePath: join(dir, 'junk.db'),
    serverUrl: url,
    email: 'junk@example.com',
    apiKey: `rpa_${'1'.repeat(64)}`,
    apiSecret: `rps_${'2'.repeat(64)}`,
    reconnect,
    heartbeat: { intervalMs: 60_000, timeoutMs: 10_000 },
    ...extra,
  });
  t.teardown(async () => {
    await e.close(100);
    rmSync(dir, { recursive: true, force: true });
  });
  return e;
}
