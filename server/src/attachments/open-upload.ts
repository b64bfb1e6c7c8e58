import type { Hash } from 'node:crypto';
import type { UploadRow } from './upload-rows.js';

/** An upload open on one connection: its row, the SHA-256 of the bytes stored so far, and the request it answers. */
export interface OpenUpload {
  row: UploadRow;
  hash: Hash;
  requestId: string;
}

/** Uploads one connection may have open at once (and downloads it may have streaming): more is rate_limited. */
export const MAX_OPEN_UPLOADS = 4;
export const MAX_DOWNLOADS = 4;
