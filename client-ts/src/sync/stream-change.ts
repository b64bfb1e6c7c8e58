import { titleOf, type ChangeEvent, type JsonObject, type PatchOp } from '@json-sync/core';

/** A change of the server's ordered stream, as the replica applies it: a push, a catch-up event, or the answer to one of ours. */
export interface StreamChange {
  sequence: number;
  documentId: string;
  type: 'create' | 'update' | 'delete';
  /** Full content: creates, and merged updates (the server's result). */
  content?: JsonObject;
  ops?: PatchOp[];
  syncRevision: number;
  contentHash: string | null;
  /** The server's title for a create, when it is not the content's own. */
  givenTitle?: string | null;
  mutationId: string | null;
  clientId: string | null;
  /** When the server committed it. */
  at: string;
}

/** A committed change as the server sends it (a live push or a catch-up page's event: one shape) → the replica's input. */
export function streamChangeOf(e: ChangeEvent): StreamChange {
  const base = {
    sequence: e.sequence,
    documentId: e.document_id,
    syncRevision: e.sync_revision,
    contentHash: e.content_hash,
    mutationId: e.mutation_id,
    clientId: e.client_id,
    at: e.created_at,
  };
  switch (e.event_type) {
    case 'create': {
      const content = e.forward_patch as JsonObject;
      const title = e.title ?? null;
      return { ...base, type: 'create', content, givenTitle: title !== null && title !== titleOf(content) ? title : null };
    }
    case 'update':
      return { ...base, type: 'update', ops: e.forward_patch as PatchOp[] };
    case 'delete':
      return { ...base, type: 'delete' };
  }
}
