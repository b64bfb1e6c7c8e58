import type Database from 'better-sqlite3-multiple-ciphers';
import { ATTACHMENT_CHUNK_BYTES } from '@json-sync/core';
import type { LocalStore } from '../storage/local-store.js';

export type UploadState = 'pending' | 'done' | 'none';

export interface AttachmentRow {
  id: string;
  /** The key its chunks are stored under. */
  blob: number;
  length: number;
  content_type: string;
  state: 'complete' | 'partial' | 'staging';
  received: number;
  upload: UploadState;
  upload_order: number | null;
  last_used: number;
}

/** An add in progress has a row of this id (never an attachment id's) until its bytes are hashed. */
const STAGING_PREFIX = 'staging-';

/**
 * The attachments' rows and chunks in the engine's SQLite file (schema step 5). Chunks are stored
 * at the offsets they were written at, so a range is read from the chunk holding its first byte.
 * Every method is synchronous and short: one statement, or one transaction of a few.
 */
export class AttachmentStore {
  private readonly s;
  /** Orders uploads and uses: a counter (above every stored value), not the clock, so ties cannot happen. */
  private tick: number;
  private lastBlob: number;

  constructor(private readonly store: LocalStore) {
    const db: Database.Database = store.db;
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      get: p('SELECT * FROM attachments WHERE id = ?'),
      insert: p(`INSERT INTO attachments (id, blob, length, content_type, state, received, upload, upload_order, last_used)
                 VALUES (@id, @blob, @length, @content_type, @state, @received, @upload, @upload_order, @last_used)`),
      remove: p('DELETE FROM attachments WHERE id = ?'),
      removeChunks: p('DELETE FROM attachment_chunks WHERE blob = ?'),
      putChunk: p('INSERT OR REPLACE INTO attachment_chunks (blob, offset, bytes) VALUES (?, ?, ?)'),
      name: p(`UPDATE attachments SET id = @id, length = @length, content_type = @content_type, state = 'complete', received = @length,
                 upload = 'pending', upload_order = @order, last_used = @order WHERE id = @staging`),
      chunkAt: p('SELECT offset, bytes FROM attachment_chunks WHERE blob = ? AND offset <= ? ORDER BY offset DESC LIMIT 1'),
      chunksFrom: p('SELECT offset, bytes FROM attachment_chunks WHERE blob = ? AND offset >= ? ORDER BY offset LIMIT ?'),
      received: p('UPDATE attachments SET received = ? WHERE id = ?'),
      complete: p(`UPDATE attachments SET state = 'complete', received = length, upload = 'done', upload_order = NULL, last_used = ? WHERE id = ?`),
      setUpload: p('UPDATE attachments SET upload = ?, upload_order = ? WHERE id = ?'),
      used: p('UPDATE attachments SET last_used = ? WHERE id = ?'),
      nextUploads: p(`SELECT * FROM attachments WHERE upload = 'pending' ORDER BY upload_order LIMIT ?`),
      pendingUploads: p(`SELECT count(*) FROM attachments WHERE upload = 'pending'`).pluck(),
      completeBytes: p(`SELECT coalesce(sum(length), 0) FROM attachments WHERE state = 'complete'`).pluck(),
      evictable: p(`SELECT * FROM attachments WHERE state = 'complete' AND upload <> 'pending' ORDER BY last_used`),
      maxTick: p('SELECT max(coalesce(max(last_used), 0), coalesce(max(upload_order), 0)) FROM attachments').pluck(),
      maxBlob: p('SELECT coalesce(max(blob), 0) FROM attachments').pluck(),
      staging: p(`SELECT * FROM attachments WHERE state = 'staging'`),
      referencing: p(`SELECT content FROM views WHERE deleted = 0 AND instr(content, '"$attachment"') > 0`).pluck(),
    };
    this.tick = Number(this.s.maxTick.get() ?? 0);
    this.lastBlob = Number(this.s.maxBlob.get());
    // Adds the process died in the middle of: their bytes belong to nothing.
    for (const row of this.s.staging.all() as AttachmentRow[]) this.remove(row);
  }

  /** Runs `fn` in one transaction of the engine's store. */
  transaction<T>(fn: () => T): T {
    return this.store.transaction(fn);
  }

  private next(): number {
    return ++this.tick;
  }

  get(id: string): AttachmentRow | undefined {
    return this.s.get.get(id) as AttachmentRow | undefined;
  }

  /** Records a read or a reference: eviction removes the least recently used first. */
  touch(id: string): void {
    this.s.used.run(this.next(), id);
  }

  /** A row for an add in progress; its chunks go under the row's blob until commitStaging names it. */
  beginStaging(contentType: string): AttachmentRow {
    const row: AttachmentRow = {
      id: `${STAGING_PREFIX}${++this.lastBlob}-${process.pid}-${Date.now()}`,
      blob: this.lastBlob,
      length: 0,
      content_type: contentType,
      state: 'staging',
      received: 0,
      upload: 'none',
      upload_order: null,
      last_used: this.next(),
    };
    this.s.insert.run(row);
    return row;
  }

  putChunk(blob: number, offset: number, bytes: Uint8Array): void {
    this.s.putChunk.run(blob, offset, bytes);
  }

  /**
   * Names an add's bytes: its staging row becomes the complete attachment `id`, waiting to upload
   * (one transaction). Bytes already complete under `id` stay and the staging copy is dropped: the
   * same bytes are one copy. A partial download of them is replaced. Returns whether they were new.
   */
  commitStaging(staging: AttachmentRow, id: string, length: number): boolean {
    return this.store.transaction(() => {
      const existing = this.get(id);
      if (existing?.state === 'complete') {
        this.remove(staging);
        this.queueUpload(existing);
        this.touch(id);
        return false;
      }
      if (existing) this.remove(existing);
      this.s.name.run({ id, length, content_type: staging.content_type, order: this.next(), staging: staging.id });
      return true;
    });
  }

  /** Re-queues the upload of complete bytes that is not done nor waiting (a document refers to them again); whether it did. */
  queueUpload(row: AttachmentRow): boolean {
    if (row.state !== 'complete' || row.upload !== 'none') return false;
    this.setUpload(row.id, 'pending');
    return true;
  }

  setUpload(id: string, upload: UploadState): void {
    this.s.setUpload.run(upload, upload === 'pending' ? this.next() : null, id);
  }

  /** The oldest `limit` uploads waiting. */
  nextUploads(limit: number): AttachmentRow[] {
    return this.s.nextUploads.all(limit) as AttachmentRow[];
  }

  pendingUploads(): number {
    return this.s.pendingUploads.get() as number;
  }

  /** A download starts from nothing (nothing was here, or what was had another length). */
  beginDownload(id: string, length: number, contentType: string): AttachmentRow {
    return this.store.transaction(() => {
      const existing = this.get(id);
      if (existing) this.remove(existing);
      const row: AttachmentRow = { id, blob: ++this.lastBlob, length, content_type: contentType, state: 'partial', received: 0, upload: 'none', upload_order: null, last_used: this.next() };
      this.s.insert.run(row);
      return row;
    });
  }

  /** Downloaded bytes at `offset` (= received so far), in one transaction with the count. */
  appendDownloaded(row: AttachmentRow, offset: number, bytes: Uint8Array): void {
    this.store.transaction(() => {
      this.s.putChunk.run(row.blob, offset, bytes);
      this.s.received.run(offset + bytes.length, row.id);
    });
  }

  /** The bytes hashed to the id: readable from now on. The server has them for this user (it sent them). */
  completeDownload(id: string): void {
    this.s.complete.run(this.next(), id);
  }

  /** Forgets an attachment (or a staging row) and its bytes. */
  remove(row: AttachmentRow): void {
    this.store.transaction(() => {
      this.s.remove.run(row.id);
      this.s.removeChunks.run(row.blob);
    });
  }

  /** The bytes from `offset` to the end of the chunk holding it (empty at or past the end). */
  readAt(row: AttachmentRow, offset: number): Buffer {
    const chunk = this.s.chunkAt.get(row.blob, offset) as { offset: number; bytes: Buffer } | undefined;
    if (!chunk || offset >= chunk.offset + chunk.bytes.length) return Buffer.alloc(0);
    return chunk.bytes.subarray(offset - chunk.offset);
  }

  /** Up to `limit` stored chunks from `offset` on, in order (a page of a sequential read). */
  chunksFrom(row: AttachmentRow, offset: number, limit = READ_PAGE_CHUNKS): { offset: number; bytes: Buffer }[] {
    return this.s.chunksFrom.all(row.blob, offset, limit) as { offset: number; bytes: Buffer }[];
  }

  /** Every byte of a complete attachment, in one buffer. */
  readAll(row: AttachmentRow): Buffer {
    const out = Buffer.allocUnsafe(row.length);
    let at = 0;
    for (;;) {
      const page = this.chunksFrom(row, at);
      if (page.length === 0) break;
      for (const c of page) {
        c.bytes.copy(out, c.offset);
        at = c.offset + c.bytes.length;
      }
    }
    if (at !== row.length) throw new Error(`attachment ${row.id} has ${at} of its ${row.length} bytes stored`);
    return out;
  }

  completeBytes(): number {
    return this.s.completeBytes.get() as number;
  }

  /** The content (JSON text) of every live document that may refer to an attachment. */
  referencingContents(): IterableIterator<string> {
    return this.s.referencing.iterate() as IterableIterator<string>;
  }

  /** Complete attachments not waiting to upload, least recently used first. */
  evictable(): AttachmentRow[] {
    return this.s.evictable.all() as AttachmentRow[];
  }
}

/** How many stored chunks a sequential read takes per query (about 4 MB). */
const READ_PAGE_CHUNKS = Math.max(1, Math.floor((4 * 1024 * 1024) / ATTACHMENT_CHUNK_BYTES));
