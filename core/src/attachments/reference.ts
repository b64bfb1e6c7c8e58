import type { JsonObject, JsonValue } from '../json-value.js';

/**
 * An attachment is named by the SHA-256 of its bytes: `sha256-` and 64 lowercase hex digits. The
 * name is the only key in every store (device and server), so the same bytes are one attachment.
 */
export const ATTACHMENT_ID_PATTERN = /^sha256-[0-9a-f]{64}$/;
/** A content type as a reference carries it: a MIME type's characters, at most this long. */
export const MAX_CONTENT_TYPE_LENGTH = 255;
const CONTENT_TYPE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*(\s*;\s*[A-Za-z0-9!#$&^_.+-]+=("[\x20-\x7e]*"|[A-Za-z0-9!#$&^_.+-]+))*$/;
export const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

/**
 * How a document refers to an attachment, by value inside its content:
 * `{"$attachment": "sha256-<64 hex>", "length": 48213312, "content_type": "audio/wav"}`.
 * Exactly these three keys; `content_type` may be left out (application/octet-stream). An object
 * with a `$attachment` key that breaks these rules is not a reference: it is ordinary data, synced
 * as it is, and keeps nothing alive.
 */
// A type, not an interface: an object type spelled this way is a JsonObject, so a reference goes
// into a document's content as it is.
export type AttachmentRef = {
  $attachment: string;
  length: number;
  content_type: string;
};

export function isAttachmentId(value: unknown): value is string {
  return typeof value === 'string' && ATTACHMENT_ID_PATTERN.test(value);
}

export function isContentType(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_CONTENT_TYPE_LENGTH && CONTENT_TYPE_PATTERN.test(value);
}

/** The reference `value` spells, or why it is not one. */
export function parseAttachmentRef(value: unknown): { ok: true; ref: AttachmentRef } | { ok: false; error: string } {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { ok: false, error: 'a reference is an object' };
  const v = value as Record<string, unknown>;
  for (const key of Object.keys(v)) {
    if (key !== '$attachment' && key !== 'length' && key !== 'content_type') return { ok: false, error: `unknown key ${JSON.stringify(key.slice(0, 64))}` };
  }
  if (!isAttachmentId(v.$attachment)) return { ok: false, error: '$attachment: must be "sha256-" and 64 lowercase hex digits' };
  if (typeof v.length !== 'number' || !Number.isSafeInteger(v.length) || v.length < 0) return { ok: false, error: 'length: must be a non-negative integer' };
  if (v.content_type !== undefined && !isContentType(v.content_type)) return { ok: false, error: `content_type: must be a MIME type of at most ${MAX_CONTENT_TYPE_LENGTH} characters` };
  return { ok: true, ref: { $attachment: v.$attachment, length: v.length, content_type: (v.content_type as string | undefined) ?? DEFAULT_CONTENT_TYPE } };
}

export function attachmentRef(id: string, length: number, contentType: string = DEFAULT_CONTENT_TYPE): AttachmentRef {
  return { $attachment: id, length, content_type: contentType };
}

/**
 * Every reference inside a document's content (or a patch's values), once per attachment id, in
 * the order met. The walk is iterative: content is bounded in depth already, but a patch value
 * handed in here need not have been.
 */
export function attachmentRefs(content: JsonValue | JsonObject | null | undefined): AttachmentRef[] {
  const found = new Map<string, AttachmentRef>();
  const stack: unknown[] = [content];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object') continue;
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push(v[i]);
      continue;
    }
    if (Object.prototype.hasOwnProperty.call(v, '$attachment')) {
      const r = parseAttachmentRef(v);
      if (r.ok && !found.has(r.ref.$attachment)) found.set(r.ref.$attachment, r.ref);
      if (r.ok) continue;
    }
    const values = Object.values(v as Record<string, unknown>);
    for (let i = values.length - 1; i >= 0; i--) stack.push(values[i]);
  }
  return [...found.values()];
}

/**
 * The attachments a JSON Patch refers to: references among its values, and ids that an operation
 * writes into an existing reference (`{"op": "replace", "path": "/sample/$attachment", "value":
 * "sha256-…"}` — the shape a diff of two references takes). A change log's reverse patches keep
 * references this way, and an undo brings them back.
 */
export function attachmentIdsOfPatch(patch: unknown): string[] {
  if (!Array.isArray(patch)) return [];
  const ids = new Set<string>();
  for (const op of patch as unknown[]) {
    if (op === null || typeof op !== 'object') continue;
    const { path, value } = op as { path?: unknown; value?: unknown };
    if (typeof path === 'string' && path.endsWith('/$attachment') && isAttachmentId(value)) ids.add(value);
    for (const ref of attachmentRefs(value as JsonValue)) ids.add(ref.$attachment);
  }
  return [...ids];
}

/** The attachment id of a SHA-256 digest (32 bytes). */
export function attachmentIdOfDigest(digest: Uint8Array): string {
  if (digest.length !== 32) throw new RangeError('a SHA-256 digest is 32 bytes');
  return `sha256-${Buffer.from(digest.buffer, digest.byteOffset, digest.byteLength).toString('hex')}`;
}

/** The 32 digest bytes an attachment id names. */
export function digestOfAttachmentId(id: string): Buffer {
  if (!isAttachmentId(id)) throw new RangeError('not an attachment id');
  return Buffer.from(id.slice(7), 'hex');
}
