import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AttachmentRef } from '@json-sync/core';
import { fileAttachmentId, randomFile, uploaded } from '../test-support/attachment-files.js';
import { eventually, harness, serverDoc } from '../test-support/harness.js';

const MB = 1024 * 1024;
/** 200 MB in npm test; ATTACHMENT_MEMORY_MB=1024 for the gigabyte (README, Tests). */
const SIZE_MB = Number(process.env.ATTACHMENT_MEMORY_MB ?? 200);
const rssOf = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;

// A process of its own: the memory measured is this transfer's, not what earlier tests left behind.
const h = await harness();
t.teardown(() => h.teardown());

t.test(`${SIZE_MB} MB each way with bounded memory (engine and server); the document referring to it syncs before the upload is done`, async (t) => {
  const email = 'big@example.com';
  const source = join(h.dir, 'big-source.bin');
  const size = SIZE_MB * MB;
  const id = await randomFile(source, size);
  const a = h.engine('big-a', email);
  const b = h.engine('big-b', email);
  await Promise.all([a.whenSynced(), b.whenSynced()]);
  global.gc?.();
  const base = process.memoryUsage().rss;
  let peak = base;
  const serverPid = h.server.child.pid!;
  const serverBase = rssOf(serverPid);
  let serverPeak = serverBase;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
    serverPeak = Math.max(serverPeak, rssOf(serverPid));
  }, 20);
  t.teardown(() => clearInterval(sampler));

  const ref = await a.addAttachmentFile(source, { contentType: 'audio/wav' });
  t.equal(ref.$attachment, id);
  const done = uploaded(a, id, 180_000);
  const doc = a.createDocument({ title: 'big', sample: ref });
  await a.whenSynced();
  t.ok(await serverDoc(h, doc), 'the document is on the server');
  t.equal(a.attachmentState(ref)?.uploaded, false, 'while the upload still goes on');
  await done;
  await eventually(() => b.getDocument(doc) !== null);
  const saved = join(h.dir, 'big-saved.bin');
  await b.saveAttachment(b.getDocument(doc)!.content.sample as AttachmentRef, saved);
  clearInterval(sampler);
  t.equal(await fileAttachmentId(saved), id, 'saved on the other device, digest equal');
  const grew = (peak - base) / MB;
  const serverGrew = (serverPeak - serverBase) / MB;
  t.comment(`engines' RSS grew ${grew.toFixed(1)} MB over ${(base / MB).toFixed(0)} MB, the server's ${serverGrew.toFixed(1)} MB over ${(serverBase / MB).toFixed(0)} MB, while ${SIZE_MB} MB went up and down`);
  // The bounds: one upload window and a few chunks in flight per transfer, plus SQLite's and V8's
  // own caches; none of it grows with the attachment's size (measured: the engines +17 to +46 MB,
  // the server +105 to +119 MB, the same at 200 MB and at 1 GB — the server's is V8 collecting
  // chunk buffers and query texts lazily).
  t.ok(grew < 128, `the engines' RSS grew less than 128 MB (${grew.toFixed(1)} MB)`);
  t.ok(serverGrew < 192, `the server's RSS grew less than 192 MB (${serverGrew.toFixed(1)} MB)`);
});
