/**
 * The operations libsync_client calls in the embedded runtime, declared once. The host's handlers
 * (../host.ts) are typed by this table; the C++ side calls them through the functions generated
 * from it (native/src/contract/engine_ops.h, by render-header.ts: `npm run generate:contract -w
 * native`; contract.test.ts fails when that file is stale). Test-only operations are in
 * test-ops.ts, which the product's bundle and library never include.
 */
import type { Handlers, OpTable, RecordSpec } from './types.js';

export const RECORDS = {
  /** SyncEngineConfig's fields the engine itself uses (call_timeout_ms and event_queue_limit stay in C). */
  EngineOptions: {
    reconnect_min_ms: 'u32',
    reconnect_max_ms: 'u32',
    heartbeat_interval_ms: 'u32',
    heartbeat_timeout_ms: 'u32',
    /** A SyncDurability value: 0 normal, 1 full. */
    durability: 'u32',
    client_id: 'string?',
    start_offline: 'bool',
    tls_ca_file: 'string?',
    /** For the queries that run on the engine's thread (a $regex); the C side's reads keep it too. */
    query_time_limit_ms: 'u32',
    /** SyncEngineConfig's encryption_key (32 bytes) or null; the host zeroes it once the engine has keyed its file. */
    encryption_key: 'secret?',
    attachment_fetch_eager: 'bool',
    attachment_cache_mib: 'u32',
  },
} as const satisfies Readonly<Record<string, RecordSpec>>;

export type RecordName = keyof typeof RECORDS;

/** Numbers both sides use beyond the operations. */
export const CONSTANTS = {
  /**
   * The event type a live query's diff travels under (numeric_data: the watch id, content: the
   * diff's JSON): outside SyncEventType, so no listener ever sees one.
   */
  live_query_event: 1000,
} as const;

export const ENGINE_OPS = {
  create: {
    doc: 'Opens the engine of the id the C side allocated; answers the database file\'s absolute path, which the C side reads.',
    args: { database_url: 'string', server_url: 'string', email: 'string', api_key: 'string', api_secret: 'string', options: 'EngineOptions' },
    result: 'text',
  },
  destroy: { doc: 'Closes the engine (flushing for a moment).', args: {}, result: 'nothing' },
  create_document: { doc: 'Answers the new document\'s id.', args: { json: 'string' }, result: 'text' },
  create_documents: { doc: 'All or none, in one transaction; answers the new ids as a JSON array.', args: { json_array: 'string' }, result: 'text' },
  create_document_with_id: { doc: 'Repeating the same id and content succeeds (a retry after a timeout).', args: { id: 'string', json: 'string' }, result: 'nothing' },
  update_document: { doc: 'Full replacement.', args: { id: 'string', json: 'string' }, result: 'nothing' },
  patch_document: { doc: 'RFC 6902 JSON Patch.', args: { id: 'string', patch_json: 'string' }, result: 'nothing' },
  merge_document: { doc: 'RFC 7386 JSON Merge Patch.', args: { id: 'string', merge_json: 'string' }, result: 'nothing' },
  delete_document: { doc: 'Deletes the document.', args: { id: 'string' }, result: 'nothing' },
  flush: { doc: 'Waits up to timeout_ms until everything is on the server.', args: { timeout_ms: 'u32' }, result: 'nothing' },
  set_online: { doc: 'Stops or resumes connecting.', args: { online: 'bool' }, result: 'nothing' },
  undo: { doc: 'Reverts this engine\'s latest local change to the document.', args: { id: 'string' }, result: 'nothing' },
  redo: { doc: 'Reapplies the latest undone change.', args: { id: 'string' }, result: 'nothing' },
  get_history: { doc: 'The document\'s changes as a JSON array, oldest first.', args: { id: 'string' }, result: 'text' },
  rekey: {
    doc: 'Re-encrypts the database with key (32 bytes), encrypts a plain one, or (null) decrypts it; the C side\'s reads are paused meanwhile.',
    args: { key: 'secret?' },
    result: 'nothing',
  },
  get_conflicts: { doc: 'Local changes that lost or were rejected, as a JSON array.', args: {}, result: 'text' },
  compile_query: {
    doc: 'The SQLite statement a read-only connection answers the query with (one row, one column: the result\'s JSON text); "" when only the engine\'s connection can run it.',
    args: { query: 'string' },
    result: 'text',
  },
  query: { doc: 'Answers the query on the engine\'s own connection, as JSON text.', args: { query: 'string' }, result: 'text' },
  explain_query: { doc: 'How the query runs, as JSON: {sql, index, plan}.', args: { query: 'string' }, result: 'text' },
  create_index: { doc: 'Declares a value index from its JSON spec {name, fields, unique?}.', args: { spec: 'string' }, result: 'nothing' },
  create_text_index: { doc: 'Declares a full-text index from its JSON spec {name, fields}.', args: { spec: 'string' }, result: 'nothing' },
  drop_index: { doc: 'Drops the index of that name.', args: { name: 'string' }, result: 'nothing' },
  list_indexes: { doc: 'The indexes, as a JSON array of {name, kind, fields, unique}.', args: {}, result: 'text' },
  watch_query: {
    doc: 'Opens live query watch_id (the C side allocated it): its diffs come back as LIVE_QUERY_EVENT events.',
    args: { watch_id: 'u32', query: 'string', total: 'bool' },
    result: 'nothing',
  },
  unwatch_query: { doc: 'Closes live query watch_id (nothing when it is closed already).', args: { watch_id: 'u32' }, result: 'nothing' },
  add_attachment: {
    doc: 'Stores the bytes as an attachment of the engine (queued for upload); answers its reference as JSON text.',
    args: { bytes: 'bytes', content_type: 'string?' },
    result: 'text',
  },
  add_attachment_file: {
    doc: 'Streams the file into the engine\'s attachment store (queued for upload); answers its reference as JSON text.',
    args: { path: 'string', content_type: 'string?' },
    result: 'text',
  },
  get_attachment: { doc: 'The attachment\'s bytes from the local store; not_found when they are not there.', args: { attachment_id: 'string' }, result: 'bytes' },
  save_attachment: {
    doc: 'Writes the attachment\'s bytes to path, fetching them from the server first when they are not local.',
    args: { attachment_id: 'string', path: 'string' },
    result: 'nothing',
  },
  fetch_attachment: {
    doc: 'Starts downloading the attachment and answers at once: progress, completion or failure come back as events.',
    args: { attachment_id: 'string' },
    result: 'nothing',
  },
  attachment_state: {
    doc: 'What the engine knows of the attachment, as JSON {local, received, length, uploaded}; not_found when nothing.',
    args: { attachment_id: 'string' },
    result: 'text',
  },
  pending_attachment_uploads: { doc: 'How many attachments wait to be uploaded, as decimal text.', args: {}, result: 'text' },
  shutdown: { doc: 'At process exit: closes every engine at once.', args: {}, result: 'nothing' },
} as const satisfies OpTable<RecordName>;

export type EngineOpHandlers = Handlers<typeof ENGINE_OPS, typeof RECORDS>;
