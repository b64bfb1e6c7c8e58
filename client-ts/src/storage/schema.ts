import type Database from 'better-sqlite3-multiple-ciphers';

/**
 * Schema steps, applied in order and counted in SQLite's `user_version`. Never edit a shipped
 * step: append one.
 */
const STEPS: readonly string[] = [
  `
  CREATE TABLE sync_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);

  -- base_*: the server's version as far as the applied change stream shows it (NULL: the server
  -- has never had it). content/deleted: the local view, i.e. base plus every outbox entry on top.
  -- known_revision: the newest revision the server reported (replies arrive before the stream).
  CREATE TABLE documents (
    id TEXT PRIMARY KEY,
    base_content TEXT,
    base_revision INTEGER,
    base_deleted INTEGER NOT NULL DEFAULT 0,
    known_revision INTEGER,
    content TEXT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    title TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT
  );

  -- Every local change not yet reflected in base. seq (a rowid) only grows while entries wait:
  -- a new entry is always above every waiting one, which is all the ordering needs. sent_message is the exact message first sent, so
  -- a resend is byte-identical (the server's idempotency compares payloads). acked_sequence: the
  -- server answered; the entry stays in the local view until the stream reaches that sequence.
  CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY,
    mutation_id TEXT NOT NULL UNIQUE,
    document_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('create', 'update', 'delete')),
    payload TEXT,
    sent_message TEXT,
    acked_sequence INTEGER,
    created_at TEXT NOT NULL
  );
  CREATE INDEX outbox_document ON outbox (document_id, seq);
  CREATE INDEX outbox_acked ON outbox (acked_sequence) WHERE acked_sequence IS NOT NULL;

  CREATE TABLE history (
    id INTEGER PRIMARY KEY,
    document_id TEXT NOT NULL,
    origin TEXT NOT NULL CHECK (origin IN ('local', 'undo', 'redo', 'remote')),
    kind TEXT NOT NULL CHECK (kind IN ('create', 'update', 'delete')),
    forward TEXT,
    reverse TEXT,
    mutation_id TEXT,
    sequence INTEGER,
    sync_revision INTEGER,
    undone INTEGER NOT NULL DEFAULT 0,
    redoable INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
  );
  CREATE INDEX history_document ON history (document_id, id);

  CREATE TABLE conflicts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    document_id TEXT NOT NULL,
    mutation_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    reason TEXT NOT NULL,
    message TEXT,
    rejected TEXT,
    server_document TEXT,
    created_at TEXT NOT NULL
  );
  `,
  // Version 2: one row per change, both outbox entry and history entry; the local view and the
  // server's version of a document in separate rows, so a local change writes one document row
  // and one change row (and readers of the view — the C SDK's read connection — need one table).
  `
  CREATE TABLE views (
    id TEXT PRIMARY KEY,
    content TEXT NOT NULL,
    deleted INTEGER NOT NULL,
    title TEXT,
    -- The newest server revision known (replies arrive before the stream); NULL: never on the server.
    revision INTEGER,
    -- Local changes of this document the server has not answered yet.
    pending INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT
  ) WITHOUT ROWID;

  -- The server's version, as far as the applied change stream shows it. No row: the server has never had the document.
  CREATE TABLE bases (
    id TEXT PRIMARY KEY,
    content TEXT,
    revision INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    -- The title the server gave the document beside its content (null: its content's title rules).
    given_title TEXT
  ) WITHOUT ROWID;

  -- Every change of every document: local ones (origin local/undo/redo) are the outbox while state < 2
  -- (0: waiting for an answer, 1: answered with acked_sequence, not yet reached by the stream);
  -- remote ones are history only. sent_base: the base_revision the first send carried (-1: none;
  -- NULL: never sent), so a resend is the same message. No index finds the outbox: sync_state's
  -- outbox_from is a seq no outbox entry is below, and the engine reads from there once, at open.
  CREATE TABLE changes (
    seq INTEGER PRIMARY KEY,
    document_id TEXT NOT NULL,
    origin TEXT NOT NULL CHECK (origin IN ('local', 'undo', 'redo', 'remote')),
    kind TEXT NOT NULL CHECK (kind IN ('create', 'update', 'delete')),
    forward TEXT,
    reverse TEXT,
    mutation_id TEXT,
    state INTEGER NOT NULL,
    sent_base INTEGER,
    acked_sequence INTEGER,
    sequence INTEGER,
    sync_revision INTEGER,
    undone INTEGER NOT NULL DEFAULT 0,
    redoable INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
  );
  CREATE INDEX changes_document ON changes (document_id, seq);
  -- Every local change clears its document's redo stack: with this, that costs nothing when it is empty.
  CREATE INDEX changes_redo ON changes (document_id) WHERE redoable > 0;

  INSERT INTO views (id, content, deleted, title, revision, pending, created_at, updated_at, deleted_at)
    SELECT d.id, d.content, d.deleted, d.title, coalesce(d.known_revision, d.base_revision),
           (SELECT count(*) FROM outbox o WHERE o.document_id = d.id AND o.acked_sequence IS NULL),
           d.created_at, d.updated_at, d.deleted_at
    FROM documents d;
  INSERT INTO bases (id, content, revision, deleted)
    SELECT id, base_content, base_revision, base_deleted FROM documents WHERE base_revision IS NOT NULL;
  INSERT INTO changes (seq, document_id, origin, kind, forward, reverse, mutation_id, state, sent_base, acked_sequence,
                       sequence, sync_revision, undone, redoable, created_at)
    SELECT h.id, h.document_id, h.origin, h.kind, h.forward, h.reverse, h.mutation_id,
           CASE WHEN o.mutation_id IS NULL THEN 2 WHEN o.acked_sequence IS NULL THEN 0 ELSE 1 END,
           CASE WHEN o.sent_message IS NULL THEN NULL ELSE coalesce(json_extract(o.sent_message, '$.base_revision'), -1) END,
           o.acked_sequence, h.sequence, h.sync_revision, h.undone, h.redoable, h.created_at
    FROM history h LEFT JOIN outbox o ON o.mutation_id = h.mutation_id
    ORDER BY h.id;
  DROP TABLE history;
  DROP TABLE outbox;
  DROP TABLE documents;
  `,
  // Version 3: what the C SDK reads from this file on connections of its own (its contract:
  // native/js/contract/document-view.ts) — the members of sync_engine_get_document's object in its
  // order, and `deleted` for the listing. The SDK checks user_version before it reads, so a later
  // change to `views` that this view cannot follow comes with a new step and a new SDK build.
  `
  CREATE VIEW sdk_documents AS
    SELECT id, title, content, revision AS sync_revision, pending, created_at, updated_at, deleted_at, deleted
    FROM views;
  `,
  // Version 4: the application's query indexes (client-ts/src/query/indexes.ts). Each value index
  // keeps its rows in a table of its own (idx_<id>: doc, k0, k1, …), each text index an FTS5 table
  // (fts_<id>); both are created and dropped with the index, and written with every view.
  `
  CREATE TABLE query_indexes (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('value', 'text')),
    -- The indexed fields, as a JSON array of dotted paths.
    fields TEXT NOT NULL,
    is_unique INTEGER NOT NULL DEFAULT 0,
    -- Some document gave it more than one row (an array field): its rows group before they order.
    multikey INTEGER NOT NULL DEFAULT 0
  );
  `,
  // Version 5: attachments (docs/protocol.md, Attachments; client-ts/src/attachments). Their bytes
  // live in this file, so an encrypted database keeps them encrypted. state: 'complete' once the
  // bytes hashed to the id; 'partial' a download in progress (received bytes from 0); 'staging' an
  // add still writing under a temporary id (a crash leaves it; removed at open). upload: 'pending'
  // waits to go to the server (upload_order: FIFO), 'done' the server has it for this user, 'none'
  // neither. Chunks hang off `blob`, not the id, so an add that finished hashing names its bytes by
  // updating one row: renaming every chunk would copy each of its bytes once more.
  `
  CREATE TABLE attachments (
    id TEXT PRIMARY KEY,
    blob INTEGER NOT NULL UNIQUE,
    length INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('complete', 'partial', 'staging')),
    received INTEGER NOT NULL,
    upload TEXT NOT NULL CHECK (upload IN ('pending', 'done', 'none')),
    upload_order INTEGER,
    last_used INTEGER NOT NULL
  );
  CREATE INDEX attachments_uploads ON attachments (upload_order) WHERE upload = 'pending';
  CREATE TABLE attachment_chunks (
    blob INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    bytes BLOB NOT NULL,
    PRIMARY KEY (blob, offset)
  ) WITHOUT ROWID;
  `,
];

export const SCHEMA_VERSION = STEPS.length;

/** Brings the schema to `target` (default: the newest), one step per transaction. */
export function migrate(db: Database.Database, target = STEPS.length): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > STEPS.length) {
    throw new Error(`database schema version ${current} is newer than this engine understands (${STEPS.length})`);
  }
  for (let v = current; v < target; v++) {
    db.transaction(() => {
      db.exec(STEPS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
