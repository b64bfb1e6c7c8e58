import t from 'tap';
import { join } from 'node:path';
import type { AttachmentRef } from '@json-sync/core';
import { fileAttachmentId, randomFile, uploaded } from '../test-support/attachment-files.js';
import { eventually, harness, serverDoc } from '../test-support/harness.js';

const MB = 1024 * 1024;

// A process of its own: the memory measured is this transfer's, not what earlier tests left behind.
const h = await harness();
t.teardown(() => h.teardown());

t.test('200 MB each way with bounded memory; the document referring to it syncs before the upload is done', async (t) => {
  const email = 'big@example.com';
  const source = join(h.dir, 'big-source.bin');
  const size = 200 * MB;
  const id = await randomFile(source, size);
  const a = h.engine('big-a', email);
  const b = h.engine('big-b', email);
  await Promise.all([a.whenSynced(), b.whenSynced()]);
  global.gc?.();
  const base = process.memoryUsage().rss;
  let peak = base;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
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
  t.comment(`RSS grew ${grew.toFixed(1)} MB over ${(base / MB).toFixed(0)} MB while 200 MB went up and down`);
  t.ok(grew < 128, `RSS grew less than 128 MB (${grew.toFixed(1)} MB)`);
});
