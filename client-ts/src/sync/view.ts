import { applyPatch, type JsonObject, type PatchOp } from '@json-sync/core';
import type { DocumentRecord, OutboxEntry } from '../storage/local-store.js';

export interface View {
  content: JsonObject | null;
  deleted: boolean;
  /** Outbox entries that no longer apply on top of the new base: they become conflicts. */
  failed: OutboxEntry[];
}

/** The local view of a document: the server's version with every outbox entry re-applied in order. */
export function computeView(doc: Pick<DocumentRecord, 'base_content' | 'base_deleted'> | undefined, entries: OutboxEntry[]): View {
  let content: JsonObject | null = doc?.base_content ? (JSON.parse(doc.base_content) as JsonObject) : null;
  let deleted = !doc || doc.base_content === null || doc.base_deleted === 1;
  const failed: OutboxEntry[] = [];
  for (const e of entries) {
    switch (e.kind) {
      case 'create':
        if (!deleted) {
          failed.push(e);
          break;
        }
        content = JSON.parse(e.payload!) as JsonObject;
        deleted = false;
        break;
      case 'update':
        if (deleted || !content) {
          failed.push(e);
          break;
        }
        try {
          content = applyPatch(content, JSON.parse(e.payload!) as PatchOp[]);
        } catch {
          failed.push(e);
        }
        break;
      case 'delete':
        if (deleted) failed.push(e);
        else deleted = true;
        break;
    }
  }
  return { content, deleted, failed };
}
