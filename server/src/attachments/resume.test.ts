import t from 'tap';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ATTACHMENT_CHUNK_BYTES, encodeAttachmentFrame, FrameKind } from '@json-sync/core';
import { attachmentIdOf, downloadAttachment, startTestServer, TestClient, uploadAttachment, type Identity } from '@json-sync/test-support';

// Interrupted uploads resume where the stored bytes end, after a lost connection and after the
// server process was killed, on both blob stores.

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SIZE = 3 * 1024 * 1024 + 5;
const FIRST_PART = 4 * ATTACHMENT_CHUNK_BYTES;

const root = mkdtempSync(join(tmpdir(), 'att-store-'));
const store = join(root, 'blobs');
t.teardown(() => rmSync(root, { recursive: true, force: true }));

for (const [name, args] of [
  ['postgres', []],
  ['directory', ['--attachment-store', store]],
] as const) {
  t.test(`${name} store`, async (t) => {
    const ts = await startTestServer({ prefix: 'att_resume', args: [...args] });
    t.teardown(() => ts.teardown());
    const id: Identity = { email: 'r@example.com', apiKey: ts.apiKey, secret: ts.secret };

    /** Sends the first FIRST_PART bytes, waits until the server confirms them, then `interrupt`s. */
    async function interrupted(bytes: Buffer, interrupt: (c: TestClient) => Promise<unknown>): Promise<void> {
      const c = await TestClient.connect(ts.url, id);
      const r = await uploadAttachment(c, bytes, { stopAfter: FIRST_PART });
      t.equal(r.sent, FIRST_PART);
      await c.next((m) => m.type === 'upload_progress' && m.received === FIRST_PART);
      await interrupt(c);
    }

    async function resumeAndCheck(url: string, bytes: Buffer): Promise<void> {
      const c = await TestClient.connect(url, id);
      t.teardown(() => c.close());
      const r = await uploadAttachment(c, bytes);
      t.match(r.first, { type: 'upload_ready', offset: FIRST_PART }, 'resumes where the stored bytes end');
      t.equal(r.sent, bytes.length - FIRST_PART, 'nothing sent twice');
      t.match(r.end, { type: 'attachment_uploaded', length: bytes.length });
      t.ok((await downloadAttachment(c, attachmentIdOf(bytes))).bytes.equals(bytes), 'read back whole');
      if (name === 'postgres') {
        // Rows hold one chunk or a run of them; together they cover the bytes once, end to end.
        const stored = await ts.tdb.db.query<{ offset: string; n: number }>(
          'SELECT c."offset", octet_length(c.bytes) AS n FROM attachment_chunks c JOIN attachments a ON a.blob_id = c.blob_id WHERE a.id = $1 ORDER BY c."offset"',
          [attachmentIdOf(bytes)],
        );
        let end = 0;
        for (const r of stored.rows) {
          if (Number(r.offset) !== end) break;
          end += r.n;
        }
        t.equal(end, bytes.length, 'each byte stored once');
        t.equal(stored.rows.reduce((sum, r) => sum + r.n, 0), bytes.length, 'nothing stored beside them');
      } else {
        const blob = await ts.tdb.db.query<{ blob_id: string }>('SELECT blob_id FROM attachments WHERE id = $1', [attachmentIdOf(bytes)]);
        t.equal(statSync(join(store, blob.rows[0]!.blob_id)).size, bytes.length, 'each byte stored once');
      }
    }

    t.test('after the connection drops mid-upload', async (t) => {
      const bytes = randomBytes(SIZE);
      await interrupted(bytes, async (c) => {
        c.ws.terminate();
        await c.closed;
      });
      await resumeAndCheck(ts.url, bytes);
      t.pass();
    });

    t.test('after the server process is killed mid-upload', async (t) => {
      const bytes = randomBytes(SIZE);
      await interrupted(bytes, async (c) => {
        await ts.restart('SIGKILL');
        await c.closed;
      });
      await resumeAndCheck(ts.url, bytes);
      t.pass();
    });

    t.test('an earlier attempt of another length starts over', async (t) => {
      const bytes = randomBytes(SIZE);
      await interrupted(bytes, async (c) => c.close());
      const c = await TestClient.connect(ts.url, id);
      t.teardown(() => c.close());
      const r = await uploadAttachment(c, bytes, { length: SIZE + 1, stopAfter: 0 });
      t.match(r.first, { type: 'upload_ready', offset: 0 });
      const whole = await uploadAttachment(c, bytes);
      t.match(whole.first, { type: 'upload_ready', offset: 0 });
      t.match(whole.end, { type: 'attachment_uploaded' });
    });

    t.test('on another server process, which takes the upload over', async (t) => {
      const bytes = randomBytes(SIZE);
      const first = await TestClient.connect(ts.url, id);
      t.teardown(() => first.close());
      await uploadAttachment(first, bytes, { stopAfter: FIRST_PART, requestId: 'first' });
      await first.next((m) => m.type === 'upload_progress' && m.received === FIRST_PART);
      const other = await ts.startAnother({ args: [...args] });
      await resumeAndCheck(other.url, bytes);
      first.ws.send(encodeAttachmentFrame(FrameKind.UploadChunk, attachmentIdOf(bytes), FIRST_PART, bytes.subarray(FIRST_PART, FIRST_PART + 10)));
      t.match(await first.next((m) => m.type === 'error'), { code: 'invalid_chunk', request_id: 'first' }, 'the first connection may no longer write');
    });

    if (name === 'directory') {
      t.test('the directory holds only files named by server-made uuids', async (t) => {
        const files = readdirSync(store);
        t.ok(files.length > 0);
        for (const f of files) t.match(f, UUID);
        t.same(readdirSync(root), ['blobs'], 'nothing written beside it');
      });
    }
  });
}
