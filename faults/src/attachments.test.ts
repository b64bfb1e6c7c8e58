/**
 * Attachments under faults: every transfer completes after recovery, no partial attachment is ever
 * readable, and nothing is uploaded twice beyond the chunks in flight (the upload window). Bytes
 * are counted by a TCP proxy between the engines and the server.
 *
 * 1. The connection cut every few MB, both ways.
 * 2. The server SIGKILLed mid-upload and mid-download.
 * 3. The engine's process SIGKILLed mid-upload, then reopened.
 * 4. The server's database backends terminated while chunks are written.
 *
 * Short: 24 MB attachments. Long (FAULTS_LONG=1): 96 MB.
 */
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { ATTACHMENT_CHUNK_BYTES, UPLOAD_WINDOW_BYTES, type AttachmentRef } from '@json-sync/core';
import { startTcpProxy, type TcpProxy } from '@json-sync/test-support';
import type { SyncEngine } from '../../client-ts/src/engine.js';
import { EventType } from '../../client-ts/src/events.js';
import { harness, nextEvent, type Harness } from '../../client-ts/src/test-support/harness.js';
import { LONG, sleep, within } from './support.js';

const MB = 1024 * 1024;
const SIZE = (LONG ? 96 : 24) * MB;
const DIST_INDEX = fileURLToPath(new URL('../../client-ts/dist/src/index.js', import.meta.url));
/** Protocol text (auth, acks, progress) and frame headers that move beside the bytes. */
const SLACK = 256 * 1024;

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function setup(t: Test): Promise<{ h: Harness; proxy: TcpProxy; through(name: string, email: string, extra?: object): SyncEngine }> {
  const h = await harness();
  const proxy = await startTcpProxy(Number(new URL(h.server.url).port));
  t.teardown(async () => {
    await proxy.close();
    await h.teardown();
  });
  return { h, proxy, through: (name, email, extra = {}) => h.engine(name, email, { serverUrl: `ws://127.0.0.1:${proxy.port}/ws`, ...extra }) };
}

/** Resolves when `engine` reports the attachment complete in the given direction. */
function completed(engine: SyncEngine, id: string, upload: boolean, timeoutMs = 120_000) {
  return nextEvent(engine, EventType.AttachmentCompleted, (e) => e.booleanData === upload && (e.content as AttachmentRef | null)?.$attachment === id, timeoutMs);
}

/** Reads on `engine` until the bytes are there, checking on the way that nothing partial is ever readable. */
async function fetchAll(engine: SyncEngine, ref: AttachmentRef, timeoutMs = 120_000): Promise<Buffer> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const local = engine.readAttachment(ref);
    if (local) return local;
    const state = engine.attachmentState(ref);
    if (state && state.local) throw new Error('state says local but nothing readable');
    try {
      return await engine.getAttachment(ref);
    } catch (err) {
      // A cut or a restarted server fails the read in flight; the bytes received are kept for the next.
      if ((err as { code?: string }).code !== 'connection' || Date.now() > deadline) throw err;
      await sleep(100);
    }
  }
}

t.test('connection cut every few MB: both transfers complete, the upload resends at most a window per cut', async (t) => {
  const { proxy, through } = await setup(t);
  const a = through('cut-a', 'cut@example.com');
  const b = through('cut-b', 'cut@example.com');
  const bytes = randomBytes(SIZE);
  await a.whenSynced(20_000);
  const before = proxy.bytesUp;
  proxy.cutEvery(3 * MB);
  const ref = a.addAttachment(bytes, { contentType: 'application/octet-stream' });
  t.equal(ref.$attachment, `sha256-${sha(bytes)}`);
  await within('upload through cuts', completed(a, ref.$attachment, true), 180_000);
  const cuts = proxy.cuts;
  t.ok(cuts >= 3, `the upload was cut ${cuts} times`);
  const resent = proxy.bytesUp - before - SIZE;
  t.ok(resent <= cuts * (UPLOAD_WINDOW_BYTES + ATTACHMENT_CHUNK_BYTES) + SLACK, `sent again: ${resent} bytes over ${cuts} cuts`);

  const got = await within('download through cuts', fetchAll(b, ref, 180_000), 200_000);
  t.equal(got.length, SIZE);
  t.equal(sha(got), sha(bytes), 'same bytes on the other engine');
  t.equal(a.pendingAttachmentUploads(), 0);
});

t.test('server SIGKILLed mid-upload and mid-download: both complete after the restart', async (t) => {
  const { h, through } = await setup(t);
  const a = through('kill-a', 'kill@example.com');
  const b = through('kill-b', 'kill@example.com');
  const bytes = randomBytes(SIZE);
  await a.whenSynced(20_000);
  const ref = a.addAttachment(bytes);
  await nextEvent(a, EventType.AttachmentProgress, (e) => e.booleanData && e.numericData >= SIZE / 3, 120_000);
  await h.restartServer('SIGKILL');
  await within('upload after a server kill', completed(a, ref.$attachment, true), 180_000);

  const reading = fetchAll(b, ref, 180_000);
  await nextEvent(b, EventType.AttachmentProgress, (e) => !e.booleanData && e.numericData >= SIZE / 3, 120_000);
  t.equal(b.readAttachment(ref), null, 'a partial download is not readable');
  await h.restartServer('SIGKILL');
  const got = await within('download after a server kill', reading, 200_000);
  t.equal(sha(got), sha(bytes));
});

const CHILD = `import { readFileSync, writeSync } from 'node:fs';
import { SyncEngine } from ${JSON.stringify(DIST_INDEX)};
const [opts, file] = [JSON.parse(process.argv[2]), process.argv[3]];
const engine = SyncEngine.open(opts);
engine.on('attachmentProgress', (e) => { if (e.booleanData) writeSync(1, 'progress ' + e.numericData + '\\n'); });
const ref = await engine.addAttachmentFile(file);
writeSync(1, 'ref ' + JSON.stringify(ref) + '\\n');
setInterval(() => {}, 1000);
`;

t.test('engine process SIGKILLed mid-upload: the reopened engine resumes, resending at most a window', async (t) => {
  const { h, proxy, through } = await setup(t);
  const file = join(h.dir, 'upload.bin');
  const bytes = randomBytes(SIZE);
  writeFileSync(file, bytes);
  const script = join(h.dir, 'attach-child.mjs');
  writeFileSync(script, CHILD);
  const opts = h.options('child', 'child@example.com', { serverUrl: `ws://127.0.0.1:${proxy.port}/ws` });
  const child = spawn(process.execPath, [script, JSON.stringify(opts), file], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let ref: AttachmentRef | null = null;
  await within(
    'a third uploaded by the child',
    new Promise<void>((resolve) => {
      let buffer = '';
      child.stdout.on('data', (d: Buffer) => {
        buffer += d;
        let nl;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          if (line.startsWith('ref ')) ref = JSON.parse(line.slice(4));
          if (line.startsWith('progress ') && ref && Number(line.slice(9)) >= SIZE / 3) resolve();
        }
      });
    }),
    120_000,
  );
  const upBeforeKill = proxy.bytesUp;
  child.kill('SIGKILL');
  await new Promise((r) => child.once('close', r));
  t.ok(upBeforeKill < SIZE, 'killed before the upload ended');

  const reopened = through('child', 'child@example.com');
  t.equal(reopened.attachmentState(ref!)?.local, true, 'the added attachment survived the kill');
  await within('upload resumed after the engine kill', completed(reopened, ref!.$attachment, true), 180_000);
  const resent = proxy.bytesUp - SIZE;
  t.ok(resent <= UPLOAD_WINDOW_BYTES + ATTACHMENT_CHUNK_BYTES + 2 * SLACK, `sent again after the kill: ${resent} bytes`);
  const other = through('child-b', 'child@example.com');
  t.equal(sha(await fetchAll(other, ref!)), sha(bytes));
});

t.test('database backends terminated mid-chunk: the server survives, the upload completes, bytes intact', async (t) => {
  const { h, through } = await setup(t);
  const admin = new pg.Client({ connectionString: h.tdb.url, application_name: 'faults-admin' });
  admin.on('error', () => {});
  await admin.connect();
  t.teardown(() => admin.end().catch(() => {}));
  const a = through('pg-a', 'pg@example.com');
  const bytes = randomBytes(SIZE);
  await a.whenSynced(20_000);
  const ref = a.addAttachment(bytes);
  const done = completed(a, ref.$attachment, true, 240_000);
  done.catch(() => {});
  // Pinned, three times: the test holds the upload's row while the upload is under way, so the
  // server's next chunk transaction (or, after a failure, its resume) waits on it; that backend is
  // terminated, then the row let go. Only a transaction of the upload can wait on that row (the
  // server pipelines a transaction's statements, so pg_stat_activity may show its BEGIN).
  let storedBefore = -1;
  for (let round = 1; round <= 3; round++) {
    let killed = 0;
    // The engine asks again after a wait that doubles from 1 s, so later rounds take longer.
    const deadline = Date.now() + 150_000;
    while (killed === 0 && Date.now() < deadline) {
      await admin.query('BEGIN');
      const held = await admin.query('SELECT received, length FROM attachment_uploads WHERE attachment = $1 FOR UPDATE', [ref.$attachment]);
      const row = held.rows[0] as { received: string; length: string } | undefined;
      if (!row || Number(row.received) >= Number(row.length) || Number(row.received) <= storedBefore) {
        // Not started yet, or no byte stored since the last round's failure: look again shortly.
        await admin.query('COMMIT');
        await sleep(5);
        continue;
      }
      storedBefore = Number(row.received);
      const waitUntil = Date.now() + 10_000;
      while (killed === 0 && Date.now() < waitUntil) {
        const r = await admin.query(
          `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'`,
        );
        killed = r.rows.filter((x) => x.ok).length;
        if (killed === 0) await sleep(10);
      }
      await admin.query('COMMIT');
    }
    t.ok(killed > 0, `round ${round}: a transaction of the upload terminated while it waited`, { state: a.attachmentState(ref), pending: a.pendingAttachmentUploads() });
  }
  await within('upload after terminated backends', done, 240_000);
  t.equal(h.server.child.exitCode, null, 'the server process is still running');
  const b = through('pg-b', 'pg@example.com');
  t.equal(sha(await fetchAll(b, ref)), sha(bytes));
});
