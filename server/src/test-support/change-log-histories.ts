import {
  applyPatch,
  cloneJson,
  contentHash,
  escapePointerToken,
  jsonEqual,
  newUuid,
  titleOf,
  type JsonObject,
  type JsonValue,
  type MutationMessage,
  type PatchOp,
  type ServerMessage,
} from '@json-sync/core';
import { mulberry32 } from '@json-sync/test-support';
import type { DocumentRow } from '../store/documents.js';

// Random document histories for the change-log property of the storage conformance suite: each is
// a create, 1 to 8 updates of random JSON Patch operations (every kind, escaped pointer tokens,
// array elements) each based on the revision before, and sometimes a delete. `verifyHistory` checks
// everything the change log must say about one of them once it has been applied.

class Rng {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

// Keys that need pointer escaping ("~", "/"), the empty key, non-ASCII, and one that looks like an index.
const KEYS = ['a', 'b', 'c', 'title', 'x y', 'til~de', 'sl/ash', '~1', '', 'ü', '😀', '0', 'list', 'obj'];
const CHARS = ['a', 'b', 'Z', ' ', 'é', '😀', '"', '\\', '\n', '/', '~', '中'];
const NUMBERS = [0, 1, -1, 42, 0.1, -2.5, 1e15, 1.5e-7, 1e-300, 9007199254740991, -9007199254740991, 123456.789];

function randString(r: Rng): string {
  let s = '';
  const n = r.int(9);
  for (let i = 0; i < n; i++) s += r.pick(CHARS);
  return s;
}

function randValue(r: Rng, depth: number): JsonValue {
  const k = r.int(depth >= 3 ? 6 : 9);
  switch (k) {
    case 0:
      return null;
    case 1:
      return r.chance(0.5);
    case 2:
      return r.int(2_000_001) - 1_000_000;
    case 3:
      return r.pick(NUMBERS);
    case 4:
    case 5:
      return randString(r);
    case 6:
    case 7:
      return Array.from({ length: r.int(4) }, () => randValue(r, depth + 1));
    default:
      return randObject(r, depth + 1);
  }
}

function randObject(r: Rng, depth: number): JsonObject {
  const o: JsonObject = {};
  const n = r.int(4);
  for (let i = 0; i < n; i++) o[r.pick(KEYS)] = randValue(r, depth);
  return o;
}

interface Node {
  tokens: string[];
  value: JsonValue;
}

function nodes(value: JsonValue, tokens: string[] = [], out: Node[] = []): Node[] {
  out.push({ tokens, value });
  if (Array.isArray(value)) value.forEach((v, i) => nodes(v, [...tokens, String(i)], out));
  else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) nodes(v, [...tokens, k], out);
  return out;
}

const pointer = (tokens: string[]) => tokens.map((x) => `/${escapePointerToken(x)}`).join('');
const isContainer = (v: JsonValue) => v !== null && typeof v === 'object';
const isPrefix = (p: string[], q: string[]) => p.length <= q.length && p.every((x, i) => q[i] === x);

/** Where an add (or the target of move/copy) may go inside container `c`. */
function addTarget(r: Rng, c: Node): string[] {
  if (Array.isArray(c.value)) return [...c.tokens, r.chance(0.2) ? '-' : String(r.int(c.value.length + 1))];
  return [...c.tokens, r.pick(KEYS)];
}

type OpKind = PatchOp['op'];

/** One random operation that applies to `cur` (checked with core applyPatch), and its kind. */
function randomOp(r: Rng, cur: JsonObject): PatchOp {
  const all = nodes(cur);
  const nonRoot = all.filter((n) => n.tokens.length > 0);
  const containers = all.filter((n) => isContainer(n.value));
  const big = Buffer.byteLength(JSON.stringify(cur)) > 8_000;
  for (let attempt = 0; attempt < 30; attempt++) {
    const kind: OpKind = r.pick(['add', 'add', 'remove', 'replace', 'move', 'move', 'copy', 'copy', 'test'] as const);
    let op: PatchOp | null = null;
    switch (kind) {
      case 'add':
        op = { op: 'add', path: pointer(addTarget(r, r.pick(containers))), value: randValue(r, 1) };
        break;
      case 'remove':
        if (nonRoot.length) op = { op: 'remove', path: pointer(r.pick(nonRoot).tokens) };
        break;
      case 'replace':
        // Now and then the whole document.
        op = r.chance(0.05) || !nonRoot.length ? { op: 'replace', path: '', value: randObject(r, 1) } : { op: 'replace', path: pointer(r.pick(nonRoot).tokens), value: randValue(r, 1) };
        break;
      case 'move': {
        if (!nonRoot.length) break;
        const from = r.pick(nonRoot);
        const targets = containers.filter((c) => !isPrefix(from.tokens, c.tokens));
        if (targets.length) op = { op: 'move', from: pointer(from.tokens), path: pointer(addTarget(r, r.pick(targets))) };
        break;
      }
      case 'copy':
        if (nonRoot.length && !big) op = { op: 'copy', from: pointer(r.pick(nonRoot).tokens), path: pointer(addTarget(r, r.pick(containers))) };
        break;
      case 'test':
        if (nonRoot.length) {
          const n = r.pick(nonRoot);
          op = { op: 'test', path: pointer(n.tokens), value: cloneJson(n.value) };
        }
        break;
    }
    if (!op) continue;
    try {
      applyPatch(cur, [op]);
      return op;
    } catch {
      // Not valid here (an index shifted by a move, a too-deep result): draw again.
    }
  }
  return { op: 'add', path: '/fallback', value: r.int(100) };
}

export interface History {
  id: string;
  /** contents[k] is the content at revision k + 1. */
  contents: JsonObject[];
  patches: PatchOp[][];
  deleted: boolean;
  /** The index of the writer (a user of its own) that sends it. */
  writer: number;
  /** Its mutations, to be sent in this order without waiting: the create, each update based on the revision before, the delete. */
  messages: MutationMessage[];
}

function makeHistory(r: Rng, writer: number): History {
  const first = randObject(r, 1);
  if (r.chance(0.5)) first.title = randString(r);
  const contents = [first];
  const patches: PatchOp[][] = [];
  const updates = 1 + r.int(8);
  for (let u = 0; u < updates; u++) {
    let cur = contents[contents.length - 1]!;
    const ops: PatchOp[] = [];
    const n = 1 + r.int(4);
    for (let i = 0; i < n; i++) {
      const op = randomOp(r, cur);
      ops.push(op);
      cur = applyPatch(cur, [op]);
    }
    // The whole patch, as the server will apply it, gives the same result as op by op.
    contents.push(applyPatch(contents[contents.length - 1]!, ops));
    patches.push(ops);
  }
  const deleted = r.chance(0.3);
  const id = newUuid();
  const messages: MutationMessage[] = [
    { type: 'create_document', document: { id, content: first }, mutation_id: newUuid() },
    ...patches.map((ops, k): MutationMessage => ({ type: 'update_document', patch: { document_id: id, patch: ops }, base_revision: k + 1, mutation_id: newUuid() })),
    ...(deleted ? [{ type: 'delete_document', document_id: id, base_revision: contents.length, mutation_id: newUuid() } as const] : []),
  ];
  return { id, contents, patches, deleted, writer, messages };
}

/** `count` histories from `seed` (the same seed gives the same contents and patches), dealt round to `writers` writers. */
export function makeHistories(seed: number, count: number, writers: number): History[] {
  const rng = new Rng(seed);
  return Array.from({ length: count }, (_, i) => makeHistory(rng, i % writers));
}

/** What the replies to a history's mutations must say; returns the problems and the sequences the replies named. */
export function checkReplies(h: History, replies: ServerMessage[]): { problems: string[]; sequences: number[] } {
  const problems: string[] = [];
  const sequences: number[] = [];
  replies.forEach((m, k) => {
    const expected = k === 0 ? 'document_created_response' : k <= h.patches.length ? 'document_updated_response' : 'document_deleted_response';
    if (m.type !== expected) return problems.push(`mutation ${k}: expected ${expected}, got ${JSON.stringify(m).slice(0, 300)}`);
    const r = m as ServerMessage & { sync_revision: number; sequence: number; content_hash?: string; merged?: boolean };
    sequences.push(r.sequence);
    if (r.sync_revision !== k + 1) problems.push(`mutation ${k}: sync_revision ${r.sync_revision}, expected ${k + 1}`);
    if (r.content_hash !== undefined && r.content_hash !== contentHash(h.contents[k]!)) problems.push(`mutation ${k}: reply content_hash differs from the tracked content`);
    if (r.merged === true) problems.push(`mutation ${k}: merged although based on the current revision`);
    return undefined;
  });
  return { problems, sequences };
}

export interface EventRow {
  user_id: string;
  sequence: number;
  document_id: string;
  event_type: 'create' | 'update' | 'delete';
  forward_patch: JsonValue;
  reverse_patch: JsonValue;
  sync_revision: number;
  content_hash: string | null;
  client_id: string | null;
  mutation_id: string | null;
}

/**
 * Everything the change log must say about one history sent by `writer`, whose replies named
 * `sequences`: its events' order, revisions, ids and hashes, the shapes of forward and reverse
 * patches per event type, the row itself, and both walks — back through the reverse patches to
 * every earlier content, forward from the create to the latest.
 */
export function verifyHistory(h: History, writer: { userId: string; clientId: string }, sequences: number[], events: EventRow[], doc: DocumentRow | undefined): string[] {
  const p: string[] = [];
  const last = h.contents.length - 1;
  const types = ['create', ...h.patches.map(() => 'update'), ...(h.deleted ? ['delete'] : [])];
  if (!doc) return ['document row missing'];
  if (events.map((e) => e.event_type).join() !== types.join()) return [`event types ${events.map((e) => e.event_type).join()} != ${types.join()}`];
  events.forEach((e, k) => {
    if (e.sync_revision !== k + 1) p.push(`event ${k}: sync_revision ${e.sync_revision}`);
    if (e.mutation_id !== h.messages[k]!.mutation_id) p.push(`event ${k}: mutation_id ${e.mutation_id} != ${h.messages[k]!.mutation_id}`);
    if (e.client_id !== writer.clientId) p.push(`event ${k}: client_id ${e.client_id}`);
    if (e.user_id !== writer.userId) p.push(`event ${k}: user_id ${e.user_id}`);
    if (e.sequence !== sequences[k]) p.push(`event ${k}: sequence ${e.sequence}, acknowledged as ${sequences[k]}`);
    // A delete's hash is that of the content it removed, the latest one.
    const at = h.contents[Math.min(k, last)]!;
    if (e.content_hash !== contentHash(at)) p.push(`event ${k} (${e.event_type}): content_hash is not contentHash of the content at that revision`);
  });
  // Shapes of forward and reverse per event type.
  const create = events[0]!;
  if (!jsonEqual(create.forward_patch, h.contents[0])) p.push('create: forward_patch is not the created content');
  if (create.reverse_patch !== null) p.push('create: reverse_patch is not null');
  h.patches.forEach((ops, i) => {
    if (!jsonEqual(events[i + 1]!.forward_patch, ops)) p.push(`update ${i + 1}: forward_patch is not the patch sent`);
  });
  if (h.deleted) {
    const del = events[events.length - 1]!;
    if (del.forward_patch !== null) p.push('delete: forward_patch is not null');
    if (!jsonEqual(del.reverse_patch, h.contents[last])) p.push('delete: reverse_patch is not the full content before the delete');
  }
  // The row itself.
  if (!jsonEqual(doc.content, h.contents[last])) p.push('documents.content is not the latest tracked content');
  if (doc.content_hash !== contentHash(h.contents[last]!)) p.push('documents.content_hash is wrong');
  if (doc.sync_revision !== events.length) p.push(`documents.sync_revision ${doc.sync_revision} != ${events.length} events`);
  if ((doc.deleted_at !== null) !== h.deleted) p.push(`documents.deleted_at ${String(doc.deleted_at)} but deleted=${h.deleted}`);
  if (doc.title !== titleOf(h.contents[last]!)) p.push(`documents.title ${JSON.stringify(doc.title)} is not titleOf the latest content`);
  // Walk back from the latest content through the reverse patches.
  let state: JsonObject = doc.content;
  for (let k = events.length - 1; k >= 1; k--) {
    const e = events[k]!;
    try {
      state = e.event_type === 'delete' ? (e.reverse_patch as JsonObject) : applyPatch(state, e.reverse_patch as PatchOp[]);
    } catch (err) {
      p.push(`reverse of event ${k} does not apply: ${(err as Error).message}`);
      return p;
    }
    // Undoing event k gives the content at revision k (for a delete: the same content, now live again).
    const want = h.contents[e.event_type === 'delete' ? last : k - 1]!;
    if (!jsonEqual(state, want)) p.push(`walking back: undoing event ${k} (${e.event_type}) gives ${JSON.stringify(state).slice(0, 200)}, expected ${JSON.stringify(want).slice(0, 200)}`);
  }
  // And forward from the create.
  let fwd = create.forward_patch as JsonObject;
  for (const e of events.slice(1)) {
    if (e.event_type !== 'update') continue;
    try {
      fwd = applyPatch(fwd, e.forward_patch as PatchOp[]);
    } catch (err) {
      p.push(`forward patch of revision ${e.sync_revision} does not apply: ${(err as Error).message}`);
      return p;
    }
  }
  if (!jsonEqual(fwd, doc.content)) p.push('forward patches replayed from the create do not reproduce the latest content');
  return p;
}

/** What the generator must have exercised for the property to mean something; empty when it did. */
export function coverageGaps(histories: History[]): string[] {
  const gaps: string[] = [];
  const kinds = new Map<string, number>();
  for (const h of histories) for (const ops of h.patches) for (const op of ops) kinds.set(op.op, (kinds.get(op.op) ?? 0) + 1);
  for (const k of ['add', 'remove', 'replace', 'move', 'copy', 'test']) if ((kinds.get(k) ?? 0) < 50) gaps.push(`fewer than 50 ${k} ops generated (${kinds.get(k) ?? 0})`);
  const ops = histories.flatMap((h) => h.patches.flat());
  const arrayOps = ops.filter((op) => /\/(\d+|-)(\/|$)/.test(op.path)).length;
  if (arrayOps < 50) gaps.push(`fewer than 50 ops on array elements (${arrayOps})`);
  const escaped = ops.filter((op) => /~[01]/.test(op.path)).length;
  if (escaped < 20) gaps.push(`fewer than 20 ops through escaped pointer tokens (${escaped})`);
  const deletes = histories.filter((h) => h.deleted).length;
  if (deletes < 30 || deletes === histories.length) gaps.push(`${deletes} of ${histories.length} histories end in a delete`);
  if (!histories.some((h) => h.patches.length === 8) || !histories.some((h) => h.patches.length === 1)) gaps.push('history lengths do not span 1 to 8 updates');
  return gaps;
}
