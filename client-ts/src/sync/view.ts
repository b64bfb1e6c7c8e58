import { applyPatch, type JsonObject, type PatchOp } from '@json-sync/core';
import type { BaseRow, ChangeRow } from '../storage/local-store.js';

export interface View<E> {
  content: JsonObject | null;
  deleted: boolean;
  /** Outbox entries that no longer apply on top of the base: they become conflicts. */
  failed: E[];
}

/** The local view of a document: the server's version with every outbox entry re-applied in order. */
export function computeView<E extends Pick<ChangeRow, 'kind' | 'forward'>>(base: Pick<BaseRow, 'content' | 'deleted'> | undefined, entries: readonly E[]): View<E> {
  let content: JsonObject | null = base?.content ? (JSON.parse(base.content) as JsonObject) : null;
  let deleted = !base || base.content === null || base.deleted === 1;
  const failed: E[] = [];
  for (const e of entries) {
    switch (e.kind) {
      case 'create':
        if (!deleted) {
          failed.push(e);
          break;
        }
        content = JSON.parse(e.forward!) as JsonObject;
        deleted = false;
        break;
      case 'update':
        if (deleted || !content) {
          failed.push(e);
          break;
        }
        try {
          content = applyPatch(content, JSON.parse(e.forward!) as PatchOp[]);
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
