import type Database from 'better-sqlite3';

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
];

export const SCHEMA_VERSION = STEPS.length;

export function migrate(db: Database.Database): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > STEPS.length) {
    throw new Error(`database schema version ${current} is newer than this engine understands (${STEPS.length})`);
  }
  for (let v = current; v < STEPS.length; v++) {
    db.transaction(() => {
      db.exec(STEPS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
