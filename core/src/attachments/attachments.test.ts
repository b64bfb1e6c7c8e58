import t from 'tap';
import { createHash } from 'node:crypto';
import {
  ATTACHMENT_CHUNK_BYTES,
  FRAME_HEADER_BYTES,
  FrameKind,
  attachmentIdOfDigest,
  attachmentIdsOfPatch,
  attachmentRefs,
  decodeAttachmentFrame,
  digestOfAttachmentId,
  encodeAttachmentFrame,
  parseAttachmentRef,
} from '../index.js';
import { parseClientMessage } from '../messages.js';
import type { JsonObject } from '../json-value.js';

const id = attachmentIdOfDigest(createHash('sha256').update('hello').digest());

t.test('a reference is exactly $attachment, length and an optional content_type', async (t) => {
  t.same(parseAttachmentRef({ $attachment: id, length: 5, content_type: 'text/plain; charset=utf-8' }), {
    ok: true,
    ref: { $attachment: id, length: 5, content_type: 'text/plain; charset=utf-8' },
  });
  t.same(parseAttachmentRef({ $attachment: id, length: 0 }), { ok: true, ref: { $attachment: id, length: 0, content_type: 'application/octet-stream' } });
  for (const bad of [
    null,
    [],
    'sha256-x',
    { $attachment: id.toUpperCase(), length: 5 },
    { $attachment: 'sha256-../../etc/passwd', length: 5 },
    { $attachment: id, length: -1 },
    { $attachment: id, length: 1.5 },
    { $attachment: id, length: '5' },
    { $attachment: id, length: 5, content_type: 'no slash' },
    { $attachment: id, length: 5, content_type: 'a/' + 'b'.repeat(300) },
    { $attachment: id, length: 5, name: 'extra' },
  ]) {
    t.equal(parseAttachmentRef(bad).ok, false, JSON.stringify(bad)?.slice(0, 80));
  }
});

t.test('attachmentRefs finds every valid reference once, at any depth, and nothing else', async (t) => {
  const other = attachmentIdOfDigest(Buffer.alloc(32, 7));
  const content: JsonObject = {
    a: { $attachment: id, length: 5, content_type: 'text/plain' },
    list: [{ x: { $attachment: other, length: 9 } }, { $attachment: id, length: 5 }],
    junk: { $attachment: 'nope', length: 1, inner: { $attachment: other, length: 9 } },
    text: '$attachment',
  };
  t.same(
    attachmentRefs(content).map((r) => r.$attachment),
    [id, other],
  );
  let deep: unknown = { $attachment: id, length: 5 };
  for (let i = 0; i < 100_000; i++) deep = [deep];
  t.equal(attachmentRefs(deep as never).length, 1, 'no recursion limit');
  t.same(attachmentRefs(null), []);
});

t.test('ids and digests convert both ways', async (t) => {
  const digest = digestOfAttachmentId(id);
  t.equal(digest.length, 32);
  t.equal(attachmentIdOfDigest(digest), id);
  t.throws(() => digestOfAttachmentId('sha256-00'));
  t.throws(() => attachmentIdOfDigest(Buffer.alloc(31)));
});

t.test('a binary frame names its kind, attachment and offset in a fixed header', async (t) => {
  const bytes = Buffer.from('chunk bytes');
  const frame = encodeAttachmentFrame(FrameKind.UploadChunk, id, 2 ** 40 + 3, bytes);
  t.equal(frame.length, FRAME_HEADER_BYTES + bytes.length);
  const d = decodeAttachmentFrame(frame);
  t.ok(d.ok);
  if (d.ok) {
    t.equal(d.frame.kind, FrameKind.UploadChunk);
    t.equal(d.frame.attachment, id);
    t.equal(d.frame.offset, 2 ** 40 + 3);
    t.same(d.frame.bytes, bytes);
  }
  const empty = decodeAttachmentFrame(encodeAttachmentFrame(FrameKind.DownloadChunk, id, 0, new Uint8Array()));
  t.ok(empty.ok && empty.frame.bytes.length === 0);
  t.notOk(decodeAttachmentFrame(frame.subarray(0, FRAME_HEADER_BYTES - 1)).ok, 'short header');
  const badKind = Buffer.from(frame);
  badKind[0] = 9;
  t.match(decodeAttachmentFrame(badKind), { ok: false, error: /kind 9/ });
  const huge = Buffer.from(frame);
  huge.writeBigUInt64BE(2n ** 63n, 33);
  t.match(decodeAttachmentFrame(huge), { ok: false, error: /offset/ });
  t.throws(() => encodeAttachmentFrame(FrameKind.UploadChunk, id, -1, bytes));
  t.ok(ATTACHMENT_CHUNK_BYTES + FRAME_HEADER_BYTES < 1024 * 1024, 'a chunk frame fits the default frame limit');
});

t.test('upload and download requests are validated like every message', async (t) => {
  t.ok(parseClientMessage({ type: 'upload_attachment', attachment: id, length: 5, request_id: 'u1' }).ok);
  t.ok(parseClientMessage({ type: 'download_attachment', attachment: id, request_id: 'd1', offset: 3 }).ok);
  t.notOk(parseClientMessage({ type: 'upload_attachment', attachment: id, length: -5, request_id: 'u1' }).ok);
  t.notOk(parseClientMessage({ type: 'upload_attachment', attachment: 'sha256-../x', length: 5, request_id: 'u1' }).ok);
  t.notOk(parseClientMessage({ type: 'download_attachment', attachment: id }).ok, 'request_id is required');
});

t.test('attachmentIdsOfPatch finds references a patch adds and ids it writes into references', async (t) => {
  const other = attachmentIdOfDigest(Buffer.alloc(32, 9));
  t.same(
    attachmentIdsOfPatch([
      { op: 'replace', path: '/sample/$attachment', value: other },
      { op: 'add', path: '/b', value: { deep: [{ $attachment: id, length: 5 }] } },
      { op: 'replace', path: '/title', value: other.replace('sha256-', 'sha256-') + 'x' },
      { op: 'replace', path: '/x/$attachment', value: 'not an id' },
      { op: 'remove', path: '/c' },
      null,
    ]),
    [other, id],
  );
  t.same(attachmentIdsOfPatch(null), []);
  t.same(attachmentIdsOfPatch({ op: 'add' }), []);
});
