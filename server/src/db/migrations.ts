import type { Database } from './database.js';

/**
 * The schema, as an ordered list of steps. The same SQL runs on PostgreSQL 15+ and on PGlite.
 * Never edit a step that has shipped: append a new one.
 */
export const MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
CREATE TABLE applications (
  id uuid PRIMARY KEY,
  name text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_credentials (
  api_key text PRIMARY KEY CHECK (api_key ~ '^rpa_[0-9a-f]{64}$'),
  secret text NOT NULL CHECK (secret ~ '^rps_[0-9a-f]{64}$'),
  application_id uuid NOT NULL REFERENCES applications(id),
  name text NOT NULL,
  active boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at timestamptz
);

-- last_sequence is the per-user counter that sequences are allocated from inside the writing
-- transaction, under this row's lock: sequences commit in order and leave no holes.
-- pruned_through is the highest sequence removed from the change log by retention.
CREATE TABLE users (
  id uuid PRIMARY KEY,
  application_id uuid NOT NULL REFERENCES applications(id),
  email text NOT NULL,
  email_normalized text NOT NULL,
  last_sequence bigint NOT NULL DEFAULT 0,
  pruned_through bigint NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (application_id, email_normalized)
);

CREATE TABLE documents (
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users(id),
  content jsonb NOT NULL,
  sync_revision integer NOT NULL CHECK (sync_revision >= 1),
  content_hash text NOT NULL,
  title text,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  deleted_at timestamptz
);
CREATE INDEX documents_user_live ON documents (user_id) WHERE deleted_at IS NULL;

CREATE TABLE change_events (
  user_id uuid NOT NULL REFERENCES users(id),
  sequence bigint NOT NULL,
  document_id uuid NOT NULL,
  event_type text NOT NULL CHECK (event_type IN ('create', 'update', 'delete')),
  forward_patch jsonb,
  reverse_patch jsonb,
  sync_revision integer NOT NULL,
  content_hash text,
  client_id text,
  mutation_id uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, sequence)
);
CREATE INDEX change_events_document ON change_events (document_id, sync_revision);

-- Idempotency: one row per (user, mutation_id) holding the original reply.
CREATE TABLE mutations (
  user_id uuid NOT NULL REFERENCES users(id),
  mutation_id uuid NOT NULL,
  payload_hash text NOT NULL,
  reply jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, mutation_id)
);

CREATE TABLE conflicts (
  id bigserial PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users(id),
  document_id uuid NOT NULL,
  mutation_id uuid NOT NULL,
  mutation_type text NOT NULL,
  client_id text NOT NULL,
  base_revision integer,
  lost_to_revision integer NOT NULL,
  rejected_patch jsonb,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX conflicts_user ON conflicts (user_id, document_id);

CREATE TABLE client_acks (
  user_id uuid NOT NULL REFERENCES users(id),
  client_id text NOT NULL,
  acked_sequence bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, client_id)
);

-- Signatures seen by any server process, refused again until expires_at.
CREATE TABLE auth_replays (
  signature text PRIMARY KEY,
  expires_at timestamptz NOT NULL
);
`,
  },
  {
    version: 2,
    name: 'title given at create',
    sql: `
-- The title a create carried beside its content (the original protocol's document.title): the
-- document's title whenever its content has no string title of its own.
ALTER TABLE documents ADD COLUMN given_title text;
`,
  },
  {
    version: 3,
    name: 'title in the change log',
    sql: `
-- A create's change event carries the document's title (protocol 2: one shape for every committed
-- change, in a live push or a catch-up page). NULL for other events, and for creates logged before.
ALTER TABLE change_events ADD COLUMN title text;
`,
  },
  {
    version: 4,
    name: 'queries: content and search indexes, query functions',
    sql: `
-- query_documents (server/src/query/): a where's equalities become containment (@>) tests that
-- this index answers, for every user at once (the user's own rows are kept by user_id).
CREATE INDEX documents_content_paths ON documents USING gin (content jsonb_path_ops) WHERE deleted_at IS NULL;

-- Orders a query can read straight from an index, stopping at its limit: by id (no sort), and by
-- the modification and creation times (ties by id). They replace documents_user_live's use.
CREATE INDEX documents_user_id_live ON documents (user_id, id) WHERE deleted_at IS NULL;
CREATE INDEX documents_user_updated_live ON documents (user_id, updated_at, id) WHERE deleted_at IS NULL;
CREATE INDEX documents_user_created_live ON documents (user_id, created_at, id) WHERE deleted_at IS NULL;

-- Every value a content path reaches, as MongoDB finds them (core/src/query/evaluate.ts, valuesAt):
-- into objects by name, into arrays by index and through each element that is an object, and a NULL
-- row where a way down finds nothing. The compiler reads a path with -> when no array is on the
-- way, and with this function only when one is. (Written as one SQL statement: no semicolons, as
-- this file's migrations are split on them.)
CREATE FUNCTION sync_values_at(doc jsonb, path text[]) RETURNS SETOF jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
  WITH RECURSIVE w(i, v) AS (
    SELECT 0, doc
    UNION ALL
    SELECT s.i, s.v FROM w CROSS JOIN LATERAL (
      SELECT w.i + 1 AS i, w.v -> path[w.i + 1] AS v WHERE jsonb_typeof(w.v) = 'object' AND w.v ? path[w.i + 1]
      UNION ALL
      SELECT w.i + 1, w.v -> (CASE WHEN path[w.i + 1] ~ '^(0|[1-9][0-9]{0,8})$' THEN path[w.i + 1]::int END)
      WHERE jsonb_typeof(w.v) = 'array' AND (CASE WHEN path[w.i + 1] ~ '^(0|[1-9][0-9]{0,8})$' THEN path[w.i + 1]::int END) < jsonb_array_length(w.v)
      UNION ALL
      SELECT w.i, e FROM jsonb_array_elements(CASE WHEN jsonb_typeof(w.v) = 'array' THEN w.v END) e WHERE jsonb_typeof(e) = 'object'
      UNION ALL
      SELECT cardinality(path), NULL
      WHERE CASE jsonb_typeof(w.v)
        WHEN 'object' THEN NOT w.v ? path[w.i + 1]
        WHEN 'array' THEN NOT (CASE WHEN path[w.i + 1] ~ '^(0|[1-9][0-9]{0,8})$' THEN path[w.i + 1]::int END) < jsonb_array_length(w.v) IS TRUE
          AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(w.v) x WHERE jsonb_typeof(x) = 'object')
        ELSE true END
    ) s WHERE w.i < cardinality(path)
  )
  SELECT v FROM w WHERE i = cardinality(path)
$fn$;

-- What search reads on the server: the title and every string in the content (the server has no
-- text index declarations: docs/queries.md, "On the server"), folded as the device folds search
-- text (core/src/query/parse.ts, parseSearch): compatibility-decomposed, combining marks removed
-- (those of Unicode's combining blocks), lower case. Not unaccent: PGlite has no such extension,
-- and its rules differ from the device's. It calls no function of ours: an index expression runs
-- with a search_path of pg_catalog only (PostgreSQL 17+, PGlite).
CREATE FUNCTION sync_search_vector(title text, content jsonb) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
  SELECT pg_catalog.to_tsvector('simple'::regconfig, pg_catalog.lower(pg_catalog.regexp_replace(pg_catalog.normalize(
    coalesce(title, '') || ' ' || coalesce((SELECT pg_catalog.string_agg(v #>> '{}', ' ') FROM pg_catalog.jsonb_path_query(content, 'strict $.**') v
      WHERE pg_catalog.jsonb_typeof(v) = 'string'), ''),
    'NFKD'), '[\\u0300-\\u036f\\u1ab0-\\u1aff\\u1dc0-\\u1dff\\u20d0-\\u20ff\\ufe20-\\ufe2f]', '', 'g')))
$fn$;

-- Stored, not only indexed: a search ranks every match (ts_rank reads the vector), and computing
-- it again per row costs more than the search itself. Written with the row, in its transaction.
ALTER TABLE documents ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (sync_search_vector(title, content)) STORED;
CREATE INDEX documents_search ON documents USING gin (search_vector) WHERE deleted_at IS NULL;
`,
  },
  {
    version: 5,
    name: 'batch statements as functions; search vector kept when unchanged; no redundant index',
    sql: `
-- documents_user_id_live (user_id, id) answers everything documents_user_live (user_id) did, and
-- every update of a document inserted an entry into both.
DROP INDEX documents_user_live;

-- search_vector (migration 4) stops being a generated column, which PostgreSQL computed again on
-- every update of a document, whatever changed: folding and splitting the strings is the
-- costliest part of a write. A new row gets it from the trigger below (whoever inserts it), and
-- sync_write_batch, the one statement that updates documents, computes it again only for those
-- whose title or strings the batch changed.
ALTER TABLE documents ALTER COLUMN search_vector DROP EXPRESSION;
CREATE FUNCTION sync_search_vector_on_insert() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  NEW.search_vector := sync_search_vector(NEW.title, NEW.content);
  RETURN NEW;
END
$fn$;
CREATE TRIGGER documents_search_vector BEFORE INSERT ON documents FOR EACH ROW EXECUTE FUNCTION sync_search_vector_on_insert();

-- A mutation batch's three statements (server/src/mutations/). As functions their plans are made
-- once per connection and kept (PL/pgSQL caches them) instead of being planned again for every
-- batch: forced generic, since the planner would otherwise keep planning each call anew for its
-- exact array sizes. Every row they touch is found by its key: the planner is kept off sequential
-- scans and hash or merge joins, which it otherwise picks for a batch against a small or freshly
-- written table (its estimate for a set from JSON is 100 rows) and which then read the whole
-- table, dead row versions included.

-- Locks the batch's users in one fixed order (concurrent batches anywhere cannot deadlock) and
-- reads their counters.
CREATE FUNCTION sync_lock_users(ids uuid[]) RETURNS TABLE (id uuid, last_sequence bigint, now timestamptz)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off AS $fn$
#variable_conflict use_column
BEGIN
  RETURN QUERY SELECT u.id, u.last_sequence, pg_catalog.now() FROM users u WHERE u.id = ANY (ids) ORDER BY u.id FOR UPDATE;
END
$fn$;

-- Everything a batch reads: earlier replies of its mutation ids, its documents, and the log of
-- each document above the oldest base a mutation of it names.
CREATE FUNCTION sync_load_batch(p_keys jsonb, p_ids uuid[], p_oldest jsonb) RETURNS TABLE (replays json, docs json, events json)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off AS $fn$
#variable_conflict use_column
BEGIN
  RETURN QUERY SELECT
    (SELECT coalesce(json_agg(r), '[]') FROM (
       SELECT m.user_id, m.mutation_id, m.payload_hash, m.reply FROM jsonb_to_recordset(p_keys) AS k(u uuid, m uuid)
       JOIN mutations m ON m.user_id = k.u AND m.mutation_id = k.m) r),
    (SELECT coalesce(json_agg(d), '[]') FROM (
       SELECT x.id, x.user_id, x.content, x.sync_revision, x.content_hash, x.title, x.given_title, x.created_at, x.updated_at, x.deleted_at
       FROM documents x WHERE x.id = ANY (p_ids)) d),
    (SELECT coalesce(json_agg(e ORDER BY e.document_id, e.sync_revision), '[]') FROM (
       SELECT c.document_id, c.sync_revision, c.event_type, c.forward_patch, c.client_id FROM jsonb_to_recordset(p_oldest) AS o(u uuid, d uuid, b bigint)
       JOIN change_events c ON c.user_id = o.u AND c.document_id = o.d AND c.sync_revision > o.b) e);
END
$fn$;

-- Everything a batch writes, and the users' new last sequences. A new document whose id another
-- user's create took meanwhile fails it with a unique violation on documents_pkey. p_same_search
-- names the updated documents whose title and strings are as they were (their search_vector stays).
CREATE FUNCTION sync_write_batch(p_inserts jsonb, p_updates jsonb, p_same_search uuid[], p_events jsonb, p_replies jsonb, p_conflicts jsonb, p_last jsonb, p_at timestamptz) RETURNS void
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off AS $fn$
BEGIN
  IF jsonb_array_length(p_inserts) > 0 THEN
    INSERT INTO documents (id, user_id, content, sync_revision, content_hash, title, given_title, created_at, updated_at, deleted_at)
    SELECT x.id, x.user_id, x.content, x.sync_revision, x.content_hash, x.title, x.given_title, x.created_at, x.updated_at, x.deleted_at
    FROM jsonb_populate_recordset(NULL::documents, p_inserts) AS x;
  END IF;
  IF jsonb_array_length(p_updates) > 0 THEN
    UPDATE documents d SET content = x.content, sync_revision = x.sync_revision, content_hash = x.content_hash, title = x.title,
      given_title = x.given_title, updated_at = x.updated_at, deleted_at = x.deleted_at,
      search_vector = CASE WHEN x.id = ANY (p_same_search) THEN d.search_vector ELSE sync_search_vector(x.title, x.content) END
    FROM jsonb_populate_recordset(NULL::documents, p_updates) AS x WHERE d.id = x.id;
  END IF;
  INSERT INTO change_events (user_id, sequence, document_id, event_type, forward_patch, reverse_patch, sync_revision, content_hash, client_id, mutation_id, created_at, title)
  SELECT x.user_id, x.sequence, x.document_id, x.event_type, x.forward_patch, x.reverse_patch, x.sync_revision, x.content_hash, x.client_id, x.mutation_id, x.created_at, x.title
  FROM jsonb_populate_recordset(NULL::change_events, p_events) AS x;
  INSERT INTO mutations (user_id, mutation_id, payload_hash, reply, created_at)
  SELECT x.user_id, x.mutation_id, x.payload_hash, x.reply, p_at FROM jsonb_populate_recordset(NULL::mutations, p_replies) AS x;
  IF jsonb_array_length(p_conflicts) > 0 THEN
    INSERT INTO conflicts (user_id, document_id, mutation_id, mutation_type, client_id, base_revision, lost_to_revision, rejected_patch, created_at)
    SELECT x.user_id, x.document_id, x.mutation_id, x.mutation_type, x.client_id, x.base_revision, x.lost_to_revision, x.rejected_patch, p_at
    FROM jsonb_populate_recordset(NULL::conflicts, p_conflicts) AS x;
  END IF;
  UPDATE users u SET last_sequence = x.seq FROM jsonb_to_recordset(p_last) AS x(id uuid, seq bigint) WHERE u.id = x.id;
END
$fn$;
`,
  },
  {
    version: 6,
    name: 'attachments',
    sql: `
-- One row per stored attachment: its bytes are the blob blob_id (in the blob store), identical
-- bytes stored once across users. Nobody reads them except through an owner row.
CREATE TABLE attachments (
  id text PRIMARY KEY CHECK (id ~ '^sha256-[0-9a-f]{64}$'),
  length bigint NOT NULL CHECK (length >= 0),
  blob_id uuid NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Who may read an attachment: a user one of whose clients uploaded it (docs/protocol.md, Who may read).
CREATE TABLE attachment_owners (
  user_id uuid NOT NULL REFERENCES users(id),
  attachment text NOT NULL REFERENCES attachments(id),
  content_type text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, attachment)
);
CREATE INDEX attachment_owners_attachment ON attachment_owners (attachment);

-- Uploads in progress, per user: the bytes so far are the blob blob_id, private to the upload until
-- it commits. holder names the connection writing it: a newer upload_attachment takes it over.
CREATE TABLE attachment_uploads (
  user_id uuid NOT NULL REFERENCES users(id),
  attachment text NOT NULL CHECK (attachment ~ '^sha256-[0-9a-f]{64}$'),
  length bigint NOT NULL CHECK (length >= 0),
  received bigint NOT NULL DEFAULT 0 CHECK (received >= 0 AND received <= length),
  content_type text NOT NULL,
  blob_id uuid NOT NULL UNIQUE,
  holder uuid NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, attachment)
);
CREATE INDEX attachment_uploads_attachment ON attachment_uploads (attachment);

-- The PostgreSQL blob store's bytes: a blob is its chunks, each starting where the one before ended.
CREATE TABLE attachment_chunks (
  blob_id uuid NOT NULL,
  "offset" bigint NOT NULL CHECK ("offset" >= 0),
  bytes bytea NOT NULL,
  PRIMARY KEY (blob_id, "offset")
);
`,
  },
];

/** Applies every step not yet applied, each in its own transaction, serialised across processes. */
export async function migrate(db: Database): Promise<number[]> {
  await db.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
  )`);
  const applied: number[] = [];
  for (const step of MIGRATIONS) {
    const done = await db.transaction(async (tx) => {
      // Two processes starting at once: the second waits here, then sees the step as applied.
      await tx.query('SELECT pg_advisory_xact_lock(724541)');
      const seen = await tx.query('SELECT 1 FROM schema_migrations WHERE version = $1', [step.version]);
      if (seen.rowCount > 0) return false;
      for (const statement of splitStatements(step.sql)) await tx.query(statement);
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [step.version, step.name]);
      return true;
    });
    if (done) applied.push(step.version);
  }
  return applied;
}

/**
 * Splits a step into statements on its semicolons, except inside a function body quoted with
 * $fn$ (our only use of dollar quoting in migrations; no literal holds a semicolon).
 */
function splitStatements(sql: string): string[] {
  const statements: string[] = [];
  let current = '';
  sql.split('$fn$').forEach((part, i) => {
    if (i % 2 === 1) {
      current += `$fn$${part}$fn$`;
      return;
    }
    const pieces = part.split(';');
    current += pieces[0];
    for (const piece of pieces.slice(1)) {
      statements.push(current);
      current = piece;
    }
  });
  statements.push(current);
  return statements.map((s) => s.replace(/^\s*--.*$/gm, '').trim()).filter((s) => s.length > 0);
}
