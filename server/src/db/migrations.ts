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

/** Our migration SQL has no semicolons inside literals or bodies, so splitting on them is exact. */
function splitStatements(sql: string): string[] {
  return sql
    .split(';')
    .map((s) => s.replace(/^\s*--.*$/gm, '').trim())
    .filter((s) => s.length > 0);
}
