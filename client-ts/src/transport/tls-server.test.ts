import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer } from '@json-sync/test-support';
import { SyncEngine } from '../engine.js';
import { EventType } from '../events.js';
import { nextEvent } from '../test-support/harness.js';

// The engine against the real sync server over wss:// (`serve --tls-cert/--tls-key` with a
// certificate a throwaway CA signed): trusting that CA, two engines of one user sync; trusting
// another, the engine is refused and never authenticates. tls.test.ts holds the engine's trust
// rules against a bare TLS endpoint.
const ts = await startTestServer({ prefix: 'client_tls', tls: true, env: { LOG_LEVEL: 'info' } });
const certs = ts.tls!;
const dir = mkdtempSync(join(tmpdir(), 'json-sync-tls-client-'));
const engines: SyncEngine[] = [];
t.teardown(async () => {
  for (const e of engines) await e.close(200).catch(() => {});
  await ts.teardown();
  rmSync(dir, { recursive: true, force: true });
});

function engine(name: string, email: string, tlsCa: string): SyncEngine {
  const e = SyncEngine.open({
    databasePath: join(dir, `${name}.db`),
    serverUrl: ts.url,
    email,
    apiKey: ts.apiKey,
    apiSecret: ts.secret,
    tlsCa,
    reconnect: { minMs: 100, maxMs: 500 },
  });
  engines.push(e);
  return e;
}

t.test('two engines of one user sync a document over wss://', async (t) => {
  const a = engine('a', 'tls-user@example.com', certs.caFile);
  const b = engine('b', 'tls-user@example.com', certs.ca);
  const created = nextEvent(b, EventType.DocumentCreated, (e) => !e.booleanData, 15_000);
  const id = a.createDocument({ title: 'Sent over TLS', done: false });
  const seen = await created;
  t.equal(seen.documentId, id, "b received a's document");
  t.same(b.getDocument(id)?.content, { title: 'Sent over TLS', done: false });
  const updated = nextEvent(a, EventType.DocumentUpdated, (e) => e.documentId === id && !e.booleanData, 15_000);
  b.mergeDocument(id, { done: true });
  t.same((await updated).content, { title: 'Sent over TLS', done: true }, "and a received b's change");
  t.match(ts.server.stderr(), /"outcome":"success".*"email":"tls-user@example\.com"/, 'their authentications are in the log (which the next test reads)');
});

t.test('an engine trusting another CA is refused with ConnectionLost "TLS: …" and never authenticates', async (t) => {
  const email = 'wrong-ca@example.com';
  const e = engine('wrong-ca', email, certs.otherCaFile);
  const lost = await nextEvent(e, EventType.ConnectionLost, () => true, 10_000);
  t.match(lost.error, /^TLS: /, `ConnectionLost: ${lost.error}`);
  // Let it retry a few times: none of its attempts may get further.
  await new Promise((r) => setTimeout(r, 1500));
  t.equal(e.isConnected(), false);
  t.notOk(ts.server.stderr().includes(email), 'the server logged no authentication attempt for it');
  const users = await ts.tdb.db.query('SELECT 1 FROM users WHERE email = $1', [email]);
  t.equal(users.rowCount, 0, 'no user was created for it');
});
