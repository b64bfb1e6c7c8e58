import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { ATTACHMENT_CHUNK_BYTES, encodeAttachmentFrame, FRAME_HEADER_BYTES, FrameKind, UPLOAD_WINDOW_BYTES, type ServerMessage } from '@json-sync/core';
import { attachmentIdOf, downloadAttachment, startTestServer, TestClient, uploadAttachment, type Identity } from '@json-sync/test-support';

// Wrong, out-of-place and oversized attachment traffic: each gets its clear error, nothing wrong is
// kept, and the server goes on serving.

const ts = await startTestServer({ prefix: 'att_hostile' });
t.teardown(() => ts.teardown());
const alice: Identity = { email: 'alice@example.com', apiKey: ts.apiKey, secret: ts.secret };

const chunk = (id: string, offset: number, bytes: Buffer) => encodeAttachmentFrame(FrameKind.UploadChunk, id, offset, bytes);
const isError = (m: ServerMessage) => m.type === 'error';

async function storedFor(id: string): Promise<{ uploads: number; received: number | null; attachments: number }> {
  const r = await ts.tdb.db.query<{ uploads: number; received: number | null; attachments: number }>(
    `SELECT (SELECT count(*)::int FROM attachment_uploads WHERE attachment = $1) AS uploads,
            (SELECT max(received) FROM attachment_uploads WHERE attachment = $1) AS received,
            (SELECT count(*)::int FROM attachments WHERE id = $1) AS attachments`,
    [id],
  );
  return r.rows[0]!;
}

async function open(): Promise<TestClient> {
  return TestClient.connect(ts.url, alice);
}

t.test('bytes whose SHA-256 is not the id: attachment_digest_mismatch, nothing kept', async (t) => {
  const c = await open();
  t.teardown(() => c.close());
  const bytes = randomBytes(ATTACHMENT_CHUNK_BYTES + 10);
  const claimed = attachmentIdOf(randomBytes(16));
  const r = await uploadAttachment(c, bytes, { attachment: claimed, requestId: 'u-wrong' });
  t.match(r.end, { type: 'error', code: 'attachment_digest_mismatch', request_id: 'u-wrong' });
  t.same(await storedFor(claimed), { uploads: 0, received: null, attachments: 0 });
  t.equal((await ts.tdb.db.query('SELECT 1 FROM attachment_chunks')).rowCount, 0, 'no chunk left anywhere');
  t.match((await downloadAttachment(c, claimed)).first, { code: 'attachment_not_found' });
  const empty = await c.request({ type: 'upload_attachment', attachment: claimed, length: 0, request_id: 'u-0' }, isError);
  t.match(empty, { code: 'attachment_digest_mismatch', request_id: 'u-0' }, 'a zero length is checked at once too');
  const realEmpty = attachmentIdOf(Buffer.alloc(0));
  t.match(await c.request({ type: 'upload_attachment', attachment: realEmpty, length: 0, request_id: 'u-e' }, (m) => m.type === 'attachment_uploaded'), { length: 0 });
});

t.test('a length that lies: more bytes than declared is invalid_chunk; fewer never completes', async (t) => {
  const c = await open();
  t.teardown(() => c.close());
  const bytes = randomBytes(3000);
  const id = attachmentIdOf(bytes);
  await c.request({ type: 'upload_attachment', attachment: id, length: 2000, request_id: 'u-long' }, (m) => m.type === 'upload_ready');
  c.ws.send(chunk(id, 0, bytes));
  t.match(await c.next(isError), { code: 'invalid_chunk', request_id: 'u-long', message: /past the declared length 2000/ });
  t.match(await storedFor(id), { uploads: 1, received: 0, attachments: 0 }, 'nothing stored of the refused chunk');

  const short = randomBytes(1000);
  const shortId = attachmentIdOf(short);
  await c.request({ type: 'upload_attachment', attachment: shortId, length: 5000, request_id: 'u-short' }, (m) => m.type === 'upload_ready');
  c.ws.send(chunk(shortId, 0, short));
  t.match(await c.next((m) => m.type === 'upload_progress'), { received: 1000 });
  await c.ping();
  t.equal(c.all('attachment_uploaded').length + c.all('error').length, 0, 'no answer: the upload waits for the rest');
  t.match(await storedFor(shortId), { uploads: 1, received: 1000, attachments: 0 });
  t.match((await downloadAttachment(c, shortId)).first, { code: 'attachment_not_found' }, 'unreadable until verified');
});

t.test('chunks out of order, overlapping or repeated close the upload; what was stored stays', async (t) => {
  const c = await open();
  t.teardown(() => c.close());
  const bytes = randomBytes(4 * 1000);
  const id = attachmentIdOf(bytes);
  const ready = () => c.request({ type: 'upload_attachment', attachment: id, length: bytes.length, request_id: 'u-order' }, (m) => m.type === 'upload_ready');
  t.match(await ready(), { offset: 0 });
  c.ws.send(chunk(id, 1000, bytes.subarray(1000, 2000)));
  t.match(await c.next(isError), { code: 'invalid_chunk', request_id: 'u-order', message: /offset 1000; the upload continues at 0/ });
  c.ws.send(chunk(id, 0, bytes.subarray(0, 1000)));
  t.match(await c.next(isError), { code: 'invalid_chunk', message: /no upload of sha256-[0-9a-f]+ is open on this connection/ }, 'closed: later chunks are refused');

  t.match(await ready(), { offset: 0 });
  c.ws.send(chunk(id, 0, bytes.subarray(0, 1000)));
  t.match(await c.next((m) => m.type === 'upload_progress'), { received: 1000 });
  c.ws.send(chunk(id, 0, bytes.subarray(0, 1000)));
  t.match(await c.next(isError), { code: 'invalid_chunk', message: /offset 0; the upload continues at 1000/ }, 'a repeated chunk');
  t.match(await ready(), { offset: 1000 }, 'resumes where the stored bytes end');
  c.ws.send(chunk(id, 500, bytes.subarray(500, 1500)));
  t.match(await c.next(isError), { code: 'invalid_chunk', message: /offset 500/ }, 'an overlapping chunk');
  t.match(await ready(), { offset: 1000 });
  c.ws.send(chunk(id, 1000, Buffer.alloc(0)));
  t.match(await c.next(isError), { code: 'invalid_chunk', message: /empty chunk/ });
  t.match(await ready(), { offset: 1000 });
  c.ws.send(chunk(id, 1000, randomBytes(ATTACHMENT_CHUNK_BYTES + 1)));
  t.match(await c.next(isError), { code: 'invalid_chunk', message: /at most 262144 bytes/ });
  const rest = await uploadAttachment(c, bytes);
  t.match(rest.first, { offset: 1000 });
  t.match(rest.end, { type: 'attachment_uploaded' });
  t.ok((await downloadAttachment(c, id)).bytes.equals(bytes));
});

t.test('binary frames before authentication, with a short header, of an unknown kind or for no open upload', async (t) => {
  const c = await TestClient.open(ts.url);
  t.teardown(() => c.close());
  const id = attachmentIdOf(Buffer.from('x'));
  c.ws.send(chunk(id, 0, Buffer.from('x')));
  t.match(await c.next(), { type: 'error', code: 'invalid_message', message: /after authentication/ });
  t.match(await c.authenticate(alice), { type: 'auth_success' }, 'the connection stayed open');
  c.ws.send(Buffer.alloc(FRAME_HEADER_BYTES - 1));
  t.match(await c.next(isError), { code: 'invalid_message', message: /41-byte header/ });
  const unknown = chunk(id, 0, Buffer.from('x'));
  unknown[0] = 7;
  c.ws.send(unknown);
  t.match(await c.next(isError), { code: 'invalid_message', message: /kind 7/ });
  c.ws.send(chunk(id, 0, Buffer.alloc(1024 * 1024)));
  t.match(await c.next(isError), { code: 'message_too_large' }, 'a binary frame over max_frame_bytes');
  c.ws.send(encodeAttachmentFrame(FrameKind.DownloadChunk, id, 0, Buffer.from('x')));
  t.match(await c.next(isError), { code: 'invalid_message', message: /UploadChunk frames only/ });
  c.ws.send(chunk(id, 0, Buffer.from('x')));
  const none = await c.next(isError);
  t.match(none, { code: 'invalid_chunk', message: /no upload/ });
  t.notOk('request_id' in none, 'no request to name');
  await c.ping();
});

t.test('a chunk for an upload another connection took over is refused', async (t) => {
  const a = await open();
  const b = await open();
  t.teardown(() => {
    a.close();
    b.close();
  });
  const bytes = randomBytes(3000);
  const id = attachmentIdOf(bytes);
  await a.request({ type: 'upload_attachment', attachment: id, length: 3000, request_id: 'ua' }, (m) => m.type === 'upload_ready');
  a.ws.send(chunk(id, 0, bytes.subarray(0, 1000)));
  await a.next((m) => m.type === 'upload_progress');
  t.match(await b.request({ type: 'upload_attachment', attachment: id, length: 3000, request_id: 'ub' }, (m) => m.type === 'upload_ready'), { offset: 1000 });
  a.ws.send(chunk(id, 1000, Buffer.alloc(1000)));
  t.match(await a.next(isError), { code: 'invalid_chunk', request_id: 'ua', message: /taken over/ });
  b.ws.send(chunk(id, 1000, bytes.subarray(1000)));
  t.match(await b.next((m) => m.type === 'attachment_uploaded'), { request_id: 'ub', length: 3000 });
  t.ok((await downloadAttachment(a, id)).bytes.equals(bytes), 'the bytes are the holder’s');
});

t.test('malformed requests are invalid_message naming the request', async (t) => {
  const c = await open();
  t.teardown(() => c.close());
  const id = attachmentIdOf(Buffer.from('y'));
  for (const bad of [
    { type: 'upload_attachment', attachment: 'sha256-../../etc/passwd', length: 1, request_id: 'b1' },
    { type: 'upload_attachment', attachment: id, length: -1, request_id: 'b2' },
    { type: 'upload_attachment', attachment: id, length: 1.5, request_id: 'b3' },
    { type: 'upload_attachment', attachment: id, length: 1, content_type: 'x'.repeat(300), request_id: 'b4' },
    { type: 'download_attachment', attachment: id.toUpperCase(), request_id: 'b5' },
    { type: 'download_attachment', attachment: id, offset: -1, request_id: 'b6' },
  ]) {
    t.match(await c.request(bad, isError), { code: 'invalid_message', request_id: bad.request_id }, JSON.stringify(bad).slice(0, 90));
  }
});

t.test('larger than max_attachment_bytes, or over the quota: refused before any byte', async (t) => {
  const limited = await ts.startAnother({ args: ['--max-attachment-bytes', '5000', '--attachment-quota-bytes', '6000'] });
  const c = await TestClient.open(limited.url);
  t.teardown(() => c.close());
  t.match(await c.authenticate({ ...alice, email: 'quota@example.com' }), { limits: { max_attachment_bytes: 5000, attachment_quota_bytes: 6000 } });
  const big = randomBytes(5001);
  t.match((await uploadAttachment(c, big, { requestId: 'too-big' })).first, { type: 'error', code: 'attachment_too_large', request_id: 'too-big' });
  t.match(await storedFor(attachmentIdOf(big)), { uploads: 0 });
  const first = randomBytes(4000);
  t.match((await uploadAttachment(c, first)).end, { type: 'attachment_uploaded' });
  const pending = randomBytes(1500);
  t.match((await uploadAttachment(c, pending, { stopAfter: 0 })).first, { type: 'upload_ready' }, '4000 + 1500 fit');
  const over = randomBytes(600);
  t.match((await uploadAttachment(c, over, { requestId: 'over' })).first, { type: 'error', code: 'attachment_quota_exceeded', request_id: 'over' }, 'an upload in progress counts');
  t.match((await uploadAttachment(c, pending)).end, { type: 'attachment_uploaded' }, 'resuming one in progress is not counted twice');
  t.match((await uploadAttachment(c, first)).first, { type: 'attachment_uploaded' }, 'one already owned is answered, quota or not');
});

t.test('a client that ignores the upload window is disconnected; the server carries on', async (t) => {
  const c = await open();
  // Three windows at once: more than any client keeping to the window can have unconfirmed.
  const bytes = randomBytes(3 * UPLOAD_WINDOW_BYTES);
  const id = attachmentIdOf(bytes);
  await c.request({ type: 'upload_attachment', attachment: id, length: bytes.length, request_id: 'flood' }, (m) => m.type === 'upload_ready');
  for (let o = 0; o < bytes.length; o += ATTACHMENT_CHUNK_BYTES) c.ws.send(chunk(id, o, bytes.subarray(o, o + ATTACHMENT_CHUNK_BYTES)));
  t.match(await c.closed, { code: 1008, reason: 'upload window exceeded' });
  const d = await open();
  t.teardown(() => d.close());
  await d.ping();
  const r = await uploadAttachment(d, bytes);
  t.ok(r.first.type === 'upload_ready' && r.first.offset % ATTACHMENT_CHUNK_BYTES === 0 && r.first.offset < bytes.length, 'what was stored before the cut stays');
  t.match(r.end, { type: 'attachment_uploaded' });
  t.ok(createHash('sha256').update((await downloadAttachment(d, id)).bytes).digest().equals(createHash('sha256').update(bytes).digest()));
});
