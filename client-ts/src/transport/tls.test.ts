import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocketServer } from 'ws';
import { makeTestCertificates } from '@json-sync/test-support';
import { SyncEngine } from '../engine.js';
import { SyncError } from '../errors.js';
import { EventType } from '../events.js';
import { nextEvent } from '../test-support/harness.js';

// The engine's side of wss://: which certificate authority it trusts. (Syncing over wss:// with
// the real server is tested with the server's TLS option.)
const certs = makeTestCertificates();
t.teardown(() => certs.remove());
const https = createServer({ cert: readFileSync(certs.certFile), key: readFileSync(certs.keyFile) });
const wss = new WebSocketServer({ server: https });
const authenticates: string[] = [];
wss.on('connection', (ws) => ws.on('message', (d) => authenticates.push(JSON.parse(d.toString()).type)));
await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
const url = `wss://127.0.0.1:${(https.address() as { port: number }).port}/ws`;
t.teardown(
  () =>
    new Promise<void>((resolve) => {
      for (const c of wss.clients) c.terminate();
      wss.close(() => https.close(() => resolve()));
    }),
);
const dir = mkdtempSync(join(tmpdir(), 'json-sync-tls-engine-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

function engine(t: Test, name: string, tlsCa?: string): SyncEngine {
  const e = SyncEngine.open({
    databasePath: join(dir, `${name}.db`),
    serverUrl: url,
    email: 'tls@example.com',
    apiKey: `rpa_${'1'.repeat(64)}`,
    apiSecret: `rps_${'2'.repeat(64)}`,
    reconnect: { minMs: 200, maxMs: 1000 },
    ...(tlsCa !== undefined ? { tlsCa } : {}),
  });
  t.teardown(() => e.close(50));
  return e;
}

t.test('trusting the CA that signed the server, as a file or as PEM text: the connection is made', async (t) => {
  for (const [how, ca] of [
    ['file', certs.caFile],
    ['text', certs.ca],
  ] as const) {
    const before = authenticates.length;
    const e = engine(t, `trusted-${how}`, ca);
    const lost: string[] = [];
    e.onEvent((x) => lost.push(x.error ?? ''), EventType.ConnectionLost);
    const deadline = Date.now() + 5000;
    while (authenticates.length === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    t.ok(authenticates.length > before, `${how}: the server got the authenticate message over TLS`);
    t.same(lost.filter((r) => r.startsWith('TLS')), [], `${how}: no TLS refusal`);
  }
});

t.test('an untrusted certificate is refused, never silently accepted: ConnectionLost names the TLS failure', async (t) => {
  const before = authenticates.length;
  for (const [name, what, ca] of [
    ['system', "the system's CAs only", undefined],
    ['other', 'another CA', certs.otherCaFile],
  ] as const) {
    const e = engine(t, `untrusted-${name}`, ca);
    const lost = await nextEvent(e, EventType.ConnectionLost, () => true, 5000);
    t.match(lost.error, /^TLS: .*\((SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\)$/, `${what}: ${lost.error}`);
    t.equal(e.isConnected(), false);
  }
  t.equal(authenticates.length, before, 'nothing was sent to the untrusted server');
});

t.test('a CA that is neither PEM text nor a readable PEM file is refused at open', async (t) => {
  for (const ca of [join(dir, 'missing.pem'), join(dir), '']) {
    t.throws(() => engine(t, 'bad-ca', ca), SyncError, `tlsCa ${JSON.stringify(ca)}`);
  }
});
