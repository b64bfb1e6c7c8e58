import { titleOf, type ChangeEvent, type ServerMessage } from '@json-sync/core';
import { toWireDocument, type DocumentRow } from './store/documents.js';

/** The push a change event stands for, built from the log (for changes committed by another process). */
export function pushFor(userId: string, e: ChangeEvent, row: DocumentRow | undefined): ServerMessage | null {
  switch (e.event_type) {
    case 'create': {
      const content = e.forward_patch as Record<string, never>;
      return {
        type: 'document_created',
        document: {
          ...(row ? toWireDocument(row) : { id: e.document_id, user_id: userId, created_at: e.created_at, deleted_at: null }),
          title: titleOf(content) ?? row?.given_title ?? null,
          content,
          sync_revision: e.sync_revision,
          content_hash: e.content_hash!,
          updated_at: e.created_at,
          deleted_at: null,
        },
        sequence: e.sequence,
        client_id: e.client_id,
        mutation_id: e.mutation_id,
      };
    }
    case 'update':
      return {
        type: 'document_updated',
        document_id: e.document_id,
        patch: e.forward_patch as never,
        sync_revision: e.sync_revision,
        content_hash: e.content_hash!,
        sequence: e.sequence,
        client_id: e.client_id,
        mutation_id: e.mutation_id,
      };
    case 'delete':
      return { type: 'document_deleted', document_id: e.document_id, sync_revision: e.sync_revision, sequence: e.sequence, client_id: e.client_id, mutation_id: e.mutation_id };
  }
}
