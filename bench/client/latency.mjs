// End-to-end latency: an update on engine A until engine B fires DocumentUpdated, against the same
// path driven by two raw protocol clients, alternating in blocks so both see the same load.
import WebSocket from 'ws';
import { randomBytes, randomUUID } from 'node:crypto';
import { authenticateBody, sign, unixSeconds } from '@json-sync/core';
import { EventType } from '../../client-ts/dist/src/index.js';
import { content, now, openEngine, percentiles, updated } from './engines.mjs';

const WARMUP = 50;

/** Engines A and B of one user; step(j) times updateDocument on A until B fires DocumentUpdated with counter j. */
async function engineDriver(srv) {
  const opts = { serverUrl: srv.url, apiKey: srv.apiKey, apiSecret: srv.secret, email: 'bench-e2e@example.com' };
  const a = openEngine('e2e-a', opts);
  const b = openEngine('e2e-b', opts);
  await Promise.all([a.whenSynced(30_000), b.whenSynced(30_000)]);
  let waiting = null;
  b.onEvent((e) => {
    if (waiting && e.documentId === waiting.id && e.content?.counter === waiting.counter) {
      const w = waiting;
      waiting = null;
      w.resolve(now());
    }
  }, [EventType.DocumentCreated, EventType.DocumentUpdated]);
  const arrival = (id, counter) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`B did not see counter ${counter} within 10 s`)), 10_000);
    waiting = { id, counter, resolve: (t) => { clearTimeout(timer); resolve(t); } };
  });
  const id = randomUUID();
  const created = arrival(id, 0);
  a.createDocument({ ...content(0), counter: 0 }, { id });
  await created;
  let steps = 0;
  return {
    async step(j) {
      const seen = arrival(id, j);
      const t0 = now();
      a.updateDocument(id, updated(0, j));
      const t1 = await seen;
      steps++;
      return t1 - t0;
    },
    async finish() {
      const revision = b.getDocument(id).syncRevision;
      if (revision !== steps + 1) throw new Error(`B ends at revision ${revision}, expected ${steps + 1}`);
      await Promise.all([a.close(), b.close()]);
    },
  };
}

// ---- raw protocol baseline: the same path with no engine on either side --------------------------

function rawConnect(srv, email) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(srv.url);
    const clientId = randomUUID();
    ws.once('error', reject);
    ws.once('open', () => {
      const timestamp = unixSeconds();
      const nonce = randomBytes(16).toString('hex');
      ws.send(JSON.stringify({
        type: 'authenticate', email, client_id: clientId, api_key: srv.apiKey, timestamp, nonce, protocol_version: 1,
        signature: sign({ secret: srv.secret, timestamp, email, apiKey: srv.apiKey, body: authenticateBody(clientId, nonce) }),
      }));
      ws.once('message', (d) => {
        const m = JSON.parse(d.toString());
        if (m.type !== 'auth_success') reject(new Error(JSON.stringify(m)));
        else resolve(ws);
      });
    });
  });
}

/** Raw sockets X and Y of another user: X sends update_document (one in flight, like the engine), Y waits for the push. */
async function rawDriver(srv) {
  const x = await rawConnect(srv, 'bench-raw@example.com');
  const y = await rawConnect(srv, 'bench-raw@example.com');
  const waitFor = (ws, pred) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => { ws.off('message', on); reject(new Error('raw client timed out')); }, 10_000);
    const on = (d) => {
      const m = JSON.parse(d.toString());
      if (!pred(m)) return;
      clearTimeout(timer);
      ws.off('message', on);
      resolve({ m, t: now() });
    };
    ws.on('message', on);
  });
  const id = randomUUID();
  const pushed = waitFor(y, (m) => m.type === 'document_created' && m.document.id === id);
  const replied = waitFor(x, (m) => m.type === 'document_created_response');
  x.send(JSON.stringify({ type: 'create_document', document: { id, content: { ...content(0), counter: 0 } }, mutation_id: randomUUID() }));
  await Promise.all([pushed, replied]);
  let revision = 1;
  return {
    async step(j) {
      const mutationId = randomUUID();
      const pushed = waitFor(y, (m) => m.type === 'document_updated' && m.mutation_id === mutationId);
      const replied = waitFor(x, (m) => m.mutation_id === mutationId);
      const t0 = now();
      x.send(JSON.stringify({
        type: 'update_document',
        patch: { document_id: id, patch: [{ op: 'replace', path: '/counter', value: j }] },
        base_revision: revision,
        mutation_id: mutationId,
      }));
      const [{ t: t1 }, { m: reply }] = await Promise.all([pushed, replied]);
      if (reply.type !== 'document_updated_response') throw new Error(JSON.stringify(reply));
      revision = reply.sync_revision;
      return t1 - t0;
    },
    async finish() {
      x.close();
      y.close();
    },
  };
}

/** Engine and raw path in alternating blocks, so both see the same background load on a shared machine. */
export async function latency(srv, e2eCount) {
  const engine = await engineDriver(srv);
  const raw = await rawDriver(srv);
  const samples = { engine: [], raw: [] };
  const BLOCK = 50;
  let j = 0;
  for (; j < WARMUP; j++) {
    await engine.step(j + 1);
    await raw.step(j + 1);
  }
  while (samples.engine.length < e2eCount) {
    const n = Math.min(BLOCK, e2eCount - samples.engine.length);
    for (let i = 0; i < n; i++) samples.engine.push(await engine.step(j + i + 1));
    for (let i = 0; i < n; i++) samples.raw.push(await raw.step(j + i + 1));
    j += n;
  }
  await engine.finish();
  await raw.finish();
  return { eng: percentiles(samples.engine), raw: percentiles(samples.raw) };
}
