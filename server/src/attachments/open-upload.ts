import type { Hash } from 'node:crypto';
import type { UploadRow } from './upload-rows.js';

/** An upload open on one connection: its row, the SHA-256 of the bytes stored so far, and the request it answers. */
export interface OpenUpload {
  row: UploadRow;
  hash: Hash;
  requestId: string;
}
