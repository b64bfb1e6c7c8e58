// Load generator, run as its own process by run.mjs: N WebSocket clients (one user each), spread
// over the given server URLs, each keeping exactly one update in flight on its own documents for
// a fixed time. Prints {"phase":"ready"} and waits for a line on stdin before the timed part, so
// the parent can read the servers' counters at its start.
import { randomUUID } from 'node:crypto';
import { connect, handshake, pct } from './protocol.mjs';

const [urls, apiKey, secret, clientsArg, secondsArg, docsArg] = process.argv.slice(2);
const servers = urls.split(',');
const clients = Number(clientsArg);
const seconds = Number(secondsArg);
const docsPerClient = Number(docsArg ?? 4);
const run = randomUUID().slice(0, 8);

function roundTrip(ws, msg) {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    ws.once('message', (d) => resolve({ reply: JSON.parse(d.toString()), ns: Number(process.hrtime.bigint() - t0) }));
    ws.send(JSON.stringify(msg));
  });
}

const sockets = [];
for (let i = 0; i < clients; i += 200) {
  const n = Math.min(200, clients - i);
  sockets.push(...(await Promise.all(Array.from({ length: n }, (_, k) => connect(servers[(i + k) % servers.length], apiKey, secret, `load-${run}-${i + k}@example.com`)))));
}
const docs = await Promise.all(sockets.map(async (ws) => {
  const mine = [];
  for (let d = 0; d < docsPerClient; d++) {
    const id = randomUUID();
    const { reply } = await roundTrip(ws, { type: 'create_document', document: { id, content: { title: `doc ${d}`, counter: 0, notes: 'x'.repeat(200) } }, mutation_id: randomUUID() });
    if (reply.type !== 'document_created_response') throw new Error(JSON.stringify(reply));
    mine.push({ id, revision: 1 });
  }
  return mine;
}));

await handshake({ phase: 'ready' });
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
latencies.sort((a, b) => a - b);
await handshake({ phase: 'done', committed: latencies.length, failures, elapsed, rate: latencies.length / elapsed, p50: pct(latencies, 0.5), p99: pct(latencies, 0.99) });
for (const ws of sockets) ws.terminate();
process.exit(0);
