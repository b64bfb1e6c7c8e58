/**
 * What libsync_client's reads (native/src/document_reader.cc) take from the engine's database file,
 * on connections of their own: the view `sdk_documents`, which the engine's schema creates
 * (client-ts/src/storage/schema.ts, step 3), and the schema version they are written for. Generated
 * into native/src/contract/document_view.h; contract.test.ts checks the view against these columns.
 */
import { SCHEMA_VERSION } from '../../../client-ts/src/storage/schema.js';

/** The `PRAGMA user_version` the reads expect; any other makes them fail with SYNC_RESULT_DATABASE. */
export const READ_SCHEMA_VERSION = SCHEMA_VERSION;

export const DOCUMENT_VIEW = 'sdk_documents';

/** How a column is written into the JSON object: a string, a number, or JSON text as it is. Any column may be NULL: null. */
export type ColumnKind = 'text' | 'integer' | 'json';

/** sync_engine_get_document's JSON object: its members in order, each a column of the view of the same name. */
export const DOCUMENT_MEMBERS: readonly (readonly [string, ColumnKind])[] = [
  ['id', 'text'],
  ['title', 'text'],
  ['content', 'json'],
  ['sync_revision', 'integer'],
  ['pending', 'integer'],
  ['created_at', 'text'],
  ['updated_at', 'text'],
  ['deleted_at', 'text'],
];

/** The view's one column beyond the members: what the listing of live documents filters on. */
export const DELETED_COLUMN = 'deleted';

const MEMBERS = DOCUMENT_MEMBERS.map(([name]) => name).join(', ');

/** One document by id (deleted ones too). */
export const READ_ONE_SQL = `SELECT ${MEMBERS} FROM ${DOCUMENT_VIEW} WHERE id = ?1`;

/** Every live document, in the order the engine's listDocuments() uses. */
export const READ_LIVE_SQL = `SELECT ${MEMBERS} FROM ${DOCUMENT_VIEW} WHERE ${DELETED_COLUMN} = 0 ORDER BY created_at, id`;
