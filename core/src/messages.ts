import { AUTH_ERROR_REASONS, ERROR_CODES } from './errors.js';
import { DEFAULT_LIMITS } from './limits.js';
import type { JsonObject, JsonValue } from './json-value.js';
import type { PatchOp } from './patch.js';
import { ATTACHMENT_ID_PATTERN, MAX_CONTENT_TYPE_LENGTH } from './attachments/reference.js';
import * as s from './schema.js';

/**
 * The protocol this code speaks. Version 2 sends every committed change in one shape, the change
 * event (a live `change` push and a `changes` page's events alike). A client that says 1, or
 * nothing (the original system's clients), gets version 1's pushes (`document_created`,
 * `document_updated`, `document_deleted`); any other value is `unsupported_protocol`.
 */
export const PROTOCOL_VERSION = 2;
export const SUPPORTED_PROTOCOL_VERSIONS = [1, 2] as const;
export type ProtocolVersion = (typeof SUPPORTED_PROTOCOL_VERSIONS)[number];

const UUID = s.string({ pattern: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, describe: 'a lowercase canonical UUID' });
const HEX64 = s.string({ pattern: /^[0-9a-f]{64}$/, describe: '64 lowercase hex digits' });
const TIMESTAMP = s.string({ min: 1, max: 40 });
// Content and patches are checked in depth (hostile keys, numbers, depth, size) by the core helpers.
const CONTENT = s.unknownValue() as s.Schema<JsonObject>;
const PATCH = s.unknownValue() as s.Schema<PatchOp[]>;
const NULLABLE_JSON = s.unknownValue() as s.Schema<JsonValue | null>;

/** Names a query_documents request in its reply: the client's own token, echoed as it was sent. */
export const REQUEST_ID = s.string({ min: 1, max: 128, pattern: /^[\x21-\x7e]+$/, describe: '1 to 128 printable ASCII characters' });

const ATTACHMENT_ID = s.string({ pattern: ATTACHMENT_ID_PATTERN, describe: '"sha256-" and 64 lowercase hex digits' });
const CONTENT_TYPE = s.string({ min: 3, max: MAX_CONTENT_TYPE_LENGTH });

/** Revisions are 32-bit in storage; a larger base can only be garbage. */
const REVISION = s.count({ min: 1, max: 2 ** 31 - 1 });

export const API_KEY_PATTERN = /^rpa_[0-9a-f]{64}$/;
export const API_SECRET_PATTERN = /^rps_[0-9a-f]{64}$/;

/** A document as it travels in pushes and full syncs. Times are RFC 3339. */
export const wireDocument = s.object({
  id: UUID,
  user_id: UUID,
  title: s.nullable(s.string()),
  content: CONTENT,
  sync_revision: s.count({ min: 1 }),
  content_hash: HEX64,
  created_at: TIMESTAMP,
  updated_at: TIMESTAMP,
  deleted_at: s.nullable(TIMESTAMP),
});
export type WireDocument = s.Infer<typeof wireDocument>;

export const limitsSchema = s.object({
  max_frame_bytes: s.count({ min: 1 }),
  max_document_bytes: s.count({ min: 1 }),
  max_depth: s.count({ min: 1 }),
  max_patch_ops: s.count({ min: 1 }),
  max_changes_page: s.count({ min: 1 }),
  max_email_length: s.count({ min: 1 }),
  max_title_code_points: s.count({ min: 1 }),
  // Servers before attachments do not send these; a client reads DEFAULT_LIMITS' values then.
  max_attachment_bytes: s.optional(s.count()),
  attachment_quota_bytes: s.optional(s.count()),
});

// ---- client → server -------------------------------------------------------------------------

export const clientMessages = {
  authenticate: s.object({
    type: s.literal('authenticate'),
    email: s.string({ min: 3, max: DEFAULT_LIMITS.max_email_length, pattern: /^\s*[^\s@]+@[^\s@]+\s*$/u, describe: 'an email address' }),
    client_id: UUID,
    api_key: s.string({ max: 200 }),
    signature: s.string({ max: 200 }),
    timestamp: s.count(),
    nonce: s.optional(s.string({ pattern: /^[0-9a-f]{32}$/, describe: '32 lowercase hex digits' })),
    protocol_version: s.optional(s.count()),
  }),
  // mutation_id is optional on the wire (the original system's clients send none): the server then
  // assigns one, and such a mutation cannot be recognised when it is sent again.
  create_document: s.object({
    type: s.literal('create_document'),
    document: s.object({ id: UUID, content: CONTENT, title: s.optional(s.nullable(s.string())) }),
    base_revision: s.optional(REVISION),
    mutation_id: s.optional(UUID),
  }),
  update_document: s.object({
    type: s.literal('update_document'),
    patch: s.object({ document_id: UUID, patch: PATCH, content_hash: s.optional(HEX64) }),
    base_revision: s.optional(REVISION),
    mutation_id: s.optional(UUID),
  }),
  delete_document: s.object({
    type: s.literal('delete_document'),
    document_id: UUID,
    base_revision: s.optional(REVISION),
    mutation_id: s.optional(UUID),
  }),
  get_changes_since: s.object({
    type: s.literal('get_changes_since'),
    last_sequence: s.count(),
    limit: s.optional(s.count({ min: 1 })),
  }),
  ack_changes: s.object({ type: s.literal('ack_changes'), up_to_sequence: s.count() }),
  // With since_sequence: only the documents (deleted ones too) changed after that sequence — a
  // compacted catch-up that costs one entry per document, not one per change.
  request_full_sync: s.object({ type: s.literal('request_full_sync'), since_sequence: s.optional(s.count()) }),
  ping: s.object({ type: s.literal('ping') }),
  // The query language of docs/queries.md over the authenticated user's live documents; the
  // query itself is checked by core's parseQuery, which names the offending part.
  query_documents: s.object({ type: s.literal('query_documents'), query: s.requiredValue('a query object: docs/queries.md'), request_id: REQUEST_ID }),
  // Attachments (docs/protocol.md, Attachments). An upload: announce it, wait for upload_ready's
  // offset (what this user's earlier attempt left stored), then send UploadChunk frames from there.
  upload_attachment: s.object({
    type: s.literal('upload_attachment'),
    attachment: ATTACHMENT_ID,
    length: s.count(),
    content_type: s.optional(CONTENT_TYPE),
    request_id: REQUEST_ID,
  }),
  // A download from `offset` (default 0) to the end: download_ready, DownloadChunk frames, download_complete.
  download_attachment: s.object({
    type: s.literal('download_attachment'),
    attachment: ATTACHMENT_ID,
    offset: s.optional(s.count()),
    request_id: REQUEST_ID,
  }),
} as const;

export type ClientMessageType = keyof typeof clientMessages;
export type ClientMessageOf<T extends ClientMessageType> = s.Infer<(typeof clientMessages)[T]>;
export type ClientMessage = { [T in ClientMessageType]: ClientMessageOf<T> }[ClientMessageType];
/** A mutation as it arrives: `mutation_id` may be missing. */
export type WireMutation = ClientMessageOf<'create_document' | 'update_document' | 'delete_document'>;
/** A mutation with its id: the client's own, or the one the server assigned. */
export type MutationMessage = WireMutation extends infer M ? (M extends WireMutation ? M & { mutation_id: string } : never) : never;

// ---- server → client -------------------------------------------------------------------------

/**
 * A committed change, the one shape in which changes reach clients (protocol 2): forward and
 * reverse patches (a create's forward patch is the content; a delete has none), the revision and
 * content hash it produced, who made it, and when the server committed it. A create also carries
 * the document's title (its content's, else the title the create gave beside it).
 */
const changeEvent = s.object({
  sequence: s.count({ min: 1 }),
  document_id: UUID,
  event_type: s.oneOf(['create', 'update', 'delete'] as const),
  forward_patch: NULLABLE_JSON,
  reverse_patch: NULLABLE_JSON,
  sync_revision: s.count({ min: 1 }),
  content_hash: s.nullable(HEX64),
  client_id: s.nullable(s.string()),
  mutation_id: s.nullable(UUID),
  created_at: TIMESTAMP,
  title: s.optional(s.nullable(s.string())),
});
export type ChangeEvent = s.Infer<typeof changeEvent>;

export const serverMessages = {
  auth_success: s.object({
    type: s.literal('auth_success'),
    session_id: UUID,
    client_id: UUID,
    user_id: UUID,
    latest_sequence: s.count(),
    limits: limitsSchema,
    server_time: s.count(),
    protocol_version: s.optional(s.count()),
  }),
  auth_error: s.object({ type: s.literal('auth_error'), reason: s.oneOf(AUTH_ERROR_REASONS), server_time: s.count() }),
  document_created_response: s.object({
    type: s.literal('document_created_response'),
    document_id: UUID,
    success: s.literal(true),
    sync_revision: s.count({ min: 1 }),
    content_hash: HEX64,
    sequence: s.count({ min: 1 }),
    mutation_id: UUID,
  }),
  document_updated_response: s.object({
    type: s.literal('document_updated_response'),
    document_id: UUID,
    success: s.literal(true),
    sync_revision: s.count({ min: 1 }),
    content_hash: HEX64,
    sequence: s.count({ min: 1 }),
    merged: s.boolean(),
    document: s.optional(wireDocument),
    mutation_id: UUID,
  }),
  document_deleted_response: s.object({
    type: s.literal('document_deleted_response'),
    document_id: UUID,
    success: s.literal(true),
    sync_revision: s.count({ min: 1 }),
    sequence: s.count({ min: 1 }),
    mutation_id: UUID,
  }),
  document_created: s.object({
    type: s.literal('document_created'),
    document: wireDocument,
    sequence: s.count({ min: 1 }),
    client_id: s.nullable(s.string()),
    mutation_id: s.nullable(UUID),
  }),
  document_updated: s.object({
    type: s.literal('document_updated'),
    document_id: UUID,
    patch: PATCH,
    sync_revision: s.count({ min: 1 }),
    content_hash: HEX64,
    sequence: s.count({ min: 1 }),
    client_id: s.nullable(s.string()),
    mutation_id: s.nullable(UUID),
  }),
  document_deleted: s.object({
    type: s.literal('document_deleted'),
    document_id: UUID,
    sync_revision: s.count({ min: 1 }),
    sequence: s.count({ min: 1 }),
    client_id: s.nullable(s.string()),
    mutation_id: s.nullable(UUID),
  }),
  /** Protocol 2's live push: one committed change, in the shape of a `changes` page's events. */
  change: s.object({ type: s.literal('change'), change: changeEvent }),
  conflict_detected: s.object({
    type: s.literal('conflict_detected'),
    document_id: UUID,
    resolution_strategy: s.literal('server_wins'),
    server_document: wireDocument,
    rejected_patch: NULLABLE_JSON,
    mutation_id: UUID,
  }),
  changes: s.object({
    type: s.literal('changes'),
    events: s.array(changeEvent),
    latest_sequence: s.count(),
    has_more: s.boolean(),
  }),
  changes_acknowledged: s.object({ type: s.literal('changes_acknowledged'), sequence: s.count() }),
  sync_document: s.object({ type: s.literal('sync_document'), document: wireDocument }),
  sync_complete: s.object({ type: s.literal('sync_complete'), synced_count: s.count(), latest_sequence: s.count(), since_sequence: s.optional(s.count()) }),
  pong: s.object({ type: s.literal('pong') }),
  /**
   * A query_documents answer: a page of documents (in the query's order; `next` is the `after` of
   * the page that follows, null on the last) or, for `count: true`, the number of matches.
   */
  query_result: s.object({
    type: s.literal('query_result'),
    request_id: REQUEST_ID,
    documents: s.optional(s.array(wireDocument)),
    next: s.optional(s.nullable(s.string())),
    count: s.optional(s.count()),
  }),
  /** Send UploadChunk frames from `offset`; bytes before it are stored already (an earlier attempt's). */
  upload_ready: s.object({ type: s.literal('upload_ready'), request_id: REQUEST_ID, attachment: ATTACHMENT_ID, offset: s.count() }),
  /** The upload's bytes up to `received` are stored: the uploader's window moves on. */
  upload_progress: s.object({ type: s.literal('upload_progress'), attachment: ATTACHMENT_ID, received: s.count() }),
  /** Every byte arrived and matched the id: the attachment is this user's. Also the answer to an upload of one they have. */
  attachment_uploaded: s.object({ type: s.literal('attachment_uploaded'), request_id: REQUEST_ID, attachment: ATTACHMENT_ID, length: s.count() }),
  /** DownloadChunk frames from `offset` follow, up to `length`, then download_complete. */
  download_ready: s.object({
    type: s.literal('download_ready'),
    request_id: REQUEST_ID,
    attachment: ATTACHMENT_ID,
    length: s.count(),
    content_type: CONTENT_TYPE,
    offset: s.count(),
  }),
  download_complete: s.object({ type: s.literal('download_complete'), request_id: REQUEST_ID, attachment: ATTACHMENT_ID }),
  error: s.object({
    type: s.literal('error'),
    code: s.oneOf(ERROR_CODES),
    message: s.string(),
    mutation_id: s.optional(UUID),
    /** The query_documents, upload_attachment or download_attachment request this error answers. */
    request_id: s.optional(REQUEST_ID),
  }),
} as const;

export type ServerMessageType = keyof typeof serverMessages;
export type ServerMessageOf<T extends ServerMessageType> = s.Infer<(typeof serverMessages)[T]>;
export type ServerMessage = { [T in ServerMessageType]: ServerMessageOf<T> }[ServerMessageType];

export type ParseResult<M> = { ok: true; message: M } | { ok: false; error: string; type?: string; mutation_id?: string; request_id?: string };

function parseWith<M>(table: Record<string, s.Schema<unknown>>, raw: unknown): ParseResult<M> {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return { ok: false, error: 'a message must be a JSON object' };
  const type = (raw as { type?: unknown }).type;
  const mid = (raw as { mutation_id?: unknown }).mutation_id;
  // Echo the mutation id on errors only when it is well formed, so a reply never reflects junk.
  const rid = (raw as { request_id?: unknown }).request_id;
  const echo = {
    ...(typeof mid === 'string' && UUID.parse(mid, '').ok ? { mutation_id: mid } : {}),
    ...(typeof rid === 'string' && REQUEST_ID.parse(rid, '').ok ? { request_id: rid } : {}),
  };
  if (typeof type !== 'string') return { ok: false, error: 'type: must be a string', ...echo };
  if (!Object.prototype.hasOwnProperty.call(table, type)) return { ok: false, error: `unknown message type ${JSON.stringify(type.slice(0, 64))}`, ...echo };
  const r = table[type]!.parse(raw, '');
  return r.ok ? { ok: true, message: r.value as M } : { ok: false, error: r.error, type, ...echo };
}

/** Validates a decoded client frame. The result's message is a fresh object holding only known fields. */
export function parseClientMessage(raw: unknown): ParseResult<ClientMessage> {
  return parseWith<ClientMessage>(clientMessages, raw);
}

/** Validates a decoded server frame on the client side. */
export function parseServerMessage(raw: unknown): ParseResult<ServerMessage> {
  return parseWith<ServerMessage>(serverMessages, raw);
}
