import { contentHash, newUuid, type ChangeEvent, type JsonObject, type PatchOp, type ServerMessageOf } from '@json-sync/core';
import type { StreamChange } from '../sync/stream-change.js';

/** The time every built message carries. */
export const AT = '2026-11-30T00:00:00.000Z';

/** Another client's create of `id` at `sequence`, as the replica takes it. */
export function created(sequence: number, id: string, content: JsonObject, extra: Partial<StreamChange> = {}): StreamChange {
  return { sequence, documentId: id, type: 'create', content, syncRevision: 1, contentHash: contentHash(content), mutationId: newUuid(), clientId: 'other', at: AT, ...extra };
}

/** Another client's update of `id` to `result` (revision `revision`) by `ops`. */
export function updated(sequence: number, id: string, ops: PatchOp[], revision: number, result: JsonObject): StreamChange {
  return { sequence, documentId: id, type: 'update', ops, syncRevision: revision, contentHash: contentHash(result), mutationId: newUuid(), clientId: 'other', at: AT };
}

/** Another client's delete of `id`, its revision `revision`. */
export function deleted(sequence: number, id: string, revision: number): StreamChange {
  return { sequence, documentId: id, type: 'delete', syncRevision: revision, contentHash: null, mutationId: newUuid(), clientId: 'other', at: AT };
}

/** Another client's create as the server sends it: a change event (live push or page). */
export function creationEvent(sequence: number, content: JsonObject, id: string = newUuid()): ChangeEvent {
  return {
    sequence,
    document_id: id,
    event_type: 'create',
    forward_patch: content,
    reverse_patch: null,
    sync_revision: 1,
    content_hash: contentHash(content),
    client_id: 'other',
    mutation_id: newUuid(),
    created_at: AT,
    title: typeof content.title === 'string' ? content.title : null,
  };
}

/** The server kept its version `content` (at `revision`) of `id` against our mutation `mutationId`. */
export function serverWins(id: string, content: JsonObject, revision: number, mutationId: string, rejected: unknown = null): ServerMessageOf<'conflict_detected'> {
  return {
    type: 'conflict_detected',
    document_id: id,
    resolution_strategy: 'server_wins',
    server_document: {
      id,
      user_id: newUuid(),
      title: typeof content.title === 'string' ? content.title : null,
      content,
      sync_revision: revision,
      content_hash: contentHash(content),
      created_at: AT,
      updated_at: AT,
      deleted_at: null,
    },
    rejected_patch: rejected as never,
    mutation_id: mutationId,
  };
}
