import t from 'tap';
import { readFileSync } from 'node:fs';
import { newUuid, type ServerMessage } from '@json-sync/core';
import { startTestServer, TestClient, type Identity } from '@json-sync/test-support';

// What the outbound budget guarantees, and nothing that depends on how fast this machine is right
// now (the writer's throughput is the benchmarks' business: bench/server): memory stays bounded,
// the connections closed are the stalled ones, and the writer is never starved.
const READERS = 200;
/** Readers that keep reading: the budget must never take them for the stalled ones. */
const LIVE_READERS = 3;
const BUDGET_MB = 32;
/** What the server may reach with 200 stalled readers: its own baseline plus the budget and uWS's per-connection buffers. */
const RSS_BOUND_MB = 400;
const PHASE_MS = 5000;
/**
 * The longest the writer may go without a commit. A writer starved by the stalled readers stops
 * for the rest of the phase; one that is not commits every few milliseconds, and a busy machine
 * stretches that to tenths of a second, not seconds.
 */
const MAX_STALL_MS = 2000;

const ts = await startTestServer({ prefix: 'slow_readers', args: ['--max-outbound-mb', String(BUDGET_MB)], nodeArgs: process.env.PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof-slow'] : [] });
const clients: TestClient[] = [];
t.teardown(async () => {
  for (const c of clients) c.ws.terminate();
  await ts.teardown();
});

function rssMb(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return kb / 1024;
}

async function authenticatedConnections(): Promise<number> {
  const metrics = await (await fetch(`${ts.httpUrl}/metrics`)).text();
  return Number(/^sync_authenticated_connections (\S+)$/m.exec(metrics)?.[1]);
}

interface Phase {
  commits: number;
  /** The longest stretch without a commit: from the start to the first, between two, from the last to the end. */
  maxStallMs: number;
  lastSequence: number;
  maxRss: number;
}

/** Updates of about 16 KiB each (enough that stalled readers overflow the kernel’s socket buffers even on a busy machine), 4 in flight, for `ms`. */
async function write(writer: TestClient, id: string, ms: number): Promise<Phase> {
  let commits = 0;
  let lastSequence = 0;
  let maxRss = 0;
  let lastCommitAt = Date.now();
  let maxStallMs = 0;
  const sampler = setInterval(() => (maxRss = Math.max(maxRss, rssMb(ts.server.child.pid!))), 50);
  const deadline = Date.now() + ms;
  await Promise.all(
    Array.from({ length: 4 }, async (_, lane) => {
      for (let i = 0; Date.now() < deadline; i++) {
        const blob = `${lane}:${i}:`.padEnd(16384, 'x');
        const r = await writer.mutate({ type: 'update_document', patch: { document_id: id, patch: [{ op: 'replace', path: `/lane${lane}`, value: blob }] } }, 30_000);
        if (r.type !== 'document_updated_response') throw new Error(`update failed: ${JSON.stringify(r)}`);
        const now = Date.now();
        maxStallMs = Math.max(maxStallMs, now - lastCommitAt);
        lastCommitAt = now;
        lastSequence = Math.max(lastSequence, r.sequence);
        commits++;
      }
    }),
  );
  clearInterval(sampler);
  return { commits, maxStallMs: Math.max(maxStallMs, Date.now() - lastCommitAt), lastSequence, maxRss };
}

/** A reader that keeps reading: the highest pushed sequence it has seen (it keeps none of the pushes themselves). */
async function liveReader(me: Identity): Promise<{ client: TestClient; lastSequence: () => number }> {
  const client = await TestClient.connect(ts.url, { ...me, clientId: newUuid() });
  clients.push(client);
  let last = 0;
  client.ws.on('message', () => {
    const m = client.received.pop() as ServerMessage & { sequence?: number };
    if (m.type === 'document_updated') last = Math.max(last, m.sequence!);
    else client.received.push(m);
  });
  return { client, lastSequence: () => last };
}

t.test('200 readers that stop reading: memory stays bounded, the stalled ones are closed with 1008, the rest are served, the writer never stalls', async (t) => {
  const me: Identity = { email: 'fanout@example.com', apiKey: ts.apiKey, secret: ts.secret };
  const writer = await TestClient.connect(ts.url, me);
  clients.push(writer);
  const doc = await writer.create({ title: 'shared', lane0: '', lane1: '', lane2: '', lane3: '' });
  const live = await Promise.all(Array.from({ length: LIVE_READERS }, () => liveReader(me)));

  const stalled: TestClient[] = [];
  for (let i = 0; i < READERS; i++) {
    const r = await TestClient.connect(ts.url, { ...me, clientId: newUuid() });
    r.ws.pause();
    stalled.push(r);
    clients.push(r);
  }
  const everyone = READERS + LIVE_READERS + 1;
  const phases = [await write(writer, doc.document_id, PHASE_MS)];
  // On a busy machine the kernel's socket buffers can absorb a whole phase: write on, in short
  // slices, until the budget has made the server shed someone (or 20 s).
  for (let extra = 0; extra < 10 && (await authenticatedConnections()) === everyone; extra++) phases.push(await write(writer, doc.document_id, 2000));
  const commits = phases.reduce((n, p) => n + p.commits, 0);
  const maxStallMs = Math.max(...phases.map((p) => p.maxStallMs));
  const maxRss = Math.max(...phases.map((p) => p.maxRss));
  t.comment(`${commits} updates committed in ${phases.length} phase(s); longest stall ${maxStallMs} ms; server RSS max ${maxRss.toFixed(0)} MB`);

  t.ok(maxRss < RSS_BOUND_MB, `server RSS stayed under ${RSS_BOUND_MB} MB (max ${maxRss.toFixed(0)} MB)`);
  const metrics = await (await fetch(`${ts.httpUrl}/metrics`)).text();
  const queued = Number(/^sync_outbound_queued_bytes (\S+)$/m.exec(metrics)?.[1]);
  t.ok(queued <= BUDGET_MB * 2 ** 20, `queued bytes within the budget (${(queued / 2 ** 20).toFixed(1)} MiB)`);
  t.ok(maxStallMs <= MAX_STALL_MS, `the writer was never starved: a commit at least every ${MAX_STALL_MS} ms (longest stretch without one ${maxStallMs} ms)`);

  // Let the stalled readers read again: the ones the server cut off see its 1008, once they have
  // read the pushes queued ahead of it (megabytes each), so wait until as many closes as the server made.
  const shed = everyone - (await authenticatedConnections());
  const codes: number[] = stalled.map(() => 0);
  stalled.forEach((r, i) => void r.closed.then((c) => (codes[i] = c.code)));
  for (const r of stalled) r.ws.resume();
  for (const until = Date.now() + 30_000; codes.filter((c) => c !== 0).length < shed && Date.now() < until; ) await new Promise((r) => setTimeout(r, 50));
  const dropped = codes.filter((c) => c === 1008).length;
  t.ok(dropped > 0, `${dropped} of ${READERS} stalled readers were closed with 1008`);
  t.equal(dropped, shed, 'every connection the server closed was a stalled reader');
  t.same(
    codes.filter((c) => c !== 1008 && c !== 0),
    [],
    'no other close code',
  );
  // The readers that kept reading got every change and are still connected.
  await writer.ping();
  const latest = phases.at(-1)!.lastSequence;
  for (const until = Date.now() + 10_000; live.some((r) => r.lastSequence() < latest) && Date.now() < until; ) await new Promise((r) => setTimeout(r, 50));
  t.same(
    live.map((r) => r.lastSequence()),
    live.map(() => latest),
    'the readers that kept reading received every change',
  );
  t.same(
    live.map((r) => r.client.ws.readyState),
    live.map((r) => r.client.ws.OPEN),
    'and were never closed',
  );

  await writer.ping();
  t.equal(writer.all('error').length, 0, 'the writer was never refused or cut off');
});
