// ctest wrapper for c_api_tls: `node tls-server.mjs PROGRAM` makes a throwaway CA and a server
// certificate it signed (openssl, as the server's test support does), serves WebSocket over TLS on a
// loopback port — answering `authenticate` with `auth_success`, nothing else — and runs PROGRAM with
// TLS_SERVER_URL, TLS_CA_FILE (the CA that signed the server) and TLS_OTHER_CA_FILE (one that signed
// nothing) — and NODE_EXTRA_CA_CERTS naming the signing CA too, which the embedded runtime must not
// read. Passes when PROGRAM passes and only its trusted engines (emails starting "trusted") got as
// far as sending `authenticate`.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { makeTestCertificates } = await import(join(root, 'server', 'dist', 'test-support', 'tls.js'));
const { DEFAULT_LIMITS } = await import(join(root, 'core', 'dist', 'index.js'));

const certs = makeTestCertificates();
const https = createServer({ cert: readFileSync(certs.certFile), key: readFileSync(certs.keyFile) });
const wss = new WebSocketServer({ server: https });
const authenticated = [];
wss.on('connection', (ws) =>
  ws.on('message', (data) => {
    const m = JSON.parse(data.toString());
    if (m.type !== 'authenticate') return;
    authenticated.push(m.email);
    ws.send(JSON.stringify({
      type: 'auth_success', session_id: randomUUID(), client_id: m.client_id, user_id: randomUUID(), latest_sequence: 0,
      limits: DEFAULT_LIMITS, server_time: Math.floor(Date.now() / 1000),
    }));
  }),
);
await new Promise((resolve) => https.listen(0, '127.0.0.1', resolve));
const url = `wss://127.0.0.1:${https.address().port}/ws`;

const program = process.argv[2];
const code = await new Promise((resolve) => {
  const child = spawn(program, [], {
    stdio: 'inherit',
    env: { ...process.env, TLS_SERVER_URL: url, TLS_CA_FILE: certs.caFile, TLS_OTHER_CA_FILE: certs.otherCaFile, NODE_EXTRA_CA_CERTS: certs.caFile },
  });
  child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
});
for (const c of wss.clients) c.terminate();
await new Promise((resolve) => wss.close(() => https.close(() => resolve())));
certs.remove();

const untrusted = authenticated.filter((email) => !email.startsWith('trusted'));
console.log(`tls-server: authenticate from ${JSON.stringify(authenticated)}`);
if (untrusted.length > 0) console.error(`tls-server: an engine that must not trust this server sent authenticate: ${untrusted.join(', ')}`);
if (!authenticated.some((email) => email.startsWith('trusted'))) console.error('tls-server: no trusted engine reached the server');
process.exit(code !== 0 || untrusted.length > 0 || !authenticated.some((email) => email.startsWith('trusted')) ? 1 : 0);
