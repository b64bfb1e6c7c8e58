import {
  anyOverlap,
  applyPatch,
  assertDocumentContent,
  assertJsonValue,
  canonicalJson,
  parsePatch,
  cutTitle,
  ProtocolError,
  reversePatch,
  ROOT_PATH,
  titleOf,
  touchedPaths,
  type ChangeEvent,
  type JsonObject,
  type Limits,
  type MutationMessage,
  type ServerMessage,
  type ServerMessageOf,
} from '@json-sync/core';
import { createHash } from 'node:crypto';
import { toWireDocument, type DocumentRow } from '../store/documents.js';
import { stringsUnchanged } from './search-text.js';
import type { BatchStore } from './store.js';

export interface MutationContext {
  userId: string;
  clientId: string;
  limits: Limits;
  /** Each user's last sequence so far in this transaction: the next change takes the one after. */
  sequences: Map<string, number>;
}

/**
 * What committing one mutation produced: the reply for the sender (and its JSON text, made once
 * for the log of replies and the socket) and, for a new change, its change event — the row of the
 * log and what the user's other connections are sent — with the document as it now is.
 */
export type MutationOutcome =
  | { kind: 'applied'; reply: ServerMessage; replyText: string; change: ChangeEvent; document: DocumentRow; merged: boolean }
  | { kind: 'conflict'; reply: ServerMessageOf<'conflict_detected'>; replyText: string }
  | { kind: 'replay'; reply: ServerMessage; replyText: string };

type Computed = DistributiveOmit<MutationOutcome, 'replyText'>;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

type Create = Extract<MutationMessage, { type: 'create_document' }>;
type Update = Extract<MutationMessage, { type: 'update_document' }>;
type Delete = Extract<MutationMessage, { type: 'delete_document' }>;

/**
 * Applies one mutation to the batch's store. Pure computation over rows the store loaded; writes
 * are buffered in the store. Throws ProtocolError for a permanent failure, after which the caller
 * rolls the store back to its mark.
 */
export function applyMutation(store: BatchStore, ctx: MutationContext, received: MutationMessage): MutationOutcome {
  // Validate before hashing: canonical JSON of hostile input (infinite numbers, extreme nesting) must never run.
  // A patch is rebuilt from its operations' known members: only those are hashed, stored and pushed.
  const m: MutationMessage =
    received.type === 'update_document' ? { ...received, patch: { ...received.patch, patch: parsePatch(received.patch.patch, ctx.limits) } } : received;
  if (m.type === 'create_document') {
    assertDocumentContent(m.document.content, ctx.limits);
    if (typeof m.document.title === 'string') assertJsonValue(m.document.title);
  }
  const payloadHash = createHash('sha256').update(canonicalJson(m)).digest('hex');
  const previous = store.replay(ctx.userId, m.mutation_id);
  if (previous) {
    if (previous.payload_hash !== payloadHash) throw new ProtocolError('invalid_message', 'mutation_id was already used for a different mutation');
    return { kind: 'replay', reply: previous.reply, replyText: JSON.stringify(previous.reply) };
  }
  let outcome: Computed;
  switch (m.type) {
    case 'create_document':
      outcome = create(store, ctx, m);
      break;
    case 'update_document':
      outcome = update(store, ctx, m);
      break;
    case 'delete_document':
      outcome = remove(store, ctx, m);
      break;
  }
  const replyText = JSON.stringify(outcome.reply);
  store.recordReply(ctx.userId, m.mutation_id, payloadHash, outcome.reply, replyText);
  return { ...outcome, replyText } as MutationOutcome;
}

/** The user's own document, or document_not_found: another user's id reveals nothing. */
function ownDocument(store: BatchStore, ctx: MutationContext, id: string): DocumentRow {
  const row = store.document(id);
  if (!row || row.user_id !== ctx.userId) throw new ProtocolError('document_not_found', `no document ${id}`);
  return row;
}

/** The content's canonical JSON, made once: its hash is the content hash, and it is what gets stored. */
function canonical(content: JsonObject): { text: string; hash: string } {
  const text = canonicalJson(content);
  return { text, hash: createHash('sha256').update(text, 'utf8').digest('hex') };
}

/** Writes the document and its change event, built here once: the log row, the pages and the pushes all carry this object. */
function recordEvent(
  store: BatchStore,
  ctx: MutationContext,
  m: MutationMessage,
  row: DocumentRow,
  contentText: string | undefined,
  sameSearchText: boolean,
  type: 'create' | 'update' | 'delete',
  forward: unknown,
  reverse: unknown,
): ChangeEvent {
  const sequence = ctx.sequences.get(ctx.userId)! + 1;
  ctx.sequences.set(ctx.userId, sequence);
  store.putDocument(row, contentText, sameSearchText);
  const change: ChangeEvent = {
    sequence,
    document_id: row.id,
    event_type: type,
    forward_patch: forward as never,
    reverse_patch: (reverse ?? null) as never,
    sync_revision: row.sync_revision,
    content_hash: row.content_hash,
    client_id: ctx.clientId,
    mutation_id: m.mutation_id,
    created_at: store.now.toISOString(),
    ...(type === 'create' ? { title: row.title } : {}),
  };
  store.addEvent({ user_id: ctx.userId, ...change, forward_patch: forward as never, mutation_id: m.mutation_id });
  return change;
}

function conflict(store: BatchStore, ctx: MutationContext, m: MutationMessage, row: DocumentRow, rejected: unknown): Computed {
  store.addConflict({
    user_id: ctx.userId,
    document_id: row.id,
    mutation_id: m.mutation_id,
    mutation_type: m.type,
    client_id: ctx.clientId,
    base_revision: m.base_revision ?? null,
    lost_to_revision: row.sync_revision,
    rejected_patch: rejected ?? null,
  });
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
function pathsChangedByOthers(store: BatchStore, ctx: MutationContext, row: DocumentRow, base: number): string[][] | null {
  const events = store.eventsSince(row.id, base);
  if (events.length < row.sync_revision - base) return null;
  const paths: string[][] = [];
  for (const e of events) {
    if (e.client_id === ctx.clientId) continue;
    if (e.event_type === 'update' && e.forward_patch) paths.push(...touchedPaths(e.forward_patch));
    else paths.push([...ROOT_PATH]);
  }
  return paths;
}

function create(store: BatchStore, ctx: MutationContext, m: Create): Computed {
  const content = m.document.content;
  const id = m.document.id;
  const existing = store.document(id);
  if (existing && existing.user_id !== ctx.userId) throw new ProtocolError('document_exists', `document ${id} already exists`);
  if (existing && !(existing.deleted_at !== null && m.base_revision === existing.sync_revision)) {
    return conflict(store, ctx, m, existing, [{ op: 'add', path: '', value: content }]);
  }
  const now = store.now;
  const given = m.document.title ? cutTitle(m.document.title) : null;
  const json = canonical(content);
  const row: DocumentRow = {
    id,
    user_id: ctx.userId,
    content,
    sync_revision: existing ? existing.sync_revision + 1 : 1,
    content_hash: json.hash,
    title: titleOf(content) ?? given,
    given_title: given,
    created_at: existing ? existing.created_at : now,
    updated_at: now,
    deleted_at: null,
  };
  const change = recordEvent(store, ctx, m, row, json.text, false, 'create', content, null);
  const { sequence } = change;
  return {
    kind: 'applied',
    change,
    document: row,
    merged: false,
    reply: {
      type: 'document_created_response',
      document_id: id,
      success: true,
      sync_revision: row.sync_revision,
      content_hash: row.content_hash,
      sequence,
      mutation_id: m.mutation_id,
    },
  };
}

function update(store: BatchStore, ctx: MutationContext, m: Update): Computed {
  const ops = m.patch.patch;
  const row = ownDocument(store, ctx, m.patch.document_id);
  const base = m.base_revision;
  if (row.deleted_at !== null) return conflict(store, ctx, m, row, ops);
  let merged = false;
  if (base !== undefined) {
    if (base > row.sync_revision) return conflict(store, ctx, m, row, ops);
    if (base < row.sync_revision) {
      const others = pathsChangedByOthers(store, ctx, row, base);
      if (others === null || anyOverlap(touchedPaths(ops), others)) return conflict(store, ctx, m, row, ops);
      merged = others.length > 0;
    }
  } else if (m.patch.content_hash !== undefined && m.patch.content_hash !== row.content_hash) {
    return conflict(store, ctx, m, row, ops);
  }
  let next: JsonObject;
  try {
    next = applyPatch(row.content, ops, ctx.limits);
  } catch (err) {
    // A merge that does not apply onto the newer version loses to it; on its own base it is just a bad patch.
    if (base !== undefined && base < row.sync_revision && err instanceof ProtocolError && err.code === 'invalid_patch') return conflict(store, ctx, m, row, ops);
    throw err;
  }
  const json = canonical(next);
  const updated: DocumentRow = {
    ...row,
    content: next,
    sync_revision: row.sync_revision + 1,
    content_hash: json.hash,
    title: titleOf(next) ?? row.given_title,
    updated_at: store.now,
  };
  const reverse = reversePatch(row.content, next);
  const sameSearchText = updated.title === row.title && stringsUnchanged(ops, reverse);
  const change = recordEvent(store, ctx, m, updated, json.text, sameSearchText, 'update', ops, reverse);
  const { sequence } = change;
  return {
    kind: 'applied',
    change,
    document: updated,
    merged,
    reply: {
      type: 'document_updated_response',
      document_id: row.id,
      success: true,
      sync_revision: updated.sync_revision,
      content_hash: updated.content_hash,
      sequence,
      merged,
      ...(merged ? { document: toWireDocument(updated) } : {}),
      mutation_id: m.mutation_id,
    },
  };
}

function remove(store: BatchStore, ctx: MutationContext, m: Delete): Computed {
  const row = ownDocument(store, ctx, m.document_id);
  const base = m.base_revision;
  if (row.deleted_at !== null) return conflict(store, ctx, m, row, null);
  if (base !== undefined) {
    if (base > row.sync_revision) return conflict(store, ctx, m, row, null);
    if (base < row.sync_revision) {
      const others = pathsChangedByOthers(store, ctx, row, base);
      if (others === null || others.length > 0) return conflict(store, ctx, m, row, null);
    }
  }
  const deleted: DocumentRow = { ...row, sync_revision: row.sync_revision + 1, updated_at: store.now, deleted_at: store.now };
  // A delete keeps the content and title: the search text is unchanged.
  const change = recordEvent(store, ctx, m, deleted, undefined, true, 'delete', null, row.content);
  const { sequence } = change;
  return {
    kind: 'applied',
    change,
    document: deleted,
    merged: false,
    reply: {
      type: 'document_deleted_response',
      document_id: row.id,
      success: true,
      sync_revision: deleted.sync_revision,
      sequence,
      mutation_id: m.mutation_id,
    },
  };
}
