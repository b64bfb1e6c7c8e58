import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { SyncError } from '../errors.js';
import type { AttachmentRow, AttachmentStore } from './store.js';

/**
 * A complete attachment's bytes, a page of chunks per query, in order. Between pages other work
 * runs; bytes removed meanwhile (evicted) end the read with an error rather than short.
 */
export async function* chunksOf(store: AttachmentStore, row: AttachmentRow): AsyncGenerator<Buffer> {
  let at = 0;
  while (at < row.length) {
    const page = store.chunksFrom(row, at);
    if (page.length === 0 || page[0]!.offset !== at) throw new SyncError('database', `attachment ${row.id} was removed while it was read (${at} of ${row.length} bytes)`);
    for (const c of page) {
      at = c.offset + c.bytes.length;
      yield c.bytes;
    }
    await new Promise<void>((r) => setImmediate(r));
  }
}

/**
 * Writes a complete attachment to `path`: into a temporary file beside it, flushed, then renamed
 * over it, so `path` holds either its old content or all of the new.
 */
export async function saveTo(store: AttachmentStore, row: AttachmentRow, path: string): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  let file;
  try {
    file = await open(temp, 'wx');
  } catch (err) {
    throw new SyncError('invalid_input', `cannot write ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    for await (const bytes of chunksOf(store, row)) await file.write(bytes);
    await file.datasync();
    await file.close();
    file = undefined;
    await rename(temp, path);
  } catch (err) {
    await file?.close().catch(() => {});
    await unlink(temp).catch(() => {});
    if (err instanceof SyncError) throw err;
    throw new SyncError('invalid_input', `cannot write ${path}: ${(err as Error).message}`, { cause: err });
  }
}
