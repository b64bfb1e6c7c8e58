import t from 'tap';
import { EventType, type SyncEvent } from '../events.js';
import { harness } from '../test-support/harness.js';

// A server stopping gracefully closes with 1012 (service restart): the engine's next attempt goes at
// once, not after its backoff, and it is no error. Behind a load balancer that attempt reaches
// another process (faults/src/rolling-restart.test.ts); here, alone, it finds the port closed.
t.test('1012 from the server: ConnectionLost "server restarting", the next attempt at once, no SyncError', async (t) => {
  const h = await harness();
  t.teardown(() => h.teardown());
  // A backoff this long makes an attempt that waited for it plain to see.
  const engine = h.engine('restart', 'restart@example.com', { reconnect: { minMs: 60_000, maxMs: 120_000 } });
  await engine.whenSynced(10_000);
  const events: { at: number; e: SyncEvent }[] = [];
  engine.onEvent((e) => events.push({ at: Date.now(), e }), [EventType.ConnectionLost, EventType.ConnectionAttempted, EventType.SyncError]);

  await h.server.stop('SIGTERM');
  const lost = events.find((x) => x.e.type === EventType.ConnectionLost);
  t.equal(lost?.e.error, 'server restarting', 'ConnectionLost says why');
  const deadline = Date.now() + 2000;
  while (!events.some((x) => x.e.type === EventType.ConnectionAttempted) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  const attempt = events.find((x) => x.e.type === EventType.ConnectionAttempted);
  t.ok(attempt && lost && attempt.at - lost.at < 1000, `the next attempt within 1 s, not after the 60 s backoff (${attempt && lost ? attempt.at - lost.at : '-'} ms)`);
  t.same(
    events.filter((x) => x.e.type === EventType.SyncError).map((x) => x.e.error),
    [],
    'no SyncError',
  );
});
