import type { Database } from '../db/database.js';
import type { BlobStore } from './blob-store.js';
import { DirectoryBlobStore } from './dir-blob-store.js';
import { PostgresBlobStore } from './pg-blob-store.js';

/** `--attachment-store`: `postgres` (the server's database) or the path of a directory. */
export function openBlobStore(spec: string, db: Database): BlobStore {
  return spec === 'postgres' ? new PostgresBlobStore(db) : new DirectoryBlobStore(spec);
}
