import t from 'tap';
import { randomBytes } from 'node:crypto';
import { ATTACHMENT_CHUNK_BYTES } from '@json-sync/core';
import { attachmentIdOf, downloadAttachment, startTestServer, TestClient, uploadAttachment, type Identity } from '@json-sync/test-support';

// Uploads and downloads through a real server process on PostgreSQL: sizes around the chunk size,
// one copy of identical bytes across users, and who may read what.

const ts = await startTestServer({ prefix: 'att_transfer' });
t.teardown(() => ts.teardown());
const alice: Identity = { email: 'alice@example.com', apiKey: ts.apiKey, secret: ts.secret };
const bob: Identity = { email: 'bob@example.com', apiKey: ts.apiKey, secret: ts.secret };

t.test('auth_success announces the attachment limits', async (t) => {
  const c = await TestClient.open(ts.url);
  t.teardown(() => c.close());
  const reply = await c.authenticate(alice);
  t.match(reply, { type: 'auth_success', limits: { max_attachment_bytes: 1024 ** 3, attachment_quota_bytes: 0 } });
});

t.test('round trips of 0 B, 1 B, a chunk and a byte either side, and a few MB', async (t) => {
  const c = await TestClient.connect(ts.url, alice);
  t.teardown(() => c.close());
  for (const size of [0, 1, ATTACHMENT_CHUNK_BYTES - 1, ATTACHMENT_CHUNK_BYTES, ATTACHMENT_CHUNK_BYTES + 1, 5 * 1024 * 1024 + 17]) {
    const bytes = randomBytes(size);
    const id = attachmentIdOf(bytes);
    const up = await uploadAttachment(c, bytes, { contentType: 'audio/wav' });
    if (size === 0) t.equal(up.first.type, 'attachment_uploaded', 'no upload_ready for 0 bytes');
    else t.match(up.first, { type: 'upload_ready', offset: 0 });
    t.match(up.end, { type: 'attachment_uploaded', attachment: id, length: size }, `${size} B uploaded`);
    // One upload_progress per stored run of chunks (a chunk, or those that arrived together):
    // rising, each at a chunk's end, the last at the length, all before attachment_uploaded.
    const chunkEnds = new Set(Array.from({ length: Math.ceil(size / ATTACHMENT_CHUNK_BYTES) }, (_, i) => Math.min(size, (i + 1) * ATTACHMENT_CHUNK_BYTES)));
    t.ok(
      up.progress.every((p, i) => chunkEnds.has(p) && (i === 0 || p > up.progress[i - 1]!)),
      'upload_progress rises from chunk end to chunk end',
    );
    t.equal(up.progress.at(-1) ?? 0, size, 'the last upload_progress is at the length, before attachment_uploaded');
    const down = await downloadAttachment(c, id);
    t.match(down.first, { type: 'download_ready', attachment: id, length: size, content_type: 'audio/wav', offset: 0 });
    t.match(down.end, { type: 'download_complete', attachment: id });
    t.ok(down.bytes.equals(bytes), `${size} B read back`);
  }
});

t.test('a download resumes from an offset; an offset past the length is invalid_chunk', async (t) => {
  const c = await TestClient.connect(ts.url, alice);
  t.teardown(() => c.close());
  const bytes = randomBytes(ATTACHMENT_CHUNK_BYTES * 2 + 100);
  const id = attachmentIdOf(bytes);
  await uploadAttachment(c, bytes);
  const from = ATTACHMENT_CHUNK_BYTES + 7;
  const down = await downloadAttachment(c, id, from);
  t.match(down.first, { type: 'download_ready', offset: from, length: bytes.length });
  t.equal(down.offsets[0], from);
  t.ok(down.bytes.equals(bytes.subarray(from)));
  const atEnd = await downloadAttachment(c, id, bytes.length);
  t.equal(atEnd.bytes.length, 0);
  t.match(atEnd.end, { type: 'download_complete' });
  const past = await downloadAttachment(c, id, bytes.length + 1);
  t.match(past.first, { type: 'error', code: 'invalid_chunk' });
});

t.test('identical bytes are stored once; a second uploader still sends every byte', async (t) => {
  const a = await TestClient.connect(ts.url, alice);
  const b = await TestClient.connect(ts.url, bob);
  t.teardown(() => {
    a.close();
    b.close();
  });
  const bytes = randomBytes(ATTACHMENT_CHUNK_BYTES + 5);
  const id = attachmentIdOf(bytes);
  t.match((await uploadAttachment(a, bytes)).end, { type: 'attachment_uploaded' });
  const again = await uploadAttachment(a, bytes);
  t.match(again.first, { type: 'attachment_uploaded', length: bytes.length }, 'its owner is told at once');
  t.equal(again.sent, 0);
  const notFound = await downloadAttachment(b, id);
  t.match(notFound.first, { type: 'error', code: 'attachment_not_found' }, 'bob may not read it before uploading it');
  const byBob = await uploadAttachment(b, bytes);
  t.match(byBob.first, { type: 'upload_ready', offset: 0 }, 'bob uploads from the start');
  t.equal(byBob.sent, bytes.length);
  t.match(byBob.end, { type: 'attachment_uploaded' });
  t.ok((await downloadAttachment(b, id)).bytes.equals(bytes));
  const stored = await ts.tdb.db.query<{ n: number; chunks: number }>(
    `SELECT (SELECT count(*)::int FROM attachments WHERE id = $1) AS n,
            (SELECT count(*)::int FROM attachment_chunks c JOIN attachments a ON a.blob_id = c.blob_id WHERE a.id = $1) AS chunks`,
    [id],
  );
  t.same(stored.rows[0], { n: 1, chunks: 2 }, 'one copy');
  const orphanChunks = await ts.tdb.db.query('SELECT 1 FROM attachment_chunks c WHERE NOT EXISTS (SELECT 1 FROM attachments a WHERE a.blob_id = c.blob_id) AND NOT EXISTS (SELECT 1 FROM attachment_uploads u WHERE u.blob_id = c.blob_id)');
  t.equal(orphanChunks.rowCount, 0, "bob's copy was deleted");
});

t.test("another user's and another application's attachment reads exactly like a nonexistent one", async (t) => {
  const otherApp = await ts.tdb.credentials('other app');
  const owner = await TestClient.connect(ts.url, alice);
  const sameApp = await TestClient.connect(ts.url, bob);
  const stranger = await TestClient.connect(ts.url, { email: 'alice@example.com', apiKey: otherApp.apiKey, secret: otherApp.secret });
  t.teardown(() => [owner, sameApp, stranger].forEach((c) => c.close()));
  const bytes = randomBytes(1000);
  const id = attachmentIdOf(bytes);
  await uploadAttachment(owner, bytes);
  const nowhere = attachmentIdOf(randomBytes(1000));
  const shape = (r: Awaited<ReturnType<typeof downloadAttachment>>) => {
    const { request_id: _, ...rest } = r.first as { request_id?: string };
    return { ...rest, message: (rest as { message: string }).message.replace(/sha256-[0-9a-f]{64}/, 'ID') };
  };
  const existing = shape(await downloadAttachment(sameApp, id));
  t.same(existing, shape(await downloadAttachment(sameApp, nowhere)));
  t.same(existing, shape(await downloadAttachment(stranger, id)), 'same-email user of another application');
  t.match(existing, { type: 'error', code: 'attachment_not_found' });
  t.equal(sameApp.binary.length + stranger.binary.length, 0, 'not a byte');
});

// Larger than everything the kernel buffers on loopback: a client that stops reading stops the download.
const BIG = randomBytes(32 * 1024 * 1024);
const BIG_ID = attachmentIdOf(BIG);
const BIG_CHUNKS = Math.ceil(BIG.length / ATTACHMENT_CHUNK_BYTES);

async function metric(name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${ts.httpUrl}/metrics`)).text();
  const escaped = `${name}${labels}`.replace(/[{}"]/g, '\\$&');
  return Number(new RegExp(`^${escaped} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
}

function socketOf(c: TestClient): { pause(): void; resume(): void } {
  return (c.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
}

t.test('a big upload', async (t) => {
  const c = await TestClient.connect(ts.url, alice);
  t.teardown(() => c.close());
  t.match((await uploadAttachment(c, BIG)).end, { type: 'attachment_uploaded', length: BIG.length });
});

t.test('a reader that stops costs the server a bounded buffer, and gets every byte when it reads again', async (t) => {
  const r = await TestClient.connect(ts.url, alice);
  t.teardown(() => r.close());
  const pieces: Buffer[] = [];
  r.onBinary = (frame) => pieces.push(frame.subarray(41));
  socketOf(r).pause();
  r.send({ type: 'download_attachment', attachment: BIG_ID, request_id: 'slow' });
  // The request is answered from the database first: the download starts once that came back.
  while ((await metric('sync_attachment_downloads')) === 0) await new Promise((res) => setTimeout(res, 10));
  // Samples while the download is stuck on the stalled reader: what the server holds never grows past
  // the high-water mark and one frame, and nothing waits in its own queue.
  let samples = 0;
  while (samples < 30) {
    t.equal(await metric('sync_attachment_downloads'), 1, 'the download is still running');
    const buffered = await metric('sync_socket_buffered_bytes');
    t.ok(buffered <= 2 * ATTACHMENT_CHUNK_BYTES + 1024, `uWS holds ${buffered} bytes`);
    t.equal(await metric('sync_outbound_queued_bytes'), 0);
    samples++;
    await new Promise((res) => setTimeout(res, 30));
  }
  socketOf(r).resume();
  await r.next((m) => m.type === 'download_complete', 60_000);
  t.ok(Buffer.concat(pieces).equals(BIG), 'every byte, in order');
});

t.test('a download does not hold the connection: replies and pushes come between its chunks', async (t) => {
  const a = await TestClient.connect(ts.url, alice);
  const other = await TestClient.connect(ts.url, alice);
  t.teardown(() => {
    a.close();
    other.close();
  });
  let chunks = 0;
  a.onBinary = () => chunks++;
  socketOf(a).pause();
  a.send({ type: 'download_attachment', attachment: BIG_ID, request_id: 'd-flow' });
  // Answered from the database through the connection's frame queue: held behind the download, it could not come before its end.
  a.send({ type: 'get_changes_since', last_sequence: 0 });
  const created = await other.create({ title: 'during a download' });
  socketOf(a).resume();
  await a.next((m) => m.type === 'changes', 60_000);
  t.ok(chunks < BIG_CHUNKS, `the reply came after ${chunks} of ${BIG_CHUNKS} chunks`);
  await a.next((m) => m.type === 'document_created' && m.document.id === created.document_id, 60_000);
  t.ok(chunks < BIG_CHUNKS, `the push came after ${chunks} of ${BIG_CHUNKS} chunks`);
  await a.next((m) => m.type === 'download_complete', 60_000);
  t.equal(chunks, BIG_CHUNKS);
});

t.test('at most 4 downloads at once on one connection', async (t) => {
  const a = await TestClient.connect(ts.url, alice);
  t.teardown(() => a.close());
  a.onBinary = () => {};
  // Not reading: the downloads cannot finish while the fifth is asked for.
  socketOf(a).pause();
  const limited = await metric('sync_errors_total', '{code="rate_limited"}');
  for (let i = 0; i < 5; i++) a.send({ type: 'download_attachment', attachment: BIG_ID, request_id: `d${i}` });
  while ((await metric('sync_errors_total', '{code="rate_limited"}')) === limited) await new Promise((r) => setTimeout(r, 20));
  socketOf(a).resume();
  t.match(await a.next((m) => m.type === 'error'), { code: 'rate_limited', request_id: 'd4' });
  for (let i = 0; i < 4; i++) await a.next((m) => m.type === 'download_complete' && m.request_id === `d${i}`, 60_000);
});
