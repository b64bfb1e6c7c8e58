import { titleOf, type ChangeEvent, type JsonObject, type ServerMessage } from '@json-sync/core';
import { toWireDocument, type DocumentRow } from './store/documents.js';

/**
 * A committed change as protocol 1 pushes it (`document_created`, `document_updated`,
 * `document_deleted`), for the clients that speak it; protocol 2 sends the change event itself.
 * A create's push carries the whole document: `row` is the document as the log's reader or the
 * mutation found it (its creation time, for a document created again after a delete).
 */
export function legacyPushOf(userId: string, e: ChangeEvent, row: DocumentRow | undefined): ServerMessage {
  switch (e.event_type) {
    case 'create': {
      const content = e.forward_patch as JsonObject;
      return {
        type: 'document_created',
        document: {
          ...(row ? toWireDocument(row) : { id: e.document_id, user_id: userId, created_at: e.created_at }),
          // Creates logged before the log kept titles have none: derived as it was then.
          title: e.title ?? titleOf(content) ?? row?.given_title ?? null,
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
