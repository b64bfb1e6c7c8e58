import t, { type Test } from 'tap';
import { newUuid, type ServerMessage } from '@json-sync/core';
import { startTestServer, TestClient, type TestDatabase } from '@json-sync/test-support';

// Each test stops a server process of its own, on the file's one database.
const ts = await startTestServer({ prefix: 'shutdown_test' });
const { tdb } = ts;
t.teardown(() => ts.teardown());

/**
 * A client that keeps `window` creates in flight for as long as its socket is open: every
 * acknowledgement sends the next one.
 */
class Streamer {
  sent = 0;
  readonly acked: string[] = [];
  readonly other: ServerMessage[] = [];
  private onAck: (() => void) | null = null;

  constructor(readonly c: TestClient) {
    c.ws.on('message', (data) => {
      const m = JSON.parse(data.toString()) as ServerMessage;
      if (m.type === 'document_created_response') {
        this.acked.push(m.document_id);
        this.sendOne();
        this.onAck?.();
      } else {
        this.other.push(m);
      }
    });
  }

  sendOne(): void {
    if (this.c.ws.readyState !== this.c.ws.OPEN) return;
    this.sent++;
    this.c.send({ type: 'create_document', document: { id: newUuid(), content: { title: `doc ${this.sent}`, n: this.sent } }, mutation_id: newUuid() });
  }

  start(window: number): void {
    for (let i = 0; i < window; i++) this.sendOne();
  }

  /** Resolves once `total()` reaches n. */
  static until(streamers: Streamer[], n: number): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if (streamers.reduce((s, x) => s + x.acked.length, 0) >= n) {
          for (const s of streamers) s.onAck = null;
          resolve();
        }
      };
      for (const s of streamers) s.onAck = check;
      check();
    });
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms).unref())]);
}

/** Acknowledged creates against the database: every ack has its row, and no row lacks an ack. */
async function assertAcksMatchRows(t: Test, db: TestDatabase, userIds: string[], acked: string[]): Promise<void> {
  const events = await db.db.query<{ n: number }>('SELECT count(*)::int AS n FROM change_events WHERE user_id = ANY($1::uuid[])', [userIds]);
  t.equal(events.rows[0]!.n, acked.length, 'change_events rows = acknowledged mutations');
  const docs = await db.db.query<{ n: number }>('SELECT count(*)::int AS n FROM documents WHERE user_id = ANY($1::uuid[])', [userIds]);
  t.equal(docs.rows[0]!.n, acked.length, 'documents rows = acknowledged creates');
  const found = await db.db.query<{ n: number }>('SELECT count(*)::int AS n FROM documents WHERE id = ANY($1::uuid[])', [acked]);
  t.equal(found.rows[0]!.n, acked.length, 'every acknowledged document exists');
  t.equal(new Set(acked).size, acked.length, 'no document acknowledged twice');
}

t.test('SIGTERM mid-stream: exits 0 within 5 s, closes with 1012, acknowledgements = rows', async (t) => {
  const server = await ts.startAnother();
  t.teardown(() => server.stop('SIGKILL'));
  const clients = await Promise.all(
    Array.from({ length: 4 }, (_, i) => TestClient.connect(server.url, { email: `term${i}@example.com`, apiKey: ts.apiKey, secret: ts.secret })),
  );
  const streamers = clients.map((c) => new Streamer(c));
  for (const s of streamers) s.start(32);
  await withTimeout(Streamer.until(streamers, 400), 20_000, '400 acknowledgements');

  const ackedAtSignal = streamers.reduce((n, s) => n + s.acked.length, 0);
  const inFlightAtSignal = streamers.reduce((n, s) => n + s.sent - s.acked.length, 0);
  const stopped = server.stop('SIGTERM');
  const closes = await withTimeout(Promise.all(clients.map((c) => c.closed)), 6000, 'every socket closed');
  const exit = await withTimeout(stopped, 6000, 'server exit');

  const acked = streamers.flatMap((s) => s.acked);
  t.comment(`${inFlightAtSignal} in flight at SIGTERM; ${acked.length - ackedAtSignal} acknowledged after it; exit after ${exit.ms} ms`);
  t.ok(inFlightAtSignal > 0, 'mutations were in flight when the signal arrived');
  // Mutations the server had already taken in were finished and answered, not dropped.
  t.ok(acked.length > ackedAtSignal, 'acknowledgements kept arriving after the signal');
  t.same({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, 'exit code 0');
  t.ok(exit.ms < 5000, `exited within 5 s (${exit.ms} ms)`);
  t.same(
    closes.map((c) => c.code),
    clients.map(() => 1012),
    'every socket closed with 1012 (service restart)',
  );
  t.same(
    streamers.flatMap((s) => s.other),
    [],
    'no errors or other replies: every mutation was either committed and acknowledged or never taken',
  );
  await assertAcksMatchRows(
    t,
    tdb,
    clients.map((c) => c.userId),
    acked,
  );
});

t.test('SIGINT also drains, closes with 1012 and exits 0', async (t) => {
  const server = await ts.startAnother();
  t.teardown(() => server.stop('SIGKILL'));
  const c = await TestClient.connect(server.url, { email: 'int@example.com', apiKey: ts.apiKey, secret: ts.secret });
  const s = new Streamer(c);
  s.start(16);
  await withTimeout(Streamer.until([s], 50), 20_000, '50 acknowledgements');
  const stopped = server.stop('SIGINT');
  const close = await withTimeout(c.closed, 6000, 'socket closed');
  const exit = await withTimeout(stopped, 6000, 'server exit');
  t.same({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, 'exit code 0');
  t.ok(exit.ms < 5000, `exited within 5 s (${exit.ms} ms)`);
  t.equal(close.code, 1012, 'socket closed with 1012');
  t.same(s.other, [], 'no error replies');
  await assertAcksMatchRows(t, tdb, [c.userId], s.acked);
});

t.test('an idle server exits 0 on SIGTERM promptly', async (t) => {
  const server = await ts.startAnother();
  t.teardown(() => server.stop('SIGKILL'));
  const exit = await server.stop('SIGTERM');
  t.same({ code: exit.code, signal: exit.signal }, { code: 0, signal: null });
  t.ok(exit.ms < 2000, `exited within 2 s (${exit.ms} ms)`);
});
