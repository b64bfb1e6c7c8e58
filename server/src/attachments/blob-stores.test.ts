import t, { type Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ATTACHMENT_CHUNK_BYTES, newUuid } from '@json-sync/core';
import { createTestDatabase } from '@json-sync/test-support';
import type { Database } from '../db/database.js';
import { PGliteDatabase } from '../db/pglite.js';
import { PostgresDatabase } from '../db/postgres.js';
import { createLogger } from '../logger.js';
import { pgliteCopy } from '../test-support/pglite-template.js';
import type { BlobStore } from './blob-store.js';
import { DirectoryBlobStore } from './dir-blob-store.js';
import { PostgresBlobStore } from './pg-blob-store.js';

// The blob interface's contract, held by every implementation: on PostgreSQL, on the embedded
// database, and in a directory.

async function postgres(t: Test): Promise<Database> {
  const tdb = await createTestDatabase('att_blobs');
  const db = new PostgresDatabase(tdb.url, createLogger('silent'), 4);
  t.teardown(async () => {
    await db.close();
    await tdb.drop();
  });
  return db;
}

async function pglite(t: Test): Promise<Database> {
  const dir = await pgliteCopy();
  const db = await PGliteDatabase.open(dir);
  t.teardown(async () => {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return db;
}

async function readAll(store: BlobStore, id: string, from = 0): Promise<{ bytes: Buffer; pieces: number[] }> {
  const pieces: Buffer[] = [];
  for await (const p of store.read(id, from)) pieces.push(Buffer.from(p));
  return { bytes: Buffer.concat(pieces), pieces: pieces.map((p) => p.length) };
}

const stores: [string, (t: Test) => Promise<{ store: BlobStore; db: Database; root?: string }>][] = [
  ['postgres', async (t) => { const db = await postgres(t); return { db, store: new PostgresBlobStore(db) }; }],
  ['postgres on the embedded database', async (t) => { const db = await pglite(t); return { db, store: new PostgresBlobStore(db) }; }],
  [
    'directory',
    async (t) => {
      const db = await pglite(t);
      const root = mkdtempSync(join(tmpdir(), 'att-dir-store-'));
      t.teardown(() => rmSync(root, { recursive: true, force: true }));
      return { db, store: new DirectoryBlobStore(join(root, 'blobs')), root };
    },
  ],
];

for (const [name, make] of stores) {
  t.test(name, async (t) => {
    const { store, db, root } = await make(t);
    const append = (id: string, offset: number, bytes: Buffer) => db.transaction((tx) => store.append(id, offset, bytes, tx));

    t.test('appends read back in order, from any offset, in pieces of at most a chunk', async (t) => {
      const id = newUuid();
      const bytes = randomBytes(ATTACHMENT_CHUNK_BYTES * 2 + 300);
      await append(id, 0, bytes.subarray(0, 100));
      await append(id, 100, bytes.subarray(100, ATTACHMENT_CHUNK_BYTES + 100));
      await append(id, ATTACHMENT_CHUNK_BYTES + 100, bytes.subarray(ATTACHMENT_CHUNK_BYTES + 100));
      const all = await readAll(store, id);
      t.ok(all.bytes.equals(bytes));
      t.ok(all.pieces.every((n) => n > 0 && n <= ATTACHMENT_CHUNK_BYTES), `pieces ${all.pieces.join(',')}`);
      for (const from of [1, 99, 100, 101, ATTACHMENT_CHUNK_BYTES + 150, bytes.length - 1]) {
        t.ok((await readAll(store, id, from)).bytes.equals(bytes.subarray(from)), `from ${from}`);
      }
      t.equal((await readAll(store, id, bytes.length)).bytes.length, 0, 'from the end: nothing');
      t.equal((await readAll(store, id, bytes.length + 10)).bytes.length, 0, 'past the end: nothing');
    });

    t.test('writing at an offset drops what the blob held from there on', async (t) => {
      const id = newUuid();
      await append(id, 0, Buffer.from('hello '));
      await append(id, 6, Buffer.from('world, and more'));
      await append(id, 6, Buffer.from('there'));
      t.equal((await readAll(store, id)).bytes.toString(), 'hello there');
    });

    t.test('a deleted blob reads as empty; deleting twice or a blob never written is no error', async (t) => {
      const id = newUuid();
      await append(id, 0, Buffer.from('bytes'));
      await store.delete(id);
      t.equal((await readAll(store, id)).bytes.length, 0);
      await store.delete(id);
      await store.delete(newUuid());
    });

    t.test('ids that are not uuids never reach the store', async (t) => {
      const before = root ? readdirSync(root) : [];
      for (const hostile of ['../escape', '../../etc/passwd', '/tmp/x', 'a/b', '', '.', newUuid().toUpperCase(), `${newUuid()}/../x`]) {
        await t.rejects(append(hostile, 0, Buffer.from('x')), { code: 'invalid_blob_id' }, `append ${JSON.stringify(hostile)}`);
        await t.rejects(readAll(store, hostile), { code: 'invalid_blob_id' });
        await t.rejects(store.delete(hostile), { code: 'invalid_blob_id' });
      }
      if (root) t.same(readdirSync(root), before, 'nothing made beside the store directory');
    });
  });
}
