import t from 'tap';
import { attachmentIdOf } from '@json-sync/test-support';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import Database from 'better-sqlite3-multiple-ciphers';
import { ATTACHMENT_CHUNK_BYTES } from '@json-sync/core';
import { SyncEngine } from '../engine.js';
import { refusal } from '../test-support/refusal.js';
import { filesHolding } from '../test-support/encryption.js';
import { localEngines } from '../test-support/harness.js';

const C = ATTACHMENT_CHUNK_BYTES;
const SIZES = [0, 1, C - 1, C, C + 1, 3 * C + 5];


/** Pieces of `bytes` of uneven sizes, as a stream would deliver them. */
async function* pieces(bytes: Uint8Array, sizes = [1, 1000, C + 7, 5]): AsyncGenerator<Uint8Array> {
  let at = 0;
  for (let i = 0; at < bytes.length; i++) {
    const n = sizes[i % sizes.length]!;
    yield bytes.subarray(at, at + n);
    at += n;
  }
}

/** A second, read-only connection to an unencrypted engine's file. */
function peek(path: string): Database.Database {
  return new Database(path, { readonly: true });
}

t.test('bytes added from a buffer, a file or a stream read back the same, named by their SHA-256, waiting to upload', async (t) => {
  const local = localEngines(t);
  const e = local.engine('add');
  let pending = 0;
  for (const size of SIZES) {
    const bytes = randomBytes(size);
    const file = join(local.dir, `f${size}`);
    writeFileSync(file, bytes);
    const refs = [
      e.addAttachment(bytes, { contentType: 'audio/wav' }),
      await e.addAttachmentFile(file, { contentType: 'audio/wav' }),
      await e.addAttachmentStream(pieces(bytes), { contentType: 'audio/wav' }),
      await e.addAttachmentStream(Readable.from([Buffer.from(bytes)]), { contentType: 'audio/wav' }),
    ];
    for (const ref of refs) t.same(ref, { $attachment: attachmentIdOf(bytes), length: size, content_type: 'audio/wav' }, `${size} B`);
    pending++;
    t.ok(e.readAttachment(refs[0]!)?.equals(bytes), `${size} B read by reference`);
    t.ok(e.readAttachment(attachmentIdOf(bytes))?.equals(bytes), `${size} B read by id`);
    t.ok((await e.getAttachment(attachmentIdOf(bytes))).equals(bytes), `${size} B got`);
    const streamed = Buffer.concat(await e.attachmentStream(refs[1]!).toArray());
    t.ok(streamed.equals(bytes), `${size} B streamed`);
    const saved = join(local.dir, `saved${size}`);
    await e.saveAttachment(refs[2]!, saved);
    t.ok(readFileSync(saved).equals(bytes), `${size} B saved`);
    await e.fetchAttachment(refs[0]!);
    t.same(e.attachmentState(refs[0]!), { local: true, received: size, length: size, uploaded: false });
    t.equal(e.pendingAttachmentUploads(), pending, 'the same bytes wait to upload once');
  }
  t.same(readdirSync(local.dir).filter((f) => f.endsWith('.tmp')), [], 'saves leave no temporary file');
  t.equal(e.addAttachment(Buffer.from('x')).content_type, 'application/octet-stream', 'default content type');
});

t.test('the same bytes added twice are stored once; an add the process died in is removed at open', async (t) => {
  const local = localEngines(t);
  const opts = local.options('once', { encryptionKey: undefined });
  let e = SyncEngine.open({ ...opts, online: false });
  const bytes = randomBytes(2 * C + 10);
  e.addAttachment(bytes);
  await e.addAttachmentStream(pieces(bytes));
  e.addAttachment(bytes, { contentType: 'image/png' });
  let db = peek(opts.databasePath);
  t.equal(db.prepare('SELECT count(*) FROM attachments').pluck().get(), 1);
  t.equal(db.prepare('SELECT sum(length(bytes)) FROM attachment_chunks').pluck().get(), bytes.length, 'one copy of the bytes');
  db.close();
  await e.close();

  // What an add leaves when the process dies mid-way: a staging row and some of its chunks.
  const w = new Database(opts.databasePath);
  w.prepare(`INSERT INTO attachments (id, blob, length, content_type, state, received, upload, upload_order, last_used)
             VALUES ('staging-99-1-1', 99, 0, 'application/octet-stream', 'staging', 0, 'none', NULL, 1)`).run();
  w.prepare('INSERT INTO attachment_chunks (blob, offset, bytes) VALUES (99, 0, ?), (99, ?, ?)').run(randomBytes(C), C, randomBytes(100));
  w.close();
  e = SyncEngine.open({ ...opts, online: false });
  t.teardown(() => e.close());
  db = peek(opts.databasePath);
  t.equal(db.prepare(`SELECT count(*) FROM attachments WHERE state = 'staging'`).pluck().get(), 0, 'staging row removed');
  t.equal(db.prepare('SELECT count(*) FROM attachment_chunks WHERE blob = 99').pluck().get(), 0, 'its chunks removed');
  t.equal(db.prepare('SELECT sum(length(bytes)) FROM attachment_chunks').pluck().get(), bytes.length, 'the complete attachment kept');
  db.close();
  t.ok(e.readAttachment(attachmentIdOf(bytes))?.equals(bytes));
});

t.test('a partial download is never readable', async (t) => {
  const local = localEngines(t);
  const opts = local.options('partial', { encryptionKey: undefined });
  SyncEngine.open({ ...opts, online: false }).close();
  const bytes = randomBytes(C + 3);
  const id = attachmentIdOf(bytes);
  const w = new Database(opts.databasePath);
  // Every byte is there, but the digest was not checked yet: still partial.
  w.prepare(`INSERT INTO attachments (id, blob, length, content_type, state, received, upload, upload_order, last_used)
             VALUES (?, 1, ?, 'application/octet-stream', 'partial', ?, 'none', NULL, 1)`).run(id, bytes.length, bytes.length);
  w.prepare('INSERT INTO attachment_chunks (blob, offset, bytes) VALUES (1, 0, ?), (1, ?, ?)').run(bytes.subarray(0, C), C, bytes.subarray(C));
  w.close();
  const e = SyncEngine.open({ ...opts, online: false });
  t.teardown(() => e.close());
  t.equal(e.readAttachment(id), null);
  t.same(e.attachmentState(id), { local: false, received: bytes.length, length: bytes.length, uploaded: false });
  t.equal((await refusal(() => e.getAttachment(id))).code, 'connection', 'offline: not fetched, not read');
  t.equal((await refusal(() => e.saveAttachment(id, join(local.dir, 'out')))).code, 'connection');
  t.equal(e.attachmentState(attachmentIdOf(Buffer.from('never added'))), null, 'unknown: null');
});

t.test('an encrypted database keeps attachment bytes encrypted', async (t) => {
  const local = localEngines(t);
  const marker = Buffer.from('saffron-armadillo-in-attachment-bytes '.repeat(2000));
  for (const encrypted of [false, true]) {
    const opts = local.options(encrypted ? 'sealed' : 'plain', { encryptionKey: encrypted ? randomBytes(32) : undefined });
    const e = SyncEngine.open({ ...opts, online: false });
    e.addAttachment(marker);
    await e.addAttachmentStream(pieces(Buffer.concat([marker, Buffer.from('tail')])));
    const files = filesHolding(opts.databasePath, 'saffron-armadillo-in-attachment-bytes');
    t.equal(files.some((f) => f.holds), !encrypted, `${encrypted ? 'encrypted' : 'plain'}: ${JSON.stringify(files)}`);
    await e.close();
  }
});

t.test('bad input is refused with invalid_input and loses nothing', async (t) => {
  const local = localEngines(t);
  const opts = local.options('bad', { encryptionKey: undefined });
  // As a server that allows 1000-byte attachments would have said.
  SyncEngine.open({ ...opts, online: false }).close();
  const w = new Database(opts.databasePath);
  w.prepare(`INSERT INTO sync_state (key, value) VALUES ('max_attachment_bytes', '1000')`).run();
  w.close();
  const e = SyncEngine.open({ ...opts, online: false });
  t.teardown(() => e.close());
  const kept = e.addAttachment(Buffer.from('kept'));
  const good = attachmentIdOf(Buffer.from('kept'));

  const badIds: unknown[] = ['', 'sha256-', good.toUpperCase(), `${good}0`, 'sha256-../../etc/passwd', null, undefined, 42, [], {}, { $attachment: good }, { ...kept, name: 'x' }, { ...kept, length: -1 }, { ...kept, content_type: 'nope' }];
  for (const bad of badIds) {
    const label = JSON.stringify(bad) ?? String(bad);
    for (const call of [
      () => e.readAttachment(bad as string),
      () => e.getAttachment(bad as string),
      () => e.fetchAttachment(bad as string),
      () => e.saveAttachment(bad as string, join(local.dir, 'x')),
      () => e.attachmentState(bad as string),
      () => e.attachmentStream(bad as string),
    ]) {
      t.equal((await refusal(call)).code, 'invalid_input', label);
    }
  }
  for (const bytes of ['text', null, undefined, [1, 2], 42, { length: 3 }]) {
    t.equal((await refusal(() => e.addAttachment(bytes as never))).code, 'invalid_input', `bytes ${JSON.stringify(bytes)}`);
  }
  for (const options of [null, [], 'audio/wav', { contentType: 'nope' }, { contentType: 'a/' + 'b'.repeat(300) }, { contentType: 42 }, { contentType: '' }]) {
    t.equal((await refusal(() => e.addAttachment(Buffer.from('y'), options as never))).code, 'invalid_input', `options ${JSON.stringify(options)}`);
    t.equal((await refusal(() => e.addAttachmentStream(pieces(Buffer.from('y')), options as never))).code, 'invalid_input');
  }
  t.match(await refusal(() => e.addAttachment(randomBytes(1001))), { code: 'invalid_input', message: /at most 1000 bytes/ });
  const atLimit = e.addAttachment(randomBytes(1000));
  t.equal(atLimit.length, 1000, 'exactly the limit is fine');
  t.match(await refusal(() => e.addAttachmentStream(pieces(randomBytes(5000), [300]))), { code: 'invalid_input', message: /at most 1000/ });
  for (const source of [null, undefined, {}, 'bytes', Buffer.from('x'), Readable.from(['a', 'b'])]) {
    t.equal((await refusal(() => e.addAttachmentStream(source as never))).code, 'invalid_input', `source ${String(source)}`);
  }
  const failing = async function* () {
    yield Buffer.from('some');
    throw new Error('disk unplugged');
  };
  t.match(await refusal(() => e.addAttachmentStream(failing())), { code: 'invalid_input', message: /disk unplugged/ });
  mkdirSync(join(local.dir, 'adir'));
  for (const path of ['', join(local.dir, 'missing'), join(local.dir, 'adir'), 'a\0b', null, 42]) {
    t.equal((await refusal(() => e.addAttachmentFile(path as string))).code, 'invalid_input', `file ${JSON.stringify(path)}`);
  }
  for (const path of ['', join(local.dir, 'no-such-dir', 'out'), join(local.dir, 'adir'), 'a\0b', null]) {
    t.equal((await refusal(() => e.saveAttachment(kept, path as string))).code, 'invalid_input', `save to ${JSON.stringify(path)}`);
  }
  t.same(readdirSync(join(local.dir, 'adir')), [], 'a failed save leaves no temporary file');

  const db = peek(opts.databasePath);
  t.same(db.prepare('SELECT id FROM attachments ORDER BY id').pluck().all(), [good, atLimit.$attachment].sort(), 'only what was accepted is stored');
  t.equal(db.prepare(`SELECT count(*) FROM attachments WHERE state <> 'complete'`).pluck().get(), 0, 'no staging row left behind');
  t.equal(db.prepare('SELECT count(*) FROM attachment_chunks WHERE blob NOT IN (SELECT blob FROM attachments)').pluck().get(), 0, 'no chunk left behind');
  db.close();
  t.ok(e.readAttachment(kept)?.equals(Buffer.from('kept')), 'what was there is still there');
  t.equal(e.pendingAttachmentUploads(), 2);

  await e.close();
  for (const call of [() => e.addAttachment(Buffer.from('z')), () => e.getAttachment(kept), () => e.readAttachment(kept), () => e.pendingAttachmentUploads()]) {
    t.equal((await refusal(call)).code, 'closed');
  }
});

t.test('engine options for attachments are checked', async (t) => {
  const local = localEngines(t);
  for (const extra of [{ attachmentFetch: 'sometimes' }, { attachmentCacheBytes: -1 }, { attachmentCacheBytes: 1.5 }, { attachmentCacheBytes: '1' }]) {
    t.equal((await refusal(() => local.engine('opts', extra as never))).code, 'invalid_input', JSON.stringify(extra));
  }
});
