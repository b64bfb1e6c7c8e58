import {
  anyOverlap,
  applyPatch,
  assertDocumentContent,
  assertPatch,
  canonicalJson,
  contentHash,
  ProtocolError,
  reversePatch,
  ROOT_PATH,
  titleOf,
  touchedPaths,
  type ClientMessageOf,
  type JsonObject,
  type Limits,
  type MutationMessage,
  type PatchOp,
  type ServerMessage,
  type ServerMessageOf,
} from '@json-sync/core';
import { createHash } from 'node:crypto';
import type { Queryable } from '../db/database.js';
import { DOCUMENT_COLUMNS, toWireDocument, type DocumentRow } from '../store/documents.js';

export interface MutationContext {
  userId: string;
  clientId: string;
  limits: Limits;
  /** Hands out the user's next sequence number inside the current transaction. */
  nextSequence(): number;
}

/** What committing one mutation produced: the reply for the sender and, for a new change, the push for the user's other connections. */
export type MutationOutcome =
  | { kind: 'applied'; reply: ServerMessage; push: ServerMessage; sequence: number }
  | { kind: 'conflict'; reply: ServerMessageOf<'conflict_detected'> }
  | { kind: 'replay'; reply: ServerMessage };

type Create = ClientMessageOf<'create_document'>;
type Update = ClientMessageOf<'update_document'>;
type Delete = ClientMessageOf<'delete_document'>;

/**
 * Applies one mutation inside the caller's transaction (under its savepoint). The user's row is
 * already locked by the caller, so nothing else writes this user's documents meanwhile. Throws
 * ProtocolError for a permanent failure; the caller rolls back to the savepoint and answers `error`.
 */
export async function applyMutation(tx: Queryable, ctx: MutationContext, m: MutationMessage): Promise<MutationOutcome> {
  const payloadHash = createHash('sha256').update(canonicalJson(m)).digest('hex');
  const seen = await tx.query<{ payload_hash: string; reply: ServerMessage }>(
    'SELECT payload_hash, reply FROM mutations WHERE user_id = $1 AND mutation_id = $2',
    [ctx.userId, m.mutation_id],
  );
  const previous = seen.rows[0];
  if (previous) {
    if (previous.payload_hash !== payloadHash) throw new ProtocolError('invalid_message', 'mutation_id was already used for a different mutation');
    return { kind: 'replay', reply: previous.reply };
  }
  let outcome: MutationOutcome;
  switch (m.type) {
    case 'create_document':
      outcome = await create(tx, ctx, m);
      break;
    case 'update_document':
      outcome = await update(tx, ctx, m);
      break;
    case 'delete_document':
      outcome = await remove(tx, ctx, m);
      break;
  }
  await tx.query('INSERT INTO mutations (user_id, mutation_id, payload_hash, reply) VALUES ($1, $2, $3, $4::jsonb)', [
    ctx.userId,
    m.mutation_id,
    payloadHash,
    JSON.stringify(outcome.reply),
  ]);
  return outcome;
}

async function lockDocument(tx: Queryable, id: string): Promise<DocumentRow | undefined> {
  const r = await tx.query<DocumentRow>(`SELECT ${DOCUMENT_COLUMNS} FROM documents WHERE id = $1 FOR UPDATE`, [id]);
  return r.rows[0];
}

/** The user's own document, or document_not_found: another user's id reveals nothing. */
async function ownDocument(tx: Queryable, ctx: MutationContext, id: string): Promise<DocumentRow> {
  const row = await lockDocument(tx, id);
  if (!row || row.user_id !== ctx.userId) throw new ProtocolError('document_not_found', `no document ${id}`);
  return row;
}

async function recordEvent(
  tx: Queryable,
  ctx: MutationContext,
  m: MutationMessage,
  e: { documentId: string; type: 'create' | 'update' | 'delete'; forward: unknown; reverse: unknown; revision: number; hash: string | null },
): Promise<number> {
  const sequence = ctx.nextSequence();
  await tx.query(
    `INSERT INTO change_events (user_id, sequence, document_id, event_type, forward_patch, reverse_patch, sync_revision, content_hash, client_id, mutation_id)
     VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7, $8, $9, $10)`,
    [ctx.userId, sequence, e.documentId, e.type, json(e.forward), json(e.reverse), e.revision, e.hash, ctx.clientId, m.mutation_id],
  );
  return sequence;
}

function json(v: unknown): string | null {
  return v === null || v === undefined ? null : JSON.stringify(v);
}

async function conflict(
  tx: Queryable,
  ctx: MutationContext,
  m: MutationMessage,
  row: DocumentRow,
  rejected: unknown,
): Promise<MutationOutcome> {
  await tx.query(
    `INSERT INTO conflicts (user_id, document_id, mutation_id, mutation_type, client_id, base_revision, lost_to_revision, rejected_patch)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)`,
    [ctx.userId, row.id, m.mutation_id, m.type, ctx.clientId, m.base_revision ?? null, row.sync_revision, json(rejected)],
  );
  return {
    kind: 'conflict',
    reply: {
      type: 'conflict_detected',
      document_id: row.id,
      resolution_strategy: 'server_wins',
      server_document: toWireDocument(row),
      rejected_patch: (rejected ?? null) as never,
      mutation_id: m.mutation_id,
    },
  };
}

/**
 * Paths changed by other clients since `base`. Null when the log no longer holds every revision
 * since then (pruned), in which case nothing can be proven disjoint.
 */
async function pathsChangedByOthers(tx: Queryable, ctx: MutationContext, row: DocumentRow, base: number): Promise<string[][] | null> {
  const r = await tx.query<{ event_type: string; forward_patch: PatchOp[] | null; client_id: string | null }>(
    'SELECT event_type, forward_patch, client_id FROM change_events WHERE user_id = $1 AND document_id = $2 AND sync_revision > $3 ORDER BY sync_revision',
    [ctx.userId, row.id, base],
  );
  if (r.rows.length < row.sync_revision - base) return null;
  const paths: string[][] = [];
  for (const e of r.rows) {
    if (e.client_id === ctx.clientId) continue;
    if (e.event_type === 'update' && e.forward_patch) paths.push(...touchedPaths(e.forward_patch));
    else paths.push([...ROOT_PATH]);
  }
  return paths;
}

async function create(tx: Queryable, ctx: MutationContext, m: Create): Promise<MutationOutcome> {
  const content = m.document.content;
  assertDocumentContent(content, ctx.limits);
  const id = m.document.id;
  const hash = contentHash(content);
  const title = titleOf(content);
  const existing = await lockDocument(tx, id);
  let row: DocumentRow;
  if (!existing) {
    const r = await tx.query<DocumentRow>(
      `INSERT INTO documents (id, user_id, content, sync_revision, content_hash, title, created_at, updated_at)
       VALUES ($1, $2, $3::jsonb, 1, $4, $5, now(), now()) ON CONFLICT (id) DO NOTHING RETURNING ${DOCUMENT_COLUMNS}`,
      [id, ctx.userId, JSON.stringify(content), hash, title],
    );
    // Lost a race with another user's create of the same id, committed meanwhile.
    if (!r.rows[0]) throw new ProtocolError('document_exists', `document ${id} already exists`);
    row = r.rows[0];
  } else if (existing.user_id !== ctx.userId) {
    throw new ProtocolError('document_exists', `document ${id} already exists`);
  } else if (existing.deleted_at !== null && m.base_revision === existing.sync_revision) {
    const r = await tx.query<DocumentRow>(
      `UPDATE documents SET content = $2::jsonb, sync_revision = sync_revision + 1, content_hash = $3, title = $4, updated_at = now(), deleted_at = NULL
       WHERE id = $1 RETURNING ${DOCUMENT_COLUMNS}`,
      [id, JSON.stringify(content), hash, title],
    );
    row = r.rows[0]!;
  } else {
    return conflict(tx, ctx, m, existing, [{ op: 'add', path: '', value: content }]);
  }
  const sequence = await recordEvent(tx, ctx, m, { documentId: id, type: 'create', forward: content, reverse: null, revision: row.sync_revision, hash });
  return {
    kind: 'applied',
    sequence,
    reply: { type: 'document_created_response', document_id: id, success: true, sync_revision: row.sync_revision, content_hash: hash, sequence, mutation_id: m.mutation_id },
    push: { type: 'document_created', document: toWireDocument(row), sequence, client_id: ctx.clientId, mutation_id: m.mutation_id },
  };
}

async function update(tx: Queryable, ctx: MutationContext, m: Update): Promise<MutationOutcome> {
  const ops = m.patch.patch;
  assertPatch(ops, ctx.limits);
  const row = await ownDocument(tx, ctx, m.patch.document_id);
  const base = m.base_revision;
  if (row.deleted_at !== null) return conflict(tx, ctx, m, row, ops);
  let merged = false;
  if (base !== undefined) {
    if (base > row.sync_revision) return conflict(tx, ctx, m, row, ops);
    if (base < row.sync_revision) {
      const others = await pathsChangedByOthers(tx, ctx, row, base);
      if (others === null || anyOverlap(touchedPaths(ops), others)) return conflict(tx, ctx, m, row, ops);
      merged = others.length > 0;
    }
  } else if (m.patch.content_hash !== undefined && m.patch.content_hash !== row.content_hash) {
    return conflict(tx, ctx, m, row, ops);
  }
  let next: JsonObject;
  try {
    next = applyPatch(row.content, ops, ctx.limits);
  } catch (err) {
    // A merge that does not apply onto the newer version loses to it; on its own base it is just a bad patch.
    if (base !== undefined && base < row.sync_revision && err instanceof ProtocolError && err.code === 'invalid_patch') return conflict(tx, ctx, m, row, ops);
    throw err;
  }
  const hash = contentHash(next);
  const r = await tx.query<DocumentRow>(
    `UPDATE documents SET content = $2::jsonb, sync_revision = sync_revision + 1, content_hash = $3, title = $4, updated_at = now()
     WHERE id = $1 RETURNING ${DOCUMENT_COLUMNS}`,
    [row.id, JSON.stringify(next), hash, titleOf(next)],
  );
  const updated = r.rows[0]!;
  const sequence = await recordEvent(tx, ctx, m, {
    documentId: row.id,
    type: 'update',
    forward: ops,
    reverse: reversePatch(row.content, next),
    revision: updated.sync_revision,
    hash,
  });
  return {
    kind: 'applied',
    sequence,
    reply: {
      type: 'document_updated_response',
      document_id: row.id,
      success: true,
      sync_revision: updated.sync_revision,
      content_hash: hash,
      sequence,
      merged,
      ...(merged ? { document: toWireDocument(updated) } : {}),
      mutation_id: m.mutation_id,
    },
    push: {
      type: 'document_updated',
      document_id: row.id,
      patch: ops,
      sync_revision: updated.sync_revision,
      content_hash: hash,
      sequence,
      client_id: ctx.clientId,
      mutation_id: m.mutation_id,
    },
  };
}

async function remove(tx: Queryable, ctx: MutationContext, m: Delete): Promise<MutationOutcome> {
  const row = await ownDocument(tx, ctx, m.document_id);
  const base = m.base_revision;
  if (row.deleted_at !== null) return conflict(tx, ctx, m, row, null);
  if (base !== undefined) {
    if (base > row.sync_revision) return conflict(tx, ctx, m, row, null);
    if (base < row.sync_revision) {
      const others = await pathsChangedByOthers(tx, ctx, row, base);
      if (others === null || others.length > 0) return conflict(tx, ctx, m, row, null);
    }
  }
  const r = await tx.query<DocumentRow>(
    `UPDATE documents SET sync_revision = sync_revision + 1, updated_at = now(), deleted_at = now() WHERE id = $1 RETURNING ${DOCUMENT_COLUMNS}`,
    [row.id],
  );
  const deleted = r.rows[0]!;
  const sequence = await recordEvent(tx, ctx, m, {
    documentId: row.id,
    type: 'delete',
    forward: null,
    reverse: row.content,
    revision: deleted.sync_revision,
    hash: deleted.content_hash,
  });
  return {
    kind: 'applied',
    sequence,
    reply: { type: 'document_deleted_response', document_id: row.id, success: true, sync_revision: deleted.sync_revision, sequence, mutation_id: m.mutation_id },
    push: { type: 'document_deleted', document_id: row.id, sync_revision: deleted.sync_revision, sequence, client_id: ctx.clientId, mutation_id: m.mutation_id },
  };
}
