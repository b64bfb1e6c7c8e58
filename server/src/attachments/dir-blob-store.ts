import { mkdirSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ATTACHMENT_CHUNK_BYTES } from '@json-sync/core';
import { checkBlobId, type BlobStore } from './blob-store.js';

/**
 * Blobs as files in one directory, each named by its blob uuid and nothing else: no name a client
 * chose, no subdirectory, so no path outside the root is ever formed.
 */
export class DirectoryBlobStore implements BlobStore {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
    mkdirSync(this.root, { recursive: true });
  }

  private path(blobId: string): string {
    return join(this.root, checkBlobId(blobId));
  }

  async append(blobId: string, offset: number, bytes: Buffer): Promise<void> {
    const path = this.path(blobId);
    const file = await open(path, 'r+').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return open(path, 'w');
      throw err;
    });
    try {
      // A crash after writing and before the upload recorded it leaves bytes past `offset`: they go.
      await file.truncate(offset);
      await file.write(bytes, 0, bytes.length, offset);
    } finally {
      await file.close();
    }
  }

  async *read(blobId: string, from: number): AsyncIterable<Buffer> {
    const file = await open(this.path(blobId), 'r').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return null;
      throw err;
    });
    if (!file) return;
    try {
      for (let position = from; ; ) {
        const buffer = Buffer.allocUnsafe(ATTACHMENT_CHUNK_BYTES);
        const { bytesRead } = await file.read(buffer, 0, buffer.length, position);
        if (bytesRead === 0) return;
        position += bytesRead;
        yield buffer.subarray(0, bytesRead);
      }
    } finally {
      await file.close();
    }
  }

  async delete(blobId: string): Promise<void> {
    await rm(this.path(blobId), { force: true });
  }
}
