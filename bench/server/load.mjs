// Load generator, run as its own process by run.mjs: N WebSocket clients (one user each), each
// keeping exactly one update in flight on its own documents for a fixed time.
import WebSocket from 'ws';
import { randomBytes, randomUUID } from 'node:crypto';
import { authenticateBody, sign, unixSeconds } from '@json-sync/core';

const [url, apiKey, secret, clientsArg, secondsArg, docsArg] = process.argv.slice(2);
const clients = Number(clientsArg);
const seconds = Number(secondsArg);
const docsPerClient = Number(docsArg ?? 4);

function connect(i) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const clientId = randomUUID();
    const email = `bench-${i}@example.com`;
    ws.once('error', reject);
    ws.once('open', () => {
      const timestamp = unixSeconds();
      const nonce = randomBytes(16).toString('hex');
      ws.send(JSON.stringify({
        type: 'authenticate', email, client_id: clientId, api_key: apiKey, timestamp, nonce,
        signature: sign({ secret, timestamp, email, apiKey, body: authenticateBody(clientId, nonce) }),
      }));
      ws.once('message', (d) => {
        const m = JSON.parse(d.toString());
        if (m.type !== 'auth_success') reject(new Error(JSON.stringify(m)));
        else resolve(ws);
      });
    });
  });
}

function roundTrip(ws, msg) {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    ws.once('message', (d) => resolve({ reply: JSON.parse(d.toString()), ns: Number(process.hrtime.bigint() - t0) }));
    ws.send(JSON.stringify(msg));
  });
}

const sockets = await Promise.all(Array.from({ length: clients }, (_, i) => connect(i)));
const docs = [];
for (const ws of sockets) {
  const mine = [];
  for (let d = 0; d < docsPerClient; d++) {
    const id = randomUUID();
    const { reply } = await roundTrip(ws, { type: 'create_document', document: { id, content: { title: `doc ${d}`, counter: 0, notes: 'x'.repeat(200) } }, mutation_id: randomUUID() });
    if (reply.type !== 'document_created_response') throw new Error(JSON.stringify(reply));
    mine.push({ id, revision: 1 });
  }
  docs.push(mine);
}

const latencies = [];
let failures = 0;
const deadline = Date.now() + seconds * 1000;
const started = process.hrtime.bigint();
await Promise.all(sockets.map(async (ws, i) => {
  let n = 0;
  while (Date.now() < deadline) {
    const doc = docs[i][n++ % docsPerClient];
    const { reply, ns } = await roundTrip(ws, {
      type: 'update_document',
      patch: { document_id: doc.id, patch: [{ op: 'replace', path: '/counter', value: n }] },
      base_revision: doc.revision,
      mutation_id: randomUUID(),
    });
    if (reply.type === 'document_updated_response') {
      doc.revision = reply.sync_revision;
      latencies.push(ns);
    } else failures++;
  }
}));
const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
for (const ws of sockets) ws.close();
latencies.sort((a, b) => a - b);
const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] / 1e6;
process.stdout.write(JSON.stringify({ committed: latencies.length, failures, elapsed, rate: latencies.length / elapsed, p50: pct(0.5), p99: pct(0.99) }) + '\n');
