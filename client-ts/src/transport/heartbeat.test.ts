import t from 'tap';
import type { WebSocket } from 'ws';
import { EventType } from '../events.js';
import { engineFor, fakeServer } from '../test-support/fake-server.js';
import { eventually, record } from '../test-support/harness.js';

const heartbeat = { intervalMs: 200, timeoutMs: 300 };
/**
 * A server that answers pages at once and a ping only after `pongAfterMs` (null: never);
 * `whileHolding` runs every 50 ms meanwhile.
 */
async function slowPongServer(t: Parameters<typeof fakeServer>[0], pongAfterMs: number | null, whileHolding: (ws: WebSocket) => void) {
  const server = await fakeServer(t);
  const timers = new Set<NodeJS.Timeout>();
  t.teardown(() => timers.forEach((x) => clearInterval(x)));
  server.answer((m, ws) => {
    if (m.type === 'get_changes_since') ws.send(JSON.stringify({ type: 'changes', events: [], latest_sequence: 0, has_more: false }));
    if (m.type !== 'ping') return;
    const busy = setInterval(() => whileHolding(ws), 50);
    timers.add(busy);
    if (pongAfterMs === null) return;
    setTimeout(() => {
      clearInterval(busy);
      ws.send(JSON.stringify({ type: 'pong' }));
    }, pongAfterMs);
  });
  return server;
}

t.test('a pong held for many timeouts behind data still arriving does not drop the connection', async (t) => {
  // WebSocket-level ping frames stand for the page a real server sends before its pong: bytes
  // arrive, the JSON pong does not.
  const server = await slowPongServer(t, 2500, (ws) => ws.ping());
  const e = engineFor(t, server.url, undefined, { heartbeat });
  await e.whenSynced(5000);
  const events = record(e);
  await eventually(() => server.received.filter((m) => m.type === 'ping').length >= 2, 10_000);
  t.same(
    events.filter((x) => x.type === EventType.ConnectionLost || x.type === EventType.ConnectionAttempted),
    [],
    'no connection lost or attempted while the pong was held',
  );
  t.ok(e.isConnected());
});

t.test('a server that never pongs and sends nothing is dropped, and the engine reconnects', async (t) => {
  const server = await slowPongServer(t, null, () => {});
  const e = engineFor(t, server.url, undefined, { heartbeat });
  await e.whenSynced(5000);
  const events = record(e);
  t.ok(await eventually(() => events.some((x) => x.type === EventType.ConnectionLost), 10_000), 'the connection was dropped');
  t.ok(await eventually(() => e.isConnected(), 5000), 'connected again');
});
