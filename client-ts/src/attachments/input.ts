import { DEFAULT_CONTENT_TYPE, isAttachmentId, isContentType, MAX_CONTENT_TYPE_LENGTH, parseAttachmentRef, type AttachmentRef } from '@json-sync/core';
import { SyncError } from '../errors.js';

/** How the API names an attachment: its id, or a reference as a document holds it. */
export type AttachmentId = string | AttachmentRef;

export interface AddOptions {
  /** A MIME type of at most 255 characters (default application/octet-stream). */
  contentType?: string;
}

/** The id an API argument names; anything else is `invalid_input`. */
export function attachmentIdOf(id: unknown): string {
  if (typeof id === 'string') {
    if (isAttachmentId(id)) return id;
    throw new SyncError('invalid_input', `an attachment id is "sha256-" and 64 lowercase hex digits, not ${JSON.stringify((id as string).slice(0, 80))}`);
  }
  if (id !== null && typeof id === 'object') {
    const parsed = parseAttachmentRef(id);
    if (parsed.ok) return parsed.ref.$attachment;
    throw new SyncError('invalid_input', `not an attachment reference: ${parsed.error}`);
  }
  throw new SyncError('invalid_input', 'an attachment is named by its id (a string) or its reference (an object)');
}

/** The content type an add's options give (checked), or the default. */
export function contentTypeOf(options: unknown): string {
  if (options === undefined) return DEFAULT_CONTENT_TYPE;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw new SyncError('invalid_input', 'options must be an object');
  const { contentType } = options as AddOptions;
  if (contentType === undefined) return DEFAULT_CONTENT_TYPE;
  if (!isContentType(contentType)) throw new SyncError('invalid_input', `contentType must be a MIME type (type/subtype, optional parameters) of at most ${MAX_CONTENT_TYPE_LENGTH} characters`);
  return contentType;
}

/** An add past the server's limit is refused before anything is kept. */
export function assertSize(length: number, max: number): void {
  if (length > max) throw new SyncError('invalid_input', `an attachment may have at most ${max} bytes (the server's max_attachment_bytes); this one has ${length === Infinity ? 'more' : length}`);
}

/** A file path argument: a non-empty string without NUL. */
export function assertPath(path: unknown): asserts path is string {
  if (typeof path !== 'string' || path === '' || path.includes('\0')) throw new SyncError('invalid_input', 'path must be a non-empty string without NUL');
}
