import t from 'tap';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, startTestServer, TestClient } from '@json-sync/test-support';

// `sync-server serve --tls-cert/--tls-key`: the protocol over wss:// and the HTTP routes over
// https://, with a certificate the test makes; a client that does not trust it is refused before
// it sends anything; certificate or key files the server cannot use stop it with exit 1. (The
// engine over wss:// to this server: client-ts/src/transport/tls-server.test.ts.)

const ts = await startTestServer({ prefix: 'tls_test', tls: true });
const certs = ts.tls!;
const dir = mkdtempSync(join(tmpdir(), 'json-sync-tls-server-'));
t.teardown(async () => {
  await ts.teardown();
  rmSync(dir, { recursive: true, force: true });
});

/** GET over http:// or https:// (trusting `ca`); the status and body, or the error that ended it. */
function get(url: string, ca?: string): Promise<{ status: number; body: string } | Error> {
  return new Promise((resolve) => {
    const req = (url.startsWith('https:') ? httpsRequest : httpRequest)(url, { ...(ca ? { ca } : {}), timeout: 3000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', resolve);
    req.end();
  });
}

t.test('the server says it listens on wss:// and serves /health over https://', async (t) => {
  t.match(ts.url, /^wss:\/\/127\.0\.0\.1:\d+\/ws$/);
  t.match(ts.server.stdout(), /listening on wss:\/\/127\.0\.0\.1:\d+\/ws/);
  t.match(ts.server.stdout(), /^ {2}tls-cert +\S+server\.pem \(CN=localhost, valid until \S+\) {2}\[--tls-cert\]$/m, 'the printed configuration names the certificate');
  t.match(await get(`${ts.httpUrl}/health`, certs.ca), { status: 200, body: '{"status":"ok"}' });
  const untrusted = await get(`${ts.httpUrl}/health`);
  t.ok(untrusted instanceof Error && /self[- ]signed|unable to verify|issuer/i.test(untrusted.message), `https without the CA is refused: ${String(untrusted)}`);
  const plain = await get(`${ts.httpUrl.replace('https:', 'http:')}/health`);
  t.ok(plain instanceof Error, `plain http:// on the same port gets no answer (${String(plain)}): no plain-text fallback`);
});

t.test('two clients of one user exchange a change over wss://', async (t) => {
  const me = { email: 'tls-user@example.com', apiKey: ts.apiKey, secret: ts.secret };
  const a = await TestClient.connect(ts.url, me, { ca: certs.ca });
  const b = await TestClient.connect(ts.url, me, { ca: certs.ca });
  t.teardown(() => {
    a.close();
    b.close();
  });
  const created = await a.create({ title: 'Sent over TLS' });
  t.match(await b.next((m) => m.type === 'document_created'), { document: { id: created.document_id, content: { title: 'Sent over TLS' } } });
});

t.test('a client trusting another CA is refused in the handshake', async (t) => {
  const refused = await TestClient.open(ts.url, undefined, { ca: readFileSync(certs.otherCaFile, 'utf8') }).then(
    (c) => (c.close(), null),
    (err: Error) => err,
  );
  t.match(refused?.message, /self[- ]signed|unable to verify|issuer/i, `refused: ${String(refused)}`);
});

t.test('certificate and key files the server cannot use: a clear error and exit 1, never a plain-text server', async (t) => {
  const garbage = join(dir, 'garbage.pem');
  writeFileSync(garbage, 'not a certificate\n');
  const otherKey = join(certs.dir, 'other-ca.key');
  const cases: [string, string[], RegExp][] = [
    ['a missing certificate', ['--tls-cert', join(dir, 'missing.pem'), '--tls-key', certs.keyFile], /cannot read the TLS certificate .*missing\.pem: ENOENT/],
    ['a directory as the key', ['--tls-cert', certs.certFile, '--tls-key', dir], /cannot read the TLS key .*: EISDIR/],
    ['a certificate that is not PEM', ['--tls-cert', garbage, '--tls-key', certs.keyFile], /the TLS certificate .*garbage\.pem is not a PEM certificate/],
    ['the certificate given as the key', ['--tls-cert', certs.certFile, '--tls-key', certs.certFile], /the TLS key .*server\.pem is not an unencrypted PEM private key/],
    ['the key of another certificate', ['--tls-cert', certs.certFile, '--tls-key', otherKey], /the TLS key .*other-ca\.key does not belong to the certificate .*server\.pem/],
  ];
  const runs = await Promise.all(cases.map(([, args]) => runCli(['serve', '--port', '0', ...args], { databaseUrl: ts.tdb.url, cwd: dir })));
  cases.forEach(([what, , message], i) => {
    const r = runs[i]!;
    t.equal(r.code, 1, `${what}: exit 1`);
    t.match(r.stderr, message, `${what}: ${r.stderr.trim()}`);
    t.notMatch(r.stdout, /listening/, `${what}: nothing listens`);
  });
});

t.test('half a TLS configuration is a wrong command line (exit 2), from a flag or the environment', async (t) => {
  const flag = await runCli(['serve', '--tls-cert', certs.certFile], { databaseUrl: ts.tdb.url, cwd: dir });
  t.equal(flag.code, 2);
  t.match(flag.stderr, /--tls-cert needs --tls-key/);
  t.match(flag.stderr, /Usage: sync-server serve/);
  const env = await runCli(['serve'], { databaseUrl: ts.tdb.url, cwd: dir, env: { SYNC_TLS_KEY: certs.keyFile } });
  t.equal(env.code, 2);
  t.match(env.stderr, /SYNC_TLS_KEY needs --tls-cert \(or SYNC_TLS_CERT\)/);
  t.equal(env.stdout, '', 'nothing printed, nothing served');
});
