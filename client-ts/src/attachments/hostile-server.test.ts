import t from 'tap';
import { attachmentIdOf } from '@json-sync/test-support';
import { randomBytes } from 'node:crypto';
import { ATTACHMENT_CHUNK_BYTES, contentHash, decodeAttachmentFrame, encodeAttachmentFrame, FrameKind, UPLOAD_WINDOW_BYTES, type AttachmentRef, type ClientMessageOf } from '@json-sync/core';
import { EventType } from '../events.js';
import { engineFor, fakeServer } from '../test-support/fake-server.js';
import { eventually, nextEvent, record } from '../test-support/harness.js';
import { refusal } from '../test-support/refusal.js';

const C = ATTACHMENT_CHUNK_BYTES;

t.test('a download is readable only when its bytes match the id; junk frames are skipped and the engine syncs on', async (t) => {
  const server = await fakeServer(t);
  const good = randomBytes(2 * C + 9);
  const id = attachmentIdOf(good);
  /** What the scripted server sends for the next download of `id`. */
  let serve: (m: ClientMessageOf<'download_attachment'>) => void = () => {};
  server.answer((m) => {
    if (m.type === 'get_changes_since') server.send({ type: 'changes', events: [], latest_sequence: 0, has_more: false });
    if (m.type === 'download_attachment') serve(m);
  });
  const e = engineFor(t, server.url);
  await e.whenSynced(5000);
  const events = record(e);
  const frame = (offset: number, bytes: Uint8Array, kind: FrameKind = FrameKind.DownloadChunk, name = id) => encodeAttachmentFrame(kind, name, offset, bytes);

  // Bytes of the right length that are not the attachment's.
  serve = (m) => {
    const wrong = randomBytes(good.length);
    server.send({ type: 'download_ready', request_id: m.request_id, attachment: id, length: good.length, content_type: 'audio/wav', offset: 0 });
    for (let at = 0; at < wrong.length; at += C) server.send(frame(at, wrong.subarray(at, at + C)));
    server.send({ type: 'download_complete', request_id: m.request_id, attachment: id });
  };
  t.match(await refusal(() => e.getAttachment(id)), { code: 'database', message: /do not match its id; they were dropped/ });
  t.equal(e.attachmentState(id), null, 'nothing kept');
  t.match(events.filter((x) => x.type === EventType.AttachmentFailed), [{ booleanData: false, error: /do not match/ }]);

  // Junk among the frames: a short header, an unknown kind, an upload chunk, another attachment's
  // bytes, a frame at the wrong offset and one past the end; then the right bytes.
  serve = (m) => {
    server.send({ type: 'download_ready', request_id: m.request_id, attachment: id, length: good.length, content_type: 'audio/wav', offset: 0 });
    server.send(Buffer.from([2, 1, 2]));
    const unknown = frame(0, good.subarray(0, 10));
    unknown[0] = 9;
    server.send(unknown);
    server.send(frame(0, randomBytes(C), FrameKind.UploadChunk));
    server.send(frame(0, randomBytes(C), FrameKind.DownloadChunk, attachmentIdOf(Buffer.from('other'))));
    server.send(frame(5, randomBytes(C)));
    server.send(frame(good.length - 1, randomBytes(C)));
    for (let at = 0; at < good.length; at += C) server.send(frame(at, good.subarray(at, at + C)));
    server.send({ type: 'download_complete', request_id: m.request_id, attachment: id });
  };
  const got = await e.getAttachment({ $attachment: id, length: good.length, content_type: 'audio/wav' } satisfies AttachmentRef);
  t.ok(got.equals(good), 'the right bytes, and only them, were stored');
  t.same(e.attachmentState(id), { local: true, received: good.length, length: good.length, uploaded: true });

  // A server that ends a download early: the waiter hears of it; the bytes received are kept for the next try.
  const other = randomBytes(C + 1);
  const otherId = attachmentIdOf(other);
  serve = (m) => {
    server.send({ type: 'download_ready', request_id: m.request_id, attachment: otherId, length: other.length, content_type: 'application/octet-stream', offset: m.offset ?? 0 });
    server.send(frame(0, other.subarray(0, C), FrameKind.DownloadChunk, otherId));
    server.send({ type: 'download_complete', request_id: m.request_id, attachment: otherId });
  };
  t.match(await refusal(() => e.fetchAttachment(otherId)), { code: 'connection', message: /ended the download at 262144 of 262145/ });
  t.same(e.attachmentState(otherId), { local: false, received: C, length: C + 1, uploaded: false });
  let resumedFrom = -1;
  serve = (m) => {
    resumedFrom = m.offset ?? 0;
    server.send({ type: 'download_ready', request_id: m.request_id, attachment: otherId, length: other.length, content_type: 'application/octet-stream', offset: resumedFrom });
    server.send(frame(C, other.subarray(C), FrameKind.DownloadChunk, otherId));
    server.send({ type: 'download_complete', request_id: m.request_id, attachment: otherId });
  };
  t.ok((await e.getAttachment(otherId)).equals(other));
  t.equal(resumedFrom, C, 'the next fetch asked from the bytes it had');

  // Refusals answer the request they name.
  serve = (m) => server.send({ type: 'error', code: 'attachment_not_found', message: 'no', request_id: m.request_id });
  const missing = attachmentIdOf(Buffer.from('missing'));
  const failed = nextEvent(e, EventType.AttachmentFailed, (x) => (x.content as AttachmentRef).$attachment === missing);
  t.match(await refusal(() => e.getAttachment(missing)), { code: 'not_found' });
  t.match(await failed, { booleanData: false, error: /attachment_not_found/ });
  await t.resolves(e.whenSynced(5000), 'the engine is still synced');
  t.ok(e.isConnected(), 'and connected: junk frames do not cost the connection');

  // A download the server never answers: closing the engine tells its waiter.
  serve = () => {};
  const hanging = e.getAttachment(attachmentIdOf(Buffer.from('no answer')));
  await e.close();
  t.match(await refusal(() => hanging), { code: 'closed' });
});

t.test('an upload goes from the server\'s offset, within the window of its last progress; refusals stop it until a document refers to it again', async (t) => {
  const server = await fakeServer(t);
  const uploads: ClientMessageOf<'upload_attachment'>[] = [];
  let onUpload: (m: ClientMessageOf<'upload_attachment'>) => void = () => {};
  server.answer((m) => {
    if (m.type === 'get_changes_since') server.send({ type: 'changes', events: [], latest_sequence: 0, has_more: false });
    if (m.type === 'upload_attachment') {
      uploads.push(m);
      onUpload(m);
    }
    if (m.type === 'create_document') {
      server.send({ type: 'document_created_response', document_id: m.document.id, success: true, sync_revision: 1, content_hash: contentHash(m.document.content), sequence: 1, mutation_id: m.mutation_id });
    }
  });
  const frames: { offset: number; length: number; bytes: Buffer }[] = [];
  server.binary((f) => {
    const d = decodeAttachmentFrame(f);
    if (d.ok) frames.push({ offset: d.frame.offset, length: d.frame.bytes.length, bytes: Buffer.from(d.frame.bytes) });
  });
  // More than a window is left after the server's offset, so the window is what stops the client.
  const bytes = randomBytes(UPLOAD_WINDOW_BYTES + 2 * C + 3);
  const resumeAt = C + 100;
  onUpload = (m) => server.send({ type: 'upload_ready', request_id: m.request_id, attachment: m.attachment, offset: resumeAt });
  const e = engineFor(t, server.url);
  const events = record(e);
  const ref = e.addAttachment(bytes, { contentType: 'image/png' });
  await eventually(() => frames.length > 0);
  await new Promise((r) => setTimeout(r, 200));
  const sent = () => frames.reduce((n, f) => n + f.length, 0);
  t.ok(sent() <= UPLOAD_WINDOW_BYTES && sent() > UPLOAD_WINDOW_BYTES - C, `with no progress from the server, the client stops at the window (${sent()} bytes sent)`);
  t.equal(frames[0]!.offset, resumeAt, 'from the server\'s offset');
  for (let i = 1; i < frames.length; i++) t.equal(frames[i]!.offset, frames[i - 1]!.offset + frames[i - 1]!.length, 'each chunk where the last ended');
  t.ok(frames.every((f) => f.length <= C), 'no chunk over ATTACHMENT_CHUNK_BYTES');
  // Confirm what arrived, a chunk at a time, until everything has.
  let confirmed = resumeAt;
  while (confirmed < bytes.length) {
    await eventually(() => resumeAt + sent() > confirmed);
    confirmed = resumeAt + sent();
    t.ok(confirmed - resumeAt <= bytes.length, 'never past the end');
    server.send({ type: 'upload_progress', attachment: ref.$attachment, received: confirmed });
  }
  t.ok(Buffer.concat([bytes.subarray(0, resumeAt), ...frames.map((f) => f.bytes)]).equals(bytes), 'the bytes sent are the attachment\'s, from the offset');
  t.same(uploads.map((u) => [u.attachment, u.length, u.content_type]), [[ref.$attachment, bytes.length, 'image/png']]);
  server.send({ type: 'attachment_uploaded', request_id: uploads[0]!.request_id, attachment: ref.$attachment, length: bytes.length });
  await eventually(() => e.pendingAttachmentUploads() === 0);
  t.equal(e.attachmentState(ref)?.uploaded, true);
  t.match(events.filter((x) => x.type === EventType.AttachmentCompleted), [{ booleanData: true, numericData: bytes.length, content: ref }]);
  const progress = events.filter((x) => x.type === EventType.AttachmentProgress).map((x) => x.numericData);
  t.ok(progress.length >= 1 && progress.every((n, i) => i === 0 || n > progress[i - 1]!), `progress events rise (${progress.join(', ')})`);

  // A permanent refusal: reported, not retried, until a document refers to the bytes again.
  onUpload = (m) => server.send({ type: 'error', code: 'attachment_quota_exceeded', message: 'over quota', request_id: m.request_id });
  const refused = e.addAttachment(Buffer.from('over quota'));
  const failed = await nextEvent(e, EventType.AttachmentFailed, (x) => x.booleanData);
  t.match(failed, { content: refused, error: /attachment_quota_exceeded/, numericData: 0 });
  t.equal(e.pendingAttachmentUploads(), 0, 'not queued any more');
  const asked = uploads.length;
  await new Promise((r) => setTimeout(r, 200));
  t.equal(uploads.length, asked, 'not asked again by itself');
  onUpload = (m) => server.send({ type: 'attachment_uploaded', request_id: m.request_id, attachment: m.attachment, length: m.length });
  e.createDocument({ title: 'refers to it', file: refused });
  await eventually(() => e.attachmentState(refused)?.uploaded === true);
  t.equal(uploads.length, asked + 1, 'a document referring to it queued it again');

  // A transient refusal (the server's database failed): not reported as a failure; the upload is
  // asked for again after a wait, on the same connection, and goes on.
  const failures = events.filter((x) => x.type === EventType.AttachmentFailed).length;
  let refusals = 0;
  onUpload = (m) => {
    if (++refusals <= 2) server.send({ type: 'error', code: 'server_error', message: 'try later', request_id: m.request_id });
    else server.send({ type: 'attachment_uploaded', request_id: m.request_id, attachment: m.attachment, length: m.length });
  };
  const later = e.addAttachment(Buffer.from('later'));
  await eventually(() => refusals === 1);
  t.equal(e.pendingAttachmentUploads(), 1, 'still queued after a transient refusal');
  t.ok(await eventually(() => e.attachmentState(later)?.uploaded === true, 15_000), 'uploaded after two refusals, on the same connection');
  t.equal(refusals, 3);
  t.equal(events.filter((x) => x.type === EventType.AttachmentFailed).length, failures, 'no AttachmentFailed for a refusal that passes');

  // A server that would resume past the end: nothing is sent; asked again later.
  let odd = 0;
  onUpload = (m) => {
    if (++odd === 1) server.send({ type: 'upload_ready', request_id: m.request_id, attachment: m.attachment, offset: m.length + 1 });
    else server.send({ type: 'attachment_uploaded', request_id: m.request_id, attachment: m.attachment, length: m.length });
  };
  const framesBefore = frames.length;
  const oddRef = e.addAttachment(Buffer.from('odd'));
  t.ok(await eventually(() => e.attachmentState(oddRef)?.uploaded === true, 15_000), 'uploaded when asked again');
  t.equal(odd, 2);
  t.equal(frames.length, framesBefore, 'nothing was sent from past the end');

  // A server whose chunk handling fails says so without a request id (binary frames have none):
  // the upload is asked for again and goes on from the server's offset.
  let opened = 0;
  const stored: number[] = [];
  onUpload = (m) => {
    opened++;
    server.send({ type: 'upload_ready', request_id: m.request_id, attachment: m.attachment, offset: stored.length > 0 ? C : 0 });
  };
  server.binary((f) => {
    const d = decodeAttachmentFrame(f);
    if (!d.ok) return;
    stored.push(d.frame.offset);
    if (d.frame.offset === 0) return server.send({ type: 'upload_progress', attachment: d.frame.attachment, received: C });
    if (opened === 1) return server.send({ type: 'error', code: 'server_error', message: 'internal error; retry' });
    server.send({ type: 'attachment_uploaded', request_id: uploads.at(-1)!.request_id, attachment: d.frame.attachment, length: 2 * C });
  });
  const interrupted = e.addAttachment(randomBytes(2 * C));
  t.ok(await eventually(() => e.attachmentState(interrupted)?.uploaded === true, 15_000), 'uploaded after the unnamed failure');
  t.same(stored, [0, C, C], 'asked again, it went on from the server\'s offset');
});

t.test('four uploads open at once, oldest first, sharing one window', async (t) => {
  const server = await fakeServer(t);
  const asked: ClientMessageOf<'upload_attachment'>[] = [];
  server.answer((m) => {
    if (m.type === 'get_changes_since') server.send({ type: 'changes', events: [], latest_sequence: 0, has_more: false });
    if (m.type === 'upload_attachment') asked.push(m);
  });
  const frames: { attachment: string; length: number }[] = [];
  server.binary((f) => {
    const d = decodeAttachmentFrame(f);
    if (d.ok) frames.push({ attachment: d.frame.attachment, length: d.frame.bytes.length });
  });
  const e = engineFor(t, server.url, undefined, { online: false });
  // Each three quarters of a window: the oldest fills most of it, the second the rest.
  const size = (3 * UPLOAD_WINDOW_BYTES) / 4;
  const refs = [0, 1, 2, 3, 4, 5].map(() => e.addAttachment(randomBytes(size)));
  e.setOnline(true);
  await eventually(() => asked.length === 4);
  await new Promise((r) => setTimeout(r, 100));
  t.same(asked.map((m) => m.attachment), refs.slice(0, 4).map((r) => r.$attachment), 'the four oldest, unanswered, in order');
  for (const m of asked) server.send({ type: 'upload_ready', request_id: m.request_id, attachment: m.attachment, offset: 0 });
  await eventually(() => frames.length > 0);
  await new Promise((r) => setTimeout(r, 100));
  const sent = frames.reduce((n, f) => n + f.length, 0);
  t.equal(sent, UPLOAD_WINDOW_BYTES, 'one window over all of them, no progress confirmed');
  t.same([...new Set(frames.map((f) => f.attachment))], refs.slice(0, 2).map((r) => r.$attachment), 'the oldest sends first');
  server.send({ type: 'attachment_uploaded', request_id: asked[3]!.request_id, attachment: asked[3]!.attachment, length: size });
  await eventually(() => asked.length === 5);
  t.equal(asked[4]!.attachment, refs[4]!.$attachment, 'one done (out of order): the next oldest starts');
  t.equal(e.pendingAttachmentUploads(), 5);
});

t.test('four downloads open at once, in the order asked; their frames interleave', async (t) => {
  const server = await fakeServer(t);
  const asked: ClientMessageOf<'download_attachment'>[] = [];
  server.answer((m) => {
    if (m.type === 'get_changes_since') server.send({ type: 'changes', events: [], latest_sequence: 0, has_more: false });
    if (m.type === 'download_attachment') asked.push(m);
  });
  const e = engineFor(t, server.url);
  await e.whenSynced(5000);
  const blobs = [0, 1, 2, 3, 4, 5].map(() => randomBytes(C + 10));
  const reads = blobs.map((b) => e.getAttachment(attachmentIdOf(b)));
  await eventually(() => asked.length === 4);
  await new Promise((r) => setTimeout(r, 100));
  t.same(asked.map((m) => m.attachment), blobs.slice(0, 4).map((b) => attachmentIdOf(b)), 'the first four asked, unanswered, in order');
  // Interleaved: every download's first chunk, then every second chunk, then the ends.
  const serving = (i: number) => ({ m: asked[i]!, bytes: blobs[i]! });
  const ready = (i: number) => {
    const { m, bytes } = serving(i);
    server.send({ type: 'download_ready', request_id: m.request_id, attachment: m.attachment, length: bytes.length, content_type: 'application/octet-stream', offset: 0 });
  };
  const chunk = (i: number, at: number) => {
    const { m, bytes } = serving(i);
    server.send(encodeAttachmentFrame(FrameKind.DownloadChunk, m.attachment, at, bytes.subarray(at, at + C)));
  };
  const complete = (i: number) => server.send({ type: 'download_complete', request_id: serving(i).m.request_id, attachment: serving(i).m.attachment });
  for (let i = 0; i < 4; i++) ready(i);
  for (let i = 0; i < 4; i++) chunk(i, 0);
  for (let i = 3; i >= 0; i--) chunk(i, C);
  for (let i = 0; i < 4; i++) complete(i);
  await eventually(() => asked.length === 6);
  for (const i of [4, 5]) {
    ready(i);
    chunk(i, 0);
    chunk(i, C);
    complete(i);
  }
  const got = await Promise.all(reads);
  t.ok(got.every((g, i) => g.equals(blobs[i]!)), 'each read has its own bytes');
});
