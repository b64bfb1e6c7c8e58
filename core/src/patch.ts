import fjp from 'fast-json-patch';
import { ProtocolError } from './errors.js';
import { DEFAULT_LIMITS, type Limits } from './limits.js';
import { assertDocumentContent, assertJsonValue, cloneJson, HOSTILE_KEYS, isPlainObject, isStorableString, type JsonObject, type JsonValue } from './json-value.js';

export type PatchOp =
  | { op: 'add'; path: string; value: JsonValue }
  | { op: 'remove'; path: string }
  | { op: 'replace'; path: string; value: JsonValue }
  | { op: 'move'; from: string; path: string }
  | { op: 'copy'; from: string; path: string }
  | { op: 'test'; path: string; value: JsonValue };

/** A pointer as an error message quotes it: never more than 64 characters of what a sender wrote. */
function shown(pointer: string): string {
  return JSON.stringify(pointer.length > 64 ? `${pointer.slice(0, 64)}…` : pointer);
}

const OPS_WITH_VALUE = new Set(['add', 'replace', 'test']);
const OPS_WITH_FROM = new Set(['move', 'copy']);

/**
 * Splits an RFC 6901 pointer into unescaped tokens. Refuses malformed escapes and the keys that
 * reach a prototype, wherever they stand in the pointer.
 */
export function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (pointer[0] !== '/') throw new ProtocolError('invalid_patch', `pointer ${shown(pointer)} must start with "/"`);
  return pointer
    .slice(1)
    .split('/')
    .map((raw) => {
      if (/~[^01]|~$/.test(raw)) throw new ProtocolError('invalid_patch', `pointer ${shown(pointer)} has a bad "~" escape`);
      const token = raw.replace(/~1/g, '/').replace(/~0/g, '~');
      if (HOSTILE_KEYS.has(token)) throw new ProtocolError('invalid_patch', `pointer ${shown(pointer)} names the forbidden key "${token}"`);
      if (!isStorableString(token)) throw new ProtocolError('invalid_patch', 'pointer holds U+0000 or an unpaired surrogate');
      return token;
    });
}

/**
 * Checks an RFC 6902 patch as it arrives from the wire and returns it rebuilt from each
 * operation's known members only (`op`, `path`, and `from` or `value` as the op takes them):
 * anything else a sender put into an operation is dropped, never stored or forwarded. Refuses
 * (`invalid_patch`) more than `max_patch_ops` operations, unknown ops, malformed pointers and
 * values that break a content rule (hostile keys, ±2^53, U+0000, lone surrogates, depth).
 */
export function parsePatch(ops: unknown, limits: Pick<Limits, 'max_patch_ops' | 'max_depth'> = DEFAULT_LIMITS): PatchOp[] {
  if (!Array.isArray(ops)) throw new ProtocolError('invalid_patch', 'patch must be an array of operations');
  if (ops.length > limits.max_patch_ops) throw new ProtocolError('invalid_patch', `patch has more than ${limits.max_patch_ops} operations`);
  return ops.map((op: unknown, i): PatchOp => {
    if (!isPlainObject(op)) throw new ProtocolError('invalid_patch', `operation ${i} is not an object`);
    const name = op.op;
    if (typeof name !== 'string' || !(OPS_WITH_VALUE.has(name) || OPS_WITH_FROM.has(name) || name === 'remove')) {
      // Only a short string is echoed: a sender's value may be anything (10,000 levels deep, megabytes long).
      const shown = typeof name === 'string' ? JSON.stringify(name.slice(0, 64)) : name === null ? 'null' : `of type ${Array.isArray(name) ? 'array' : typeof name}`;
      throw new ProtocolError('invalid_patch', `operation ${i}: unknown op ${shown}`);
    }
    const path = op.path;
    if (typeof path !== 'string') throw new ProtocolError('invalid_patch', `operation ${i}: path must be a string`);
    parsePointer(path);
    if (OPS_WITH_FROM.has(name)) {
      const from = op.from;
      if (typeof from !== 'string') throw new ProtocolError('invalid_patch', `operation ${i}: ${name} needs "from"`);
      parsePointer(from);
      return { op: name as 'move' | 'copy', from, path };
    }
    if (name === 'remove') return { op: 'remove', path };
    if (!Object.prototype.hasOwnProperty.call(op, 'value') || op.value === undefined) throw new ProtocolError('invalid_patch', `operation ${i}: ${name} needs "value"`);
    const value = op.value;
    try {
      assertJsonValue(value, limits.max_depth);
    } catch (err) {
      throw new ProtocolError('invalid_patch', `operation ${i}: ${(err as Error).message}`);
    }
    return { op: name as 'add' | 'replace' | 'test', path, value };
  });
}

/**
 * Applies a patch to a copy of `content` (the input is never mutated) and checks that the result
 * is still a valid document. Failures throw ProtocolError: `invalid_patch` when the patch does not
 * apply, `invalid_message`/`message_too_large` when the result breaks a content rule.
 */
export function applyPatch(content: JsonObject, ops: readonly PatchOp[], limits: Pick<Limits, 'max_depth' | 'max_document_bytes' | 'max_patch_ops'> = DEFAULT_LIMITS): JsonObject {
  const clean = parsePatch(ops, limits);
  let result: unknown;
  try {
    result = fjp.applyPatch(cloneJson(content), cloneJson(clean) as fjp.Operation[], true, true, true).newDocument;
  } catch (err) {
    throw new ProtocolError('invalid_patch', `patch does not apply: ${describePatchError(err)}`);
  }
  if (!isPlainObject(result)) throw new ProtocolError('invalid_patch', 'patch would make the content something other than an object');
  assertDocumentContent(result, limits);
  return result as JsonObject;
}

function describePatchError(err: unknown): string {
  const e = err as { name?: string; message?: string };
  // fast-json-patch puts a multi-line dump of the operation and document into `message`.
  return (e.message ?? String(err)).split('\n')[0] ?? 'unknown error';
}

/** The smallest patch (by fast-json-patch's member-wise comparison) that turns `from` into `to`. */
export function diff(from: JsonObject, to: JsonObject): PatchOp[] {
  return fjp.compare(from, to) as PatchOp[];
}

/** The patch that undoes a change: applied to `after`, it gives back exactly `before`. */
export function reversePatch(before: JsonObject, after: JsonObject): PatchOp[] {
  return diff(after, before);
}

/**
 * The paths a patch touches, as token lists, for conflict detection. A path that enters an array
 * is cut at the array (an op on one element touches the whole array, since indexes shift). A
 * token counts as an array index when it is all digits or "-": an object key that looks like an
 * index is treated the same way, which can only add conflicts, never hide one. `move` and `copy`
 * touch their `from` too.
 */
export function touchedPaths(ops: readonly PatchOp[]): string[][] {
  const out: string[][] = [];
  for (const op of ops) {
    out.push(cutAtArray(parsePointer(op.path)));
    if (op.op === 'move' || op.op === 'copy') out.push(cutAtArray(parsePointer(op.from)));
  }
  return out;
}

function cutAtArray(tokens: string[]): string[] {
  const i = tokens.findIndex((t) => t === '-' || /^\d+$/.test(t));
  return i === -1 ? tokens : tokens.slice(0, i);
}

/** Two paths overlap when one is a prefix of the other (itself, a parent or a child). */
export function pathsOverlap(a: readonly string[], b: readonly string[]): boolean {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** True when some path of `a` overlaps some path of `b`. */
export function anyOverlap(a: readonly (readonly string[])[], b: readonly (readonly string[])[]): boolean {
  return a.some((p) => b.some((q) => pathsOverlap(p, q)));
}

/** The whole document: what a create, delete or revive touches. */
export const ROOT_PATH: readonly string[] = Object.freeze([]);
