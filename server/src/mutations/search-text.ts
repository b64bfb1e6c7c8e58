import type { JsonValue, PatchOp } from '@json-sync/core';

/**
 * Whether a change left every string of a document's content where it was, told from the change
 * alone: its patch and the exact reverse of it (core's reversePatch, only add, remove and replace).
 * Any string that came or went is in one of them (a string written is in the patch; one removed or
 * overwritten is in the reverse, which must put it back), and without move or copy nothing else
 * reorders them. Then the document's search text, made of its title and its strings in order, is
 * unchanged too as long as the title is (the caller compares titles).
 */
export function stringsUnchanged(patch: readonly PatchOp[], reverse: readonly PatchOp[]): boolean {
  return !movesOrWritesStrings(patch) && !movesOrWritesStrings(reverse);
}

function movesOrWritesStrings(ops: readonly PatchOp[]): boolean {
  return ops.some((op) => op.op === 'move' || op.op === 'copy' || (op.op !== 'remove' && holdsString(op.value)));
}

function holdsString(value: JsonValue): boolean {
  if (typeof value === 'string') return true;
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) return value.some(holdsString);
  for (const v of Object.values(value)) if (holdsString(v)) return true;
  return false;
}
