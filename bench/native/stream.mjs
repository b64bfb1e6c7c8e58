// A stream of changes into one user's documents for phase 4: a raw protocol client (no engine, no
// SQLite — the lightest source there is) sends 9 updates and 1 create in every 10 changes, paced at
// `rate` changes/s with at most 64 unanswered (the server refuses more than 1024 in flight). Every
// engine of that user receives each change as a push from the server.
import { randomUUID } from 'node:crypto';
import { TestClient } from '@json-sync/test-support';

const IN_FLIGHT = 64;
const TICK_MS = 5;
const DESCRIPTION = 'Write the quarterly report, collect the figures from every team and send it round before Friday.';

/** Starts the stream; `stop()` ends it and resolves with what was sent and answered. */
export async function startStream(srv, email, { rate, docs = 200 }) {
  const { ws } = await TestClient.connect(srv.url, { email, apiKey: srv.apiKey, secret: srv.secret });
  const waiting = new Map();
  let answered = 0;
  let refused = 0;
  ws.on('message', (d) => {
    const m = JSON.parse(d.toString());
    const done = m.mutation_id && waiting.get(m.mutation_id);
    if (!done) return;
    waiting.delete(m.mutation_id);
    answered++;
    if (m.type === 'error' || m.type === 'conflict_detected') refused++;
    done();
  });
  const send = (message) =>
    new Promise((resolve) => {
      const mutationId = randomUUID();
      waiting.set(mutationId, resolve);
      ws.send(JSON.stringify({ ...message, mutation_id: mutationId }));
    });
  const create = (i) => send({ type: 'create_document', document: { id: randomUUID(), content: { title: `Streamed ${i}`, description: DESCRIPTION, counter: 0 } } });
  // The documents the updates go to, created before the stream starts.
  const ids = [];
  await Promise.all(Array.from({ length: docs }, (_, i) => {
    const id = randomUUID();
    ids.push(id);
    return send({ type: 'create_document', document: { id, content: { title: `Streamed ${i}`, description: DESCRIPTION, counter: 0 } } });
  }));
  answered = 0;
  let sent = 0;
  const start = performance.now();
  const timer = setInterval(() => {
    const due = Math.floor((rate * (performance.now() - start)) / 1000);
    while (sent < due && waiting.size < IN_FLIGHT) {
      const n = sent++;
      if (n % 10 === 9) create(docs + n);
      else send({ type: 'update_document', patch: { document_id: ids[n % docs], patch: [{ op: 'replace', path: '/counter', value: n }] } });
    }
  }, TICK_MS);
  return {
    async stop() {
      clearInterval(timer);
      const ms = performance.now() - start;
      const deadline = Date.now() + 10_000;
      while (waiting.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      ws.close();
      return { sent, answered, refused, ms, rate: sent / (ms / 1000) };
    },
  };
}
