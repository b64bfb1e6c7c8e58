import { isPlainObject, type JsonObject, type JsonValue } from '../json-value.js';
import type { Condition, Field, Filter, KeyValue, Literal, PageCursor, Query, Scalar, SortKey, TypeName } from './ast.js';
import { encodeCursor } from './cursor.js';
import { compareKeys, compareStrings, keyOf } from './order.js';
import { regexTest } from './regex.js';

/**
 * The query language's semantics, in JavaScript: the reference every backend is tested against
 * (the engine's SQLite, the server's PostgreSQL), and the engine's own check of whether a commit
 * can change a live query's result. docs/queries.md says the same in prose.
 */

/** A document as queries see it: its content and its metadata. */
export interface QueryableDocument {
  readonly id: string;
  readonly revision: number | null;
  readonly title: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly content: JsonObject;
}

/** What a field holds in one document: one value per way down the path (undefined: missing). */
type Slots = (JsonValue | undefined)[];

/**
 * The values at `path`, as MongoDB finds them: through objects by name, and through arrays both
 * by index (a numeric component) and into every element that is an object. An array that yields
 * nothing down the path counts as one missing value.
 */
export function valuesAt(content: JsonValue, path: readonly string[]): Slots {
  const out: Slots = [];
  const walk = (v: JsonValue | undefined, i: number): void => {
    if (i === path.length) {
      out.push(v);
      return;
    }
    const name = path[i]!;
    if (Array.isArray(v)) {
      const before = out.length;
      if (/^(0|[1-9]\d*)$/.test(name) && Number(name) < v.length) walk(v[Number(name)], i + 1);
      for (const e of v) if (isPlainObject(e)) walk(e, i);
      if (out.length === before) out.push(undefined);
    } else if (isPlainObject(v) && Object.prototype.hasOwnProperty.call(v, name)) walk(v[name], i + 1);
    else out.push(undefined);
  };
  walk(content, 0);
  return out;
}

function slotsOf(doc: QueryableDocument, field: Field): Slots {
  if (field.kind === 'content') return valuesAt(doc.content, field.path);
  switch (field.name) {
    case '$id':
      return [doc.id];
    case '$revision':
      return [doc.revision];
    case '$title':
      return [doc.title];
    case '$createdAt':
      return [doc.createdAt];
    case '$updatedAt':
      return [doc.updatedAt];
  }
}

/** A literal equals a value: same JSON type and value (1 and 1.0 are one number); arrays element by element. */
function equalsLiteral(v: JsonValue | undefined, lit: Literal): boolean {
  if (Array.isArray(lit)) return Array.isArray(v) && v.length === lit.length && v.every((e, i) => equalsLiteral(e, lit[i]!));
  return v === lit && v !== undefined;
}

/** $eq on one value: the value, or one of its elements. Null also matches a missing field. */
function equalsAt(v: JsonValue | undefined, lit: Literal): boolean {
  if (lit === null) return v === undefined || v === null || (Array.isArray(v) && v.includes(null));
  return equalsLiteral(v, lit) || (Array.isArray(v) && v.some((e) => equalsLiteral(e, lit)));
}

/** A range comparison holds only within one type (numbers, strings, booleans): MongoDB's type bracketing. */
function compares(v: JsonValue | undefined, op: '$gt' | '$gte' | '$lt' | '$lte', x: Scalar): boolean {
  if (x === null) return (op === '$gte' || op === '$lte') && equalsAt(v, null);
  const test = (c: JsonValue | undefined): boolean => {
    if (typeof c !== typeof x || c === null || typeof c === 'object' || c === undefined) return false;
    const order = typeof c === 'string' ? compareStrings(c, x as string) : Number(c) - Number(x);
    return op === '$gt' ? order > 0 : op === '$gte' ? order >= 0 : op === '$lt' ? order < 0 : order <= 0;
  };
  return Array.isArray(v) ? v.some(test) : test(v);
}

function hasType(v: JsonValue, t: TypeName): boolean {
  switch (t) {
    case 'string':
      return typeof v === 'string';
    case 'number':
      return typeof v === 'number';
    case 'int':
      return typeof v === 'number' && Number.isInteger(v);
    case 'bool':
      return typeof v === 'boolean';
    case 'null':
      return v === null;
    case 'array':
      return Array.isArray(v);
    case 'object':
      return isPlainObject(v);
  }
}

/** A value or, when it is an array, one of its elements. */
function someCandidate(v: JsonValue | undefined, test: (c: JsonValue) => boolean): boolean {
  if (v === undefined) return false;
  return test(v) || (Array.isArray(v) && v.some(test));
}

/** Whether the field's values satisfy one condition. */
function holds(c: Condition, slots: Slots, matchContent: (content: JsonObject, filter: Filter) => boolean): boolean {
  switch (c.op) {
    case '$eq':
      return slots.some((v) => equalsAt(v, c.value));
    case '$ne':
      return !slots.some((v) => equalsAt(v, c.value));
    case '$gt':
    case '$gte':
    case '$lt':
    case '$lte':
      return slots.some((v) => compares(v, c.op, c.value));
    case '$in':
      return c.values.some((lit) => slots.some((v) => equalsAt(v, lit)));
    case '$nin':
      return !c.values.some((lit) => slots.some((v) => equalsAt(v, lit)));
    case '$all':
      return c.values.length > 0 && c.values.every((lit) => slots.some((v) => equalsAt(v, lit)));
    case '$exists':
      return c.value === slots.some((v) => v !== undefined);
    case '$type':
      return slots.some((v) => someCandidate(v, (x) => c.types.some((t) => hasType(x, t))));
    case '$size':
      return slots.some((v) => Array.isArray(v) && v.length === c.value);
    case '$regex':
      return slots.some((v) => someCandidate(v, (x) => typeof x === 'string' && regexTest(c.regex, x)));
    case '$not':
      return !c.conditions.every((inner) => holds(inner, slots, matchContent));
    case '$elemMatch': {
      const m = c.match;
      const element = (e: JsonValue): boolean =>
        m.kind === 'operators' ? m.conditions.every((inner) => holds(inner, [e], matchContent)) : isPlainObject(e) && matchContent(e, m.filter);
      return slots.some((v) => Array.isArray(v) && v.some(element));
    }
  }
}

/** Whether a document matches a filter. */
export function matches(doc: QueryableDocument, filter: Filter): boolean {
  const matchContent = (content: JsonObject, f: Filter): boolean => matches({ ...doc, content }, f);
  switch (filter.kind) {
    case 'all':
      return true;
    case 'and':
      return filter.filters.every((f) => matches(doc, f));
    case 'or':
      return filter.filters.some((f) => matches(doc, f));
    case 'nor':
      return !filter.filters.some((f) => matches(doc, f));
    case 'field': {
      const slots = slotsOf(doc, filter.field);
      return filter.conditions.every((c) => holds(c, slots, matchContent));
    }
  }
}

/**
 * A field's sort key in one document: ascending takes its smallest value, descending its largest;
 * an array counts by its elements (an empty one sorts first), a missing field as null.
 */
export function sortKeyOf(doc: QueryableDocument, key: SortKey): KeyValue {
  const candidates: KeyValue[] = [];
  for (const v of slotsOf(doc, key.field)) {
    if (Array.isArray(v) && v.length > 0) for (const e of v) candidates.push(keyOf(e));
    else candidates.push(keyOf(v));
  }
  let best = candidates[0]!;
  for (const c of candidates) if (compareKeys(c, best) * key.direction < 0) best = c;
  return best;
}

/** A row's place in the order: its sort keys, then its id, in the last key's direction (ascending with no sort). */
export interface Ordered {
  readonly keys: readonly KeyValue[];
  readonly id: string;
}

export function compareOrdered(a: Ordered, b: Ordered, sort: readonly SortKey[]): number {
  for (let i = 0; i < sort.length; i++) {
    const c = compareKeys(a.keys[i]!, b.keys[i]!) * sort[i]!.direction;
    if (c !== 0) return c;
  }
  return compareStrings(a.id, b.id) * (sort.at(-1)?.direction ?? 1);
}

/** The content with only `fields` (paths through objects; a path through an array or a missing one is left out). */
export function project(content: JsonObject, fields: readonly (readonly string[])[]): JsonObject {
  const out: JsonObject = {};
  for (const path of fields) {
    let v: JsonValue | undefined = content;
    for (const name of path) v = isPlainObject(v) && Object.prototype.hasOwnProperty.call(v, name) ? v[name] : undefined;
    if (v === undefined) continue;
    let target = out;
    for (const name of path.slice(0, -1)) {
      if (!isPlainObject(target[name])) target[name] = {};
      target = target[name] as JsonObject;
    }
    target[path.at(-1)!] = v;
  }
  return out;
}

/** Whether every search term matches a word of `text` (words folded as docs/queries.md says). */
export function searchMatches(query: NonNullable<Query['search']>, texts: readonly string[]): boolean {
  const words = new Set(texts.flatMap((t) => [...t.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase().matchAll(/[\p{L}\p{N}]+/gu)].map((m) => m[0])));
  return query.terms.every((term) => (term.prefix ? [...words].some((w) => w.startsWith(term.word)) : words.has(term.word)));
}

export interface QueryResult<D> {
  documents: D[];
  /** The cursor of the next page (`after`), when this page was cut by the limit. */
  next: string | null;
}

/**
 * Runs a query over documents in memory: the reference semantics. `texts` gives a document's
 * searchable strings (a text index's fields) when the query has `search`; without an explicit
 * sort, search results come in id order here (ranking is each backend's own).
 */
export function runQuery(docs: readonly QueryableDocument[], query: Query, texts?: (doc: QueryableDocument) => string[]): QueryResult<QueryableDocument> | { count: number } {
  let hits = docs.filter((d) => matches(d, query.where));
  if (query.search) hits = hits.filter((d) => searchMatches(query.search!, texts ? texts(d) : []));
  if (query.count) return { count: hits.length };
  const rows = hits.map((doc) => ({ doc, keys: query.sort.map((k) => sortKeyOf(doc, k)), id: doc.id }));
  rows.sort((a, b) => compareOrdered(a, b, query.sort));
  const after = query.after;
  const start = after ? rows.findIndex((r) => compareOrdered(r, after, query.sort) > 0) : 0;
  const rest = start < 0 ? [] : rows.slice(start);
  const page = query.limit === null ? rest : rest.slice(0, query.limit);
  const last = page.at(-1);
  const next = last && page.length < rest.length ? encodeCursor(query.signature, { keys: last.keys, id: last.id } satisfies PageCursor) : null;
  const documents = page.map((r) => (query.fields ? { ...r.doc, content: project(r.doc.content, query.fields) } : r.doc));
  return { documents, next };
}

