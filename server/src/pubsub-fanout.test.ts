import t from 'tap';
import { newUuid, type ServerMessage } from '@json-sync/core';
import { startTestServer, TestClient, type Identity } from '@json-sync/test-support';

// Pushes leave through uWS's pub/sub (one topic per user, published from the sender's own
// connection so uWS skips it). These tests hold it to the rules the protocol promises: never to
// the client that made the change — on either process, and even for a second connection with the
// same client_id — every other connection exactly once, in sequence order, interleaved in order
// with the connection's own replies even while its outbound queue is in use.

const ts = await startTestServer({ prefix: 'pubsub' });
const p2 = await ts.startAnother();
const clients: TestClient[] = [];
t.teardown(async () => {
  for (const c of clients) c.ws.terminate();
  await ts.teardown();
});

async function open(url: string, email: string, clientId = newUuid()): Promise<TestClient> {
  const id: Identity = { email, apiKey: ts.apiKey, secret: ts.secret, clientId };
  const c = await TestClient.connect(url, id);
  clients.push(c);
  return c;
}

const PUSHES = new Set(['document_created', 'document_updated', 'document_deleted']);
const sequencesOf = (c: TestClient) => c.received.filter((m) => PUSHES.has(m.type)).map((m) => (m as { sequence: number }).sequence);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

async function settle(cs: TestClient[], want: () => boolean): Promise<void> {
  const until = Date.now() + 10_000;
  while (!want() && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  await Promise.all(cs.map((c) => c.ping()));
}

t.test('no echo to the sender’s client_id on either process; everyone else once, in order', async (t) => {
  const email = 'echo@example.com';
  const a = newUuid();
  const a1 = await open(ts.url, email, a);
  const a2 = await open(ts.url, email, a); // the same client twice on process 1
  const b = await open(ts.url, email);
  const c = await open(p2.url, email);
  const aRemote = await open(p2.url, email, a); // and on process 2
  const everyone = [a1, a2, b, c, aRemote];

  const doc = await a1.create({ n: 0 });
  const updates = await Promise.all(
    range(1, 40).map((n) => a1.mutate({ type: 'update_document', patch: { document_id: doc.document_id, patch: [{ op: 'replace', path: '/n', value: n }] } })),
  );
  const last = (updates.at(-1) as { sequence: number }).sequence;
  t.equal(last, 41);
  await settle(everyone, () => sequencesOf(b).length >= 41 && sequencesOf(c).length >= 41);
  t.same(sequencesOf(b), range(1, 41), 'another client on the same process: every change once, in order');
  t.same(sequencesOf(c), range(1, 41), 'another client on the other process: every change once, in order');
  for (const [name, conn] of [['the sender', a1], ['the sender’s client_id on a second connection', a2], ['the sender’s client_id on the other process', aRemote]] as const) {
    t.same(sequencesOf(conn), [], `${name} gets none`);
  }

  // Now from process 2: the three connections of client a get it, c does not.
  for (const conn of everyone) conn.received.length = 0;
  const fromC = await c.mutate({ type: 'update_document', patch: { document_id: doc.document_id, patch: [{ op: 'replace', path: '/n', value: 100 }] } });
  t.match(fromC, { type: 'document_updated_response', sequence: 42 });
  await settle(everyone, () => [a1, a2, b, aRemote].every((x) => sequencesOf(x).length >= 1));
  for (const conn of [a1, a2, b, aRemote]) t.same(sequencesOf(conn), [42]);
  t.same(sequencesOf(c), [], 'not back to its sender');
});

t.test('a connection whose outbound queue is in use gets pushes and replies in sequence order', async (t) => {
  const email = 'order@example.com';
  const writer = await open(ts.url, email);
  const reader = await open(ts.url, email);
  const doc = await writer.create({ blob: '' });
  const mine = await reader.create({ n: 0 });

  // The reader stops reading while large pushes pile up past uWS's high-water mark, and keeps
  // sending its own updates: their replies must take their place among the pushes.
  reader.ws.pause();
  const big = 'x'.repeat(64 * 1024);
  const writes = range(1, 40).map((n) => writer.mutate({ type: 'update_document', patch: { document_id: doc.document_id, patch: [{ op: 'replace', path: '/blob', value: `${n}${big}` }] } }, 30_000));
  for (let n = 1; n <= 10; n++) reader.send({ type: 'update_document', patch: { document_id: mine.document_id, patch: [{ op: 'replace', path: '/n', value: n }] }, mutation_id: newUuid() });
  await Promise.all(writes);
  await new Promise((r) => setTimeout(r, 500));
  reader.ws.resume();
  await settle([reader], () => reader.received.filter((m: ServerMessage) => 'sequence' in m).length >= 50);

  const seen = reader.received.filter((m: ServerMessage) => 'sequence' in m).map((m) => [m.type, (m as { sequence: number }).sequence] as const);
  t.equal(seen.filter(([type]) => type === 'document_updated').length, 40, 'every push once');
  t.equal(seen.filter(([type]) => type === 'document_updated_response').length, 10, 'every reply once');
  const sequences = seen.map(([, s]) => s);
  t.same(
    sequences,
    [...sequences].sort((x, y) => x - y),
    'pushes and replies in sequence order',
  );
  // 1 is the writer's create, pushed; 2 the reader's own create, whose reply create() consumed.
  t.same(sequences, [1, ...range(3, 52)], 'no gap, no repeat');
});
