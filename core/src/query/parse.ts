import { createHash } from 'node:crypto';
import { canonicalJson } from '../canonical-json.js';
import { isPlainObject } from '../json-value.js';
import type { Condition, Direction, Field, Filter, Literal, MetaName, PageCursor, Query, Scalar, Search, SortKey, TypeName } from './ast.js';
import { META_FIELDS } from './ast.js';
import { decodeCursor } from './cursor.js';
import { QueryError } from './query-error.js';
import { parseRegex, RegexError } from './regex.js';

/** The bounds every query keeps: no query may take unbounded work to parse, compile or run. */
export const QUERY_LIMITS = Object.freeze({
  /** Nesting of $and/$or/$nor/$not/$elemMatch. */
  maxDepth: 16,
  /** Conditions in the whole `where`. */
  maxConditions: 256,
  /** Values in one $in, $nin or $all. */
  maxValues: 1000,
  maxPathComponents: 16,
  maxPathLength: 512,
  maxSortKeys: 8,
  maxFields: 64,
  maxLimit: 100_000,
  maxSearchTerms: 16,
  maxSearchLength: 512,
  /** A literal's own size, as JSON. */
  maxLiteralBytes: 16 * 1024,
});

const TOP_LEVEL = new Set(['where', 'sort', 'limit', 'after', 'fields', 'count', 'search']);
const TYPE_NAMES: Record<string, TypeName> = {
  string: 'string',
  number: 'number',
  double: 'number',
  decimal: 'number',
  int: 'int',
  long: 'int',
  object: 'object',
  array: 'array',
  bool: 'bool',
  boolean: 'bool',
  null: 'null',
};

/** Parses and checks a query (the JSON object of docs/queries.md). Throws QueryError naming the offending part. */
export function parseQuery(raw: unknown): Query {
  if (!isPlainObject(raw)) throw new QueryError('query', 'must be a JSON object');
  for (const key of Object.keys(raw)) if (!TOP_LEVEL.has(key)) throw new QueryError(key, `unknown member (a query has ${[...TOP_LEVEL].join(', ')})`);
  const budget = { conditions: 0 };
  const where = raw.where === undefined ? ({ kind: 'all' } as const) : parseFilter(raw.where, 'where', 0, budget);
  const sort = parseSort(raw.sort);
  const limit = parseLimit(raw.limit);
  const fields = parseFields(raw.fields);
  if (raw.count !== undefined && typeof raw.count !== 'boolean') throw new QueryError('count', 'must be true or false');
  const search = parseSearch(raw.search);
  const signature = createHash('sha256')
    .update(canonicalJson({ where: raw.where ?? null, sort: raw.sort ?? null, search: raw.search ?? null }))
    .digest('hex')
    .slice(0, 16);
  let after: PageCursor | null = null;
  if (raw.after !== undefined) {
    if (typeof raw.after !== 'string') throw new QueryError('after', "must be a page's `next` cursor");
    // A search without sort is ordered by its relevance score: one key.
    after = decodeCursor(raw.after, signature, sort.length > 0 ? sort.length : search ? 1 : 0);
  }
  return { where, sort, limit, after, fields, count: raw.count === true, search, signature };
}

// ---- where -------------------------------------------------------------------------------------

function parseFilter(raw: unknown, at: string, depth: number, budget: { conditions: number }, meta = true): Filter {
  if (!isPlainObject(raw)) throw new QueryError(at, 'must be an object of fields and operators');
  if (depth > QUERY_LIMITS.maxDepth) throw new QueryError(at, `nested deeper than ${QUERY_LIMITS.maxDepth} levels`);
  const parts: Filter[] = [];
  for (const [key, value] of Object.entries(raw)) {
    const here = `${at}.${key}`;
    if (key === '$and' || key === '$or' || key === '$nor') {
      if (!Array.isArray(value) || value.length === 0) throw new QueryError(here, 'must be a non-empty array of filters');
      parts.push({ kind: key.slice(1) as 'and' | 'or' | 'nor', filters: value.map((f, i) => parseFilter(f, `${here}[${i}]`, depth + 1, budget, meta)) });
      continue;
    }
    const field = parseField(key, here, meta);
    parts.push({ kind: 'field', field, conditions: parseConditions(value, here, depth, budget) });
  }
  if (parts.length === 0) return { kind: 'all' };
  return parts.length === 1 ? parts[0]! : { kind: 'and', filters: parts };
}

/** A dotted content path (an index's field, a projection), checked as `where`'s field names are. */
export function parseContentPath(name: unknown, at: string): string[] {
  if (typeof name !== 'string') throw new QueryError(at, 'must be a dotted content path');
  return (parseField(name, at, false) as Extract<Field, { kind: 'content' }>).path as string[];
}

/** A field name: a metadata name, or a dotted content path whose components are plain names or array indexes. */
function parseField(name: string, at: string, allowMeta: boolean): Field {
  if (name.startsWith('$')) {
    if (allowMeta && (META_FIELDS as readonly string[]).includes(name)) return { kind: 'meta', name: name as MetaName };
    throw new QueryError(at, `unknown operator or metadata field (metadata: ${META_FIELDS.join(', ')}; operators at this level: $and, $or, $nor)`);
  }
  if (name.length === 0 || name.length > QUERY_LIMITS.maxPathLength) throw new QueryError(at, `a field path has 1 to ${QUERY_LIMITS.maxPathLength} characters`);
  const path = name.split('.');
  if (path.length > QUERY_LIMITS.maxPathComponents) throw new QueryError(at, `a field path has at most ${QUERY_LIMITS.maxPathComponents} components`);
  for (const component of path) {
    if (component === '') throw new QueryError(at, 'a field path has no empty component');
    if (component.startsWith('$')) throw new QueryError(at, `${JSON.stringify(component)}: a path component cannot start with $`);
    if (/["\\\u0000]/.test(component)) throw new QueryError(at, `${JSON.stringify(component)}: a path component cannot hold " or \\`);
  }
  return { kind: 'content', path };
}

/** The value of a field in `where`: a literal (equality), or an object of operators. */
function parseConditions(raw: unknown, at: string, depth: number, budget: { conditions: number }): Condition[] {
  if (!isPlainObject(raw) || Object.keys(raw).length === 0 || !Object.keys(raw).some((k) => k.startsWith('$'))) {
    count(budget, at);
    return [{ op: '$eq', value: parseLiteral(raw, at) }];
  }
  const keys = Object.keys(raw);
  const plain = keys.find((k) => !k.startsWith('$'));
  if (plain !== undefined) throw new QueryError(`${at}.${plain}`, 'operators and fields cannot be mixed in one object');
  if ('$options' in raw && !('$regex' in raw)) throw new QueryError(`${at}.$options`, 'goes with $regex');
  const conditions: Condition[] = [];
  for (const op of keys) {
    if (op === '$options') continue;
    const value = raw[op];
    const here = `${at}.${op}`;
    count(budget, here);
    conditions.push(parseCondition(op, value, here, depth, budget, raw.$options));
  }
  return conditions;
}

function parseCondition(op: string, value: unknown, at: string, depth: number, budget: { conditions: number }, options: unknown): Condition {
  switch (op) {
    case '$eq':
    case '$ne':
      return { op, value: parseLiteral(value, at) };
    case '$gt':
    case '$gte':
    case '$lt':
    case '$lte':
      return { op, value: parseScalar(value, at) };
    case '$in':
    case '$nin':
    case '$all':
      return { op, values: parseList(value, at) };
    case '$exists':
      if (typeof value !== 'boolean') throw new QueryError(at, 'must be true or false');
      return { op, value };
    case '$type': {
      const names = Array.isArray(value) ? value : [value];
      if (names.length === 0) throw new QueryError(at, 'names at least one type');
      return {
        op,
        types: names.map((n, i) => {
          const type = typeof n === 'string' ? TYPE_NAMES[n] : undefined;
          if (!type) throw new QueryError(Array.isArray(value) ? `${at}[${i}]` : at, `unknown type ${JSON.stringify(n)} (${Object.keys(TYPE_NAMES).join(', ')})`);
          return type;
        }),
      };
    }
    case '$size':
      if (!Number.isSafeInteger(value) || (value as number) < 0) throw new QueryError(at, 'must be a whole number ≥ 0');
      return { op, value: value as number };
    case '$regex': {
      if (typeof value !== 'string') throw new QueryError(at, 'must be a string (the pattern)');
      if (options !== undefined && typeof options !== 'string') throw new QueryError(`${at.slice(0, at.lastIndexOf('.'))}.$options`, 'must be a string of flags');
      try {
        return { op, regex: parseRegex(value, (options as string | undefined) ?? '') };
      } catch (err) {
        if (err instanceof RegexError) throw new QueryError(at, err.message);
        throw err;
      }
    }
    case '$not':
      if (!isPlainObject(value) || !Object.keys(value).every((k) => k.startsWith('$'))) throw new QueryError(at, 'must be an object of operators');
      if (depth + 1 > QUERY_LIMITS.maxDepth) throw new QueryError(at, `nested deeper than ${QUERY_LIMITS.maxDepth} levels`);
      return { op, conditions: parseConditions(value, at, depth + 1, budget) };
    case '$elemMatch': {
      if (!isPlainObject(value) || Object.keys(value).length === 0) throw new QueryError(at, 'must be a non-empty object');
      if (depth + 1 > QUERY_LIMITS.maxDepth) throw new QueryError(at, `nested deeper than ${QUERY_LIMITS.maxDepth} levels`);
      const operators = Object.keys(value).every((k) => k.startsWith('$') && k !== '$and' && k !== '$or' && k !== '$nor');
      return operators
        ? { op, match: { kind: 'operators', conditions: parseConditions(value, at, depth + 1, budget) } }
        : { op, match: { kind: 'fields', filter: parseFilter(value, at, depth + 1, budget, false) } };
    }
    default:
      throw new QueryError(at, `unknown operator`);
  }
}

function count(budget: { conditions: number }, at: string): void {
  if (++budget.conditions > QUERY_LIMITS.maxConditions) throw new QueryError(at, `more than ${QUERY_LIMITS.maxConditions} conditions in one query`);
}

function parseScalar(raw: unknown, at: string): Scalar {
  if (typeof raw === 'string' && raw.includes('\u0000')) throw new QueryError(at, 'a string cannot hold U+0000 (no stored string can)');
  if (raw === null || typeof raw === 'string' || typeof raw === 'boolean') return raw;
  if (typeof raw === 'number' && Number.isFinite(raw) && Math.abs(raw) <= Number.MAX_SAFE_INTEGER) return raw;
  if (typeof raw === 'number') throw new QueryError(at, 'numbers beyond ±2^53 cannot be compared exactly');
  throw new QueryError(at, 'compares with a string, number, boolean or null');
}

/** A scalar, or an array of literals; objects are refused (their key order is not kept the same everywhere). */
function parseLiteral(raw: unknown, at: string): Literal {
  if (Array.isArray(raw)) {
    if (JSON.stringify(raw).length > QUERY_LIMITS.maxLiteralBytes) throw new QueryError(at, `a literal is at most ${QUERY_LIMITS.maxLiteralBytes} bytes of JSON`);
    return literalArray(raw, at, 0);
  }
  if (isPlainObject(raw)) throw new QueryError(at, 'equality with an object is not supported: compare its fields with dotted paths');
  return parseScalar(raw, at);
}

function literalArray(raw: unknown[], at: string, depth: number): Literal {
  if (depth > QUERY_LIMITS.maxDepth) throw new QueryError(at, `an array literal nested deeper than ${QUERY_LIMITS.maxDepth} levels`);
  return raw.map((v, i) => {
    if (Array.isArray(v)) return literalArray(v, `${at}[${i}]`, depth + 1);
    if (isPlainObject(v)) throw new QueryError(`${at}[${i}]`, 'arrays holding objects cannot be compared: compare their fields with dotted paths');
    return parseScalar(v, `${at}[${i}]`);
  });
}

function parseList(raw: unknown, at: string): Literal[] {
  if (!Array.isArray(raw)) throw new QueryError(at, 'must be an array of values');
  if (raw.length > QUERY_LIMITS.maxValues) throw new QueryError(at, `holds at most ${QUERY_LIMITS.maxValues} values`);
  return raw.map((v, i) => {
    if (isPlainObject(v)) throw new QueryError(`${at}[${i}]`, 'operators and objects are not supported inside a list of values');
    return parseLiteral(v, `${at}[${i}]`);
  });
}

// ---- sort, limit, fields, search --------------------------------------------------------------

function parseSort(raw: unknown): SortKey[] {
  if (raw === undefined) return [];
  const list = Array.isArray(raw) ? raw : [raw];
  if (list.length > QUERY_LIMITS.maxSortKeys) throw new QueryError('sort', `at most ${QUERY_LIMITS.maxSortKeys} keys`);
  const keys: SortKey[] = [];
  list.forEach((item, i) => {
    const at = Array.isArray(raw) ? `sort[${i}]` : 'sort';
    if (!isPlainObject(item) || Object.keys(item).length !== 1) throw new QueryError(at, 'each key is an object with one field: {"priority": "desc"}');
    const [name, dir] = Object.entries(item)[0]!;
    const field = parseField(name, `${at}.${name}`, true);
    let direction: Direction;
    if (dir === 'asc' || dir === 1) direction = 1;
    else if (dir === 'desc' || dir === -1) direction = -1;
    else throw new QueryError(`${at}.${name}`, 'must be "asc", "desc", 1 or -1');
    keys.push({ field, direction });
  });
  return keys;
}

function parseLimit(raw: unknown): number | null {
  if (raw === undefined) return null;
  if (!Number.isSafeInteger(raw) || (raw as number) < 1 || (raw as number) > QUERY_LIMITS.maxLimit) throw new QueryError('limit', `must be a whole number from 1 to ${QUERY_LIMITS.maxLimit}`);
  return raw as number;
}

function parseFields(raw: unknown): string[][] | null {
  if (raw === undefined) return null;
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > QUERY_LIMITS.maxFields) throw new QueryError('fields', `must be an array of 1 to ${QUERY_LIMITS.maxFields} content paths`);
  const paths = raw.map((name, i) => parseContentPath(name, `fields[${i}]`));
  paths.forEach((p, i) =>
    paths.forEach((q, j) => {
      if (i !== j && p.length <= q.length && p.every((c, k) => q[k] === c)) throw new QueryError(`fields[${j}]`, `overlaps fields[${i}] (${p.join('.')})`);
    }),
  );
  return paths;
}

/** Search text → terms: words of letters and digits (diacritics folded by the backends), `*` at a word's end makes it a prefix. */
function parseSearch(raw: unknown): Search | null {
  if (raw === undefined) return null;
  let text: unknown = raw;
  let index: string | null = null;
  if (isPlainObject(raw)) {
    for (const key of Object.keys(raw)) if (key !== 'text' && key !== 'index') throw new QueryError(`search.${key}`, 'unknown member (text, index)');
    text = raw.text;
    if (raw.index !== undefined) {
      if (typeof raw.index !== 'string' || raw.index === '') throw new QueryError('search.index', 'must name a text index');
      index = raw.index;
    }
  }
  const at = isPlainObject(raw) ? 'search.text' : 'search';
  if (typeof text !== 'string') throw new QueryError(at, 'must be a string of words');
  if (text.length > QUERY_LIMITS.maxSearchLength) throw new QueryError(at, `at most ${QUERY_LIMITS.maxSearchLength} characters`);
  const terms = [...text.normalize('NFKD').matchAll(/[\p{L}\p{N}\p{M}]+\*?/gu)]
    .map((m) => m[0].replace(/\p{M}/gu, '').toLowerCase())
    .filter((w) => w.replace('*', '') !== '')
    .map((w) => ({ word: w.replace(/\*$/, ''), prefix: w.endsWith('*') }));
  if (terms.length === 0) throw new QueryError(at, 'holds no word to search for');
  if (terms.length > QUERY_LIMITS.maxSearchTerms) throw new QueryError(at, `at most ${QUERY_LIMITS.maxSearchTerms} words`);
  return { text, terms, index };
}
