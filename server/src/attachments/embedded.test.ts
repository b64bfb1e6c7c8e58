import t from 'tap';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { ATTACHMENT_CHUNK_BYTES } from '@json-sync/core';
import { attachmentIdOf, credentialsFrom, downloadAttachment, runCli, startServer, TestClient, uploadAttachment } from '@json-sync/test-support';
import { pgliteCopy } from '../test-support/pglite-template.js';

// Attachments on the embedded database: metadata and bytes (its chunks table), a resume after a
// restart, and collection by the admin command while the server is stopped.

t.test('upload, resume after a restart, download and collect on the embedded database', async (t) => {
  const dir = await pgliteCopy();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  let server = await startServer({ dataDir: dir });
  const id = { email: 'embedded@example.com', ...credentialsFrom(server.stdout()) };
  const bytes = randomBytes(3 * ATTACHMENT_CHUNK_BYTES + 11);
  const attachment = attachmentIdOf(bytes);
  const other = randomBytes(100);

  const c = await TestClient.connect(server.url, id);
  await uploadAttachment(c, bytes, { stopAfter: ATTACHMENT_CHUNK_BYTES });
  await c.next((m) => m.type === 'upload_progress' && m.received === ATTACHMENT_CHUNK_BYTES);
  t.match((await uploadAttachment(c, other)).end, { type: 'attachment_uploaded' });
  c.close();
  t.equal((await server.stop('SIGKILL')).signal, 'SIGKILL');

  server = await startServer({ dataDir: dir });
  const d = await TestClient.connect(server.url, id);
  const r = await uploadAttachment(d, bytes, { contentType: 'image/png' });
  t.match(r.first, { type: 'upload_ready', offset: ATTACHMENT_CHUNK_BYTES });
  t.match(r.end, { type: 'attachment_uploaded', length: bytes.length });
  const down = await downloadAttachment(d, attachment);
  t.match(down.first, { type: 'download_ready', content_type: 'image/png' });
  t.ok(down.bytes.equals(bytes));
  await d.create({ picture: { $attachment: attachment, length: bytes.length, content_type: 'image/png' } });
  d.close();
  t.equal((await server.stop('SIGTERM')).code, 0);

  const gc = await runCli(['gc-attachments', '--grace-hours', '0', '--data-dir', dir], { databaseUrl: null });
  t.equal(gc.code, 0, gc.stderr);
  t.match(gc.stdout, `deleted: ${attachmentIdOf(other)} (100 bytes)`);
  t.notMatch(gc.stdout, attachment);

  server = await startServer({ dataDir: dir });
  t.teardown(() => server.stop());
  const e = await TestClient.connect(server.url, id);
  t.teardown(() => e.close());
  t.ok((await downloadAttachment(e, attachment)).bytes.equals(bytes), 'the referenced one stays');
  t.match((await downloadAttachment(e, attachmentIdOf(other))).first, { code: 'attachment_not_found' });
});
