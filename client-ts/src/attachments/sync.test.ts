import t, { type Test } from 'tap';
import { attachmentIdOf, startTcpProxy, type TcpProxy } from '@json-sync/test-support';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ATTACHMENT_CHUNK_BYTES, type AttachmentRef } from '@json-sync/core';
import { SyncError } from '../errors.js';
import { refusal } from '../test-support/refusal.js';
import { EventType, type SyncEvent } from '../events.js';
import { fileAttachmentId, randomFile, uploaded } from '../test-support/attachment-files.js';
import { eventually, harness, nextEvent, record } from '../test-support/harness.js';

const C = ATTACHMENT_CHUNK_BYTES;
const MB = 1024 * 1024;
/** The built engine a child process imports (this process runs the TypeScript source). */
const DIST_INDEX = fileURLToPath(new URL('../../dist/src/index.js', import.meta.url));

const h = await harness();
t.teardown(() => h.teardown());

/** A TCP proxy in front of the server (test-support's), and the server URL that goes through it. */
async function proxied(t: Test): Promise<{ proxy: TcpProxy; url: string }> {
  const proxy = await startTcpProxy(h.server.port);
  t.teardown(() => proxy.close());
  const url = new URL(h.options('x', 'x@example.com').serverUrl);
  url.port = String(proxy.port);
  return { proxy, url: url.toString() };
}

function attachmentEvents(events: SyncEvent[], type: EventType, id: string): SyncEvent[] {
  return events.filter((e) => e.type === type && (e.content as AttachmentRef | null)?.$attachment === id);
}

t.test('TS to TS: bytes added on one device read the same on another; lazy fetches on read, eager as documents arrive', async (t) => {
  const email = 'roundtrip@example.com';
  const a = h.engine('rt-a', email);
  const lazy = h.engine('rt-lazy', email);
  const eager = h.engine('rt-eager', email, { attachmentFetch: 'eager' });
  await Promise.all([a, lazy, eager].map((e) => e.whenSynced()));
  const aEvents = record(a);
  const lazyEvents = record(lazy);
  const eagerEvents = record(eager);
  for (const size of [0, 1, C - 1, C, C + 1]) {
    const bytes = randomBytes(size);
    const ref = a.addAttachment(bytes, { contentType: 'application/x-sample' });
    const doc = a.createDocument({ title: `sample ${size}`, sample: ref });
    await uploaded(a, ref.$attachment);
    t.equal(a.attachmentState(ref)?.uploaded, true, `${size} B: uploaded`);
    t.ok(await eventually(() => lazy.getDocument(doc) !== null && eager.getDocument(doc) !== null), `${size} B: the document arrived`);
    t.equal(lazy.attachmentState(ref), null, `${size} B: lazy fetched nothing by itself`);
    t.equal(lazy.readAttachment(ref), null);
    const got = await lazy.getAttachment(lazy.getDocument(doc)!.content.sample as AttachmentRef);
    t.ok(got.equals(bytes), `${size} B: the bytes read the same`);
    t.equal(attachmentIdOf(got), ref.$attachment, `${size} B: digest`);
    t.same(lazy.attachmentState(ref), { local: true, received: size, length: size, uploaded: true });
    const done = attachmentEvents(lazyEvents, EventType.AttachmentCompleted, ref.$attachment);
    t.match(done, [{ documentId: null, title: null, numericData: size, booleanData: false, content: ref }], `${size} B: one download completed`);
    t.match(attachmentEvents(aEvents, EventType.AttachmentCompleted, ref.$attachment), [{ numericData: size, booleanData: true, content: ref }]);
    t.ok(await eventually(() => eager.attachmentState(ref)?.local === true, 20_000), `${size} B: eager fetched it unasked`);
    t.ok(eager.readAttachment(ref)?.equals(bytes));
  }
  t.equal(a.pendingAttachmentUploads(), 0);
  t.same(eagerEvents.filter((e) => e.type === EventType.AttachmentFailed), [], 'eager downloads tried before the upload was done retried quietly');
  t.equal(eagerEvents.filter((e) => e.type === EventType.AttachmentCompleted && !e.booleanData).length, 5, 'and each completed once');
});

t.test('not here and offline is `connection`; another user\'s attachment is `not_found`; the pending count follows the queue', async (t) => {
  const alice = 'alice-att@example.com';
  const a = h.engine('nf-a', alice, { online: false });
  const b = h.engine('nf-b', alice);
  const carol = h.engine('nf-c', 'carol-att@example.com');
  const refs = [a.addAttachment(Buffer.from('one')), a.addAttachment(Buffer.from('two')), a.addAttachment(Buffer.from('three')), a.addAttachment(Buffer.from('one'))];
  t.equal(a.pendingAttachmentUploads(), 3, 'three distinct attachments wait');
  a.setOnline(true);
  t.ok(await eventually(() => a.pendingAttachmentUploads() === 0, 20_000), 'all uploaded once online');
  await Promise.all([b.whenSynced(), carol.whenSynced()]);

  const cEvents = record(carol);
  t.match(await refusal(() => carol.getAttachment(refs[0]!)), { code: 'not_found', message: /no such attachment/ });
  t.match(await refusal(() => carol.fetchAttachment(refs[1]!)), { code: 'not_found' });
  t.match(attachmentEvents(cEvents, EventType.AttachmentFailed, refs[0]!.$attachment), [{ booleanData: false, error: /attachment_not_found/ }]);
  t.equal(carol.attachmentState(refs[0]!), null, 'nothing kept of a refused download');
  t.match(await refusal(() => carol.getAttachment(attachmentIdOf(Buffer.from('never uploaded')))), { code: 'not_found' });

  b.setOnline(false);
  t.match(await refusal(() => b.getAttachment(refs[2]!)), { code: 'connection', message: /not stored on this device and the engine is not connected/ });
  t.match(await refusal(() => b.saveAttachment(refs[2]!, join(h.dir, 'never'))), { code: 'connection' });
  const streamError = await new Promise<Error>((resolve) => b.attachmentStream(refs[2]!).on('error', resolve).resume());
  t.equal((streamError as SyncError).code, 'connection');
  b.setOnline(true);
  await b.whenSynced();
  t.ok((await b.getAttachment(refs[2]!)).equals(Buffer.from('three')), 'online again, it is fetched');
  t.equal(b.readAttachment(refs[2]!)?.toString(), 'three', 'and stays local');
});

t.test('an upload cut mid-way goes on from the server\'s offset; so does a download', async (t) => {
  const email = 'cut@example.com';
  const { proxy, url } = await proxied(t);
  const up = h.engine('cut-up', email, { serverUrl: url });
  await up.whenSynced();
  const bytes = randomBytes(24 * MB);
  const ref = up.addAttachment(bytes);
  const cutAt = await nextEvent(up, EventType.AttachmentProgress, (e) => e.booleanData);
  proxy.cutAll();
  const upAtCut = proxy.bytesUp;
  t.ok(cutAt.numericData > 0 && cutAt.numericData < bytes.length, `cut with ${cutAt.numericData} bytes confirmed`);
  await uploaded(up, ref.$attachment);
  const resent = proxy.bytesUp - upAtCut;
  // From the server's offset: what it had confirmed is not sent again (at most the window in flight, and framing).
  t.ok(resent < bytes.length - cutAt.numericData + 2 * MB, `${resent} bytes sent after the cut for ${bytes.length - cutAt.numericData} unconfirmed`);

  const down = h.engine('cut-down', email, { serverUrl: url });
  await down.whenSynced();
  const fetching = down.fetchAttachment(ref);
  const first = await nextEvent(down, EventType.AttachmentProgress, (e) => !e.booleanData);
  proxy.cutAll();
  t.match(await refusal(() => fetching), { code: 'connection', message: /lost while attachment .* downloaded/ });
  const kept = down.attachmentState(ref)!;
  t.ok(kept.received >= first.numericData && kept.received < bytes.length && !kept.local, `partial kept (${kept.received} bytes), not readable`);
  t.equal(down.readAttachment(ref), null);
  await down.whenSynced();
  const downAtRetry = proxy.bytesDown;
  const got = await down.getAttachment(ref);
  t.ok(got.equals(bytes), 'the resumed download has every byte right');
  const fetched = proxy.bytesDown - downAtRetry;
  t.ok(fetched < bytes.length - kept.received + MB, `${fetched} bytes fetched after the cut for ${bytes.length - kept.received} missing`);
});

t.test('an engine SIGKILLed mid-upload goes on with it after reopening', async (t) => {
  const email = 'killed@example.com';
  const source = join(h.dir, 'kill-source.bin');
  const id = await randomFile(source, 32 * MB);
  const opts = { ...h.options('killed', email), logger: undefined };
  const script = join(h.dir, 'kill-child.mjs');
  writeFileSync(
    script,
    `import { SyncEngine, EventType } from ${JSON.stringify(DIST_INDEX)};
const [opts, file] = process.argv.slice(2);
const engine = SyncEngine.open(JSON.parse(opts));
engine.onEvent((e) => process.stdout.write('progress ' + e.numericData + '\\n'), EventType.AttachmentProgress);
engine.addAttachmentFile(file).then((ref) => process.stdout.write('added ' + ref.$attachment + '\\n'));
`,
  );
  const child = spawn(process.execPath, [script, JSON.stringify(opts), source], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const confirmed = await new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      const m = /progress (\d+)/.exec(out);
      if (m && out.includes('added')) {
        child.kill('SIGKILL');
        resolve(Number(m[1]));
      }
    });
    child.on('exit', () => reject(new Error(`child exited first: ${out}`)));
  });
  await new Promise((r) => child.once('exit', r));
  t.match(out, `added ${id}`);
  t.ok(confirmed < 32 * MB, `killed with ${confirmed} bytes confirmed`);

  const { proxy, url } = await proxied(t);
  const reopened = h.engine('killed', email, { serverUrl: url });
  t.equal(reopened.pendingAttachmentUploads(), 1, 'the upload is still queued');
  t.same(reopened.attachmentState(id), { local: true, received: 32 * MB, length: 32 * MB, uploaded: false });
  await uploaded(reopened, id);
  t.equal(reopened.pendingAttachmentUploads(), 0);
  t.ok(proxy.bytesUp < 32 * MB - confirmed + 2 * MB, `${proxy.bytesUp} bytes sent after reopening for ${32 * MB - confirmed} the server had not confirmed`);
  const other = h.engine('killed-other', email);
  await other.whenSynced();
  const saved = join(h.dir, 'kill-saved.bin');
  await other.saveAttachment(id, saved);
  t.equal(await fileAttachmentId(saved), id, 'another device reads every byte right');
});

t.test('eviction beyond the cache size: least recently used first, never a referenced one or one waiting to upload', async (t) => {
  const email = 'evict@example.com';
  const e = h.engine('evict', email);
  await e.whenSynced();
  const [A, B, C2, D] = ['A', 'B', 'C', 'D'].map((n) => e.addAttachment(Buffer.alloc(1000, n)));
  e.createDocument({ title: 'keeps A', file: A! });
  t.ok(await eventually(() => e.pendingAttachmentUploads() === 0), 'uploaded');
  e.readAttachment(C2!);
  e.readAttachment(B!);
  e.setOnline(false);
  const E = e.addAttachment(Buffer.alloc(1000, 'E'));
  await e.close();

  const small = h.engine('evict', email, { online: false, attachmentCacheBytes: 3000 });
  t.equal(small.pendingAttachmentUploads(), 1);
  const F = small.addAttachment(Buffer.alloc(1000, 'F'));
  t.same(
    [A, B, C2, D, E, F].map((r) => small.attachmentState(r!)?.local ?? false),
    [true, false, false, false, true, true],
    'D, C, B evicted (least recently used first); A referenced, E and F waiting to upload',
  );
});
