import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { ATTACHMENT_CHUNK_BYTES, attachmentIdOfDigest, encodeAttachmentFrame, FrameKind, type AttachmentRef, type ClientMessageOf } from '@json-sync/core';
import { EventType } from '../events.js';
import { engineFor, fakeServer } from '../test-support/fake-server.js';
import { nextEvent, record } from '../test-support/harness.js';
import { refusal } from '../test-support/refusal.js';

const C = ATTACHMENT_CHUNK_BYTES;
const idOf = (bytes: Uint8Array) => attachmentIdOfDigest(createHash('sha256').update(bytes).digest());

t.test('a download is readable only when its bytes match the id; junk frames are skipped and the engine syncs on', async (t) => {
  const server = await fakeServer(t);
  const good = randomBytes(2 * C + 9);
  const id = idOf(good);
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
    server.send(frame(0, randomBytes(C), FrameKind.DownloadChunk, idOf(Buffer.from('other'))));
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
  const otherId = idOf(other);
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
  const missing = idOf(Buffer.from('missing'));
  const failed = nextEvent(e, EventType.AttachmentFailed, (x) => (x.content as unknown as AttachmentRef).$attachment === missing);
  t.match(await refusal(() => e.getAttachment(missing)), { code: 'not_found' });
  t.match(await failed, { booleanData: false, error: /attachment_not_found/ });
  await t.resolves(e.whenSynced(5000), 'the engine is still synced');
  t.ok(e.isConnected(), 'and connected: junk frames do not cost the connection');
});
