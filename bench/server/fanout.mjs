// Fan-out, run as its own process by run.mjs: one sender and `receivers` other connections of the
// same user (each with its own client_id); each round the sender changes a document and the round's time is until every
// receiver has the push. Mode "raw" runs the same rounds against relay.mjs (bare uWS pub/sub, no
// database), the floor for the transport on this machine.
import { randomUUID } from 'node:crypto';
import { connectRaw, pct } from './protocol.mjs';
import { openRaw } from './raw-ws.mjs';

const [mode, url, apiKey, secret, receiversArg, roundsArg] = process.argv.slice(2);
const receivers = Number(receiversArg);
const rounds = Number(roundsArg);
const email = `fanout-${randomUUID().slice(0, 8)}@example.com`;

// Every connection is a bare client (raw-ws.mjs): 1,000 full client libraries parsing each push
// would measure this process, not the server.
const open = () => (mode === 'raw' ? openRaw(url) : connectRaw(url, apiKey, secret, email));

const sockets = [];
for (let i = 0; i < receivers; i += 100) sockets.push(...(await Promise.all(Array.from({ length: Math.min(100, receivers - i) }, open))));
const sender = await open();

let got = 0;
let roundDone = null;
for (const ws of sockets) ws.onMessage = () => {
  if (++got === receivers) roundDone?.();
};
const reply = () => new Promise((resolve) => (sender.onMessage = (d) => resolve(JSON.parse(d.toString()))));

const docId = randomUUID();
let revision = 0;
/** One change from the sender; resolves with ns until the last receiver had it (and the sender its reply). */
async function round(message) {
  got = 0;
  const all = new Promise((resolve) => (roundDone = resolve));
  const t0 = process.hrtime.bigint();
  const answered = mode === 'raw' ? Promise.resolve() : reply();
  sender.send(JSON.stringify(message));
  await all;
  const ns = Number(process.hrtime.bigint() - t0);
  const r = await answered;
  if (r && r.sync_revision) revision = r.sync_revision;
  return ns;
}

const change = (i) =>
  mode === 'raw'
    ? { type: 'document_updated', document_id: docId, patch: [{ op: 'replace', path: '/counter', value: i }], sync_revision: i, content_hash: 'f'.repeat(64), sequence: i, client_id: randomUUID(), mutation_id: randomUUID() }
    : i === 0
      ? { type: 'create_document', document: { id: docId, content: { title: 'shared', counter: 0 } }, mutation_id: randomUUID() }
      : { type: 'update_document', patch: { document_id: docId, patch: [{ op: 'replace', path: '/counter', value: i }] }, base_revision: revision, mutation_id: randomUUID() };

await round(change(0));
const times = [];
for (let i = 1; i <= rounds; i++) times.push(await round(change(i)));
times.sort((a, b) => a - b);
process.stdout.write(JSON.stringify({ receivers, rounds, p50: pct(times, 0.5), p99: pct(times, 0.99) }) + '\n');
for (const ws of [...sockets, sender]) ws.close();
process.exit(0);
