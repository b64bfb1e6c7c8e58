import { anyOverlap, applyPatch, reversePatch, ROOT_PATH, touchedPaths, type JsonObject, type PatchOp } from '@json-sync/core';
import { SyncError } from '../errors.js';
import type { ChangeRow, LocalStore } from '../storage/local-store.js';
import type { PlannedChange } from './local-changes.js';

export type Direction = 'undo' | 'redo';

/**
 * Undo and redo from the changes' own forward and reverse patches. An undo reverts this engine's
 * latest change of a document not yet undone; redo re-applies the change undone last. Either is
 * refused (`conflict`) when a later change touched an overlapping path.
 */
export class UndoStack {
  constructor(private readonly store: LocalStore) {}

  /** The change to revert or re-apply, checked against what happened to the document since. */
  target(id: string, direction: Direction): ChangeRow {
    const entry = direction === 'undo' ? this.store.latestUndoable(id) : this.store.latestRedoable(id);
    if (!entry) throw new SyncError('not_found', `nothing to ${direction} for ${id}`);
    const mine = pathsOf(entry);
    for (const later of this.store.historyAfter(entry.document_id, entry.seq)) {
      // Changes undone since, and the undos themselves, cancel out. Local changes since would have
      // cleared redo, and undos/redos are this chain itself: for redo only others' changes count.
      if (later.undone === 1 || later.origin === 'undo' || (direction === 'redo' && later.origin !== 'remote')) continue;
      if (anyOverlap(mine, pathsOf(later))) throw new SyncError('conflict', `a later change to ${entry.document_id} touched the same data; cannot ${direction}`);
    }
    return entry;
  }

  /** The change that reverts (undo) or repeats (redo) `entry` on the current view. */
  plan(entry: ChangeRow, live: boolean, view: JsonObject | null, direction: Direction): PlannedChange {
    const id = entry.document_id;
    const requireLive = (): JsonObject => {
      if (!live || !view) throw new SyncError('not_found', `no document ${id}`);
      return view;
    };
    const revive = (content: JsonObject): PlannedChange => {
      if (live) throw new SyncError('conflict', `document ${id} exists again; cannot ${direction}`);
      return { kind: 'create', content, forward: content, reverse: null };
    };
    const remove = (): PlannedChange => ({ kind: 'delete', content: null, forward: null, reverse: requireLive() });
    const patch = (ops: PatchOp[]): PlannedChange => {
      const current = requireLive();
      let next: JsonObject;
      try {
        next = applyPatch(current, ops);
      } catch {
        throw new SyncError('conflict', `the document changed since; cannot ${direction}`);
      }
      return { kind: 'update', content: next, forward: ops, reverse: reversePatch(current, next) };
    };
    const forward = entry.forward === null ? null : JSON.parse(entry.forward);
    const reverse = entry.reverse === null ? null : JSON.parse(entry.reverse);
    switch (entry.kind) {
      case 'create':
        return direction === 'undo' ? remove() : revive(forward as JsonObject);
      case 'delete':
        return direction === 'undo' ? revive(reverse as JsonObject) : remove();
      case 'update':
        return patch((direction === 'undo' ? reverse : forward) as PatchOp[]);
    }
  }

  /** Bookkeeping once the reverting change is written: the reverted one is undone, or redone. */
  done(entry: ChangeRow, direction: Direction): void {
    if (direction === 'undo') this.store.markUndone(entry.seq);
    else this.store.markRedone(entry.seq);
  }
}

/** The paths a change touched: the whole document for creates and deletes. */
function pathsOf(h: ChangeRow): string[][] {
  if (h.kind !== 'update') return [[...ROOT_PATH]];
  const paths = touchedPaths(JSON.parse(h.forward ?? '[]') as PatchOp[]);
  if (h.reverse) paths.push(...touchedPaths(JSON.parse(h.reverse) as PatchOp[]));
  return paths;
}
