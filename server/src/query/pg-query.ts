import type { Filter, Literal, Query } from '@json-sync/core';
import { filter, type Scope } from './pg-filter.js';
import { afterCursor, keyPlan, scoreKey, type Dir, type KeyPlan } from './pg-order.js';
import { searchCondition, searchScore } from './pg-search.js';
import { sqlJsonb, sqlString } from './pg-sql.js';

/**
 * A parsed query (core's Query) as one PostgreSQL statement over one user's live documents. The
 * user's id is part of the statement's text, not of the query: no query can name another user's
 * rows, whatever it holds. Literals are inlined (the statement goes in one script with its
 * statement_timeout), quoted by db/sql.ts's literal.
 */

const ROW = 'd';
const SCOPE: Scope = { row: ROW, content: `${ROW}.content` };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface CompiledPage {
  readonly kind: 'page';
  readonly sql: string;
  /** The sort keys in the select list as k{i}r, k{i}n, k{i}s: the last row's make the next cursor. */
  readonly keys: number;
}

export interface CompiledCount {
  readonly kind: 'count';
  readonly sql: string;
}

/** The columns toWireDocument reads (store/documents.ts), the content whole: `fields` are cut in JavaScript by core's project. */
const COLUMNS = `${ROW}.id, ${ROW}.user_id, ${ROW}.title, ${ROW}.content, ${ROW}.sync_revision, ${ROW}.content_hash, ${ROW}.created_at, ${ROW}.updated_at, ${ROW}.deleted_at`;

/** The top-level conditions every match must meet (an implicit or explicit $and of fields). */
function conjuncts(f: Filter): Extract<Filter, { kind: 'field' }>[] {
  if (f.kind === 'field') return [f];
  if (f.kind === 'and') return f.filters.flatMap(conjuncts);
  return [];
}

/** The containment documents one value can match at a path through objects or arrays of objects: 2^length of them. */
function containers(path: readonly string[], value: unknown): unknown[] {
  const [head, ...rest] = path;
  if (rest.length === 0) return [{ [head!]: value }, { [head!]: [value] }];
  return containers(rest, value).flatMap((v) => [{ [head!]: v }, { [head!]: [v] }]);
}

const MAX_CONTAINERS = 64;

/**
 * Containment tests (`content @> …`) that every match of a top-level equality, $in or $all must
 * pass: the GIN jsonb_path_ops index answers them. They are made only where they are sure to hold
 * for every match — paths without a numeric component (which would index an array), scalar
 * non-null values, and a bounded number. On a top-level field they are exactly MongoDB's equality
 * (`{"f": v}`: the value; `{"f": [v]}`: an element of an array, numbers as numbers), so a field
 * whose every condition is one of them is `covered`: not tested again (which also keeps the
 * planner's row estimate honest, so it still walks an ordering index and stops at the limit).
 */
function containment(where: Filter): { tests: string[]; covered: Set<Filter> } {
  const out: string[] = [];
  const covered = new Set<Filter>();
  for (const f of conjuncts(where)) {
    const ids = idTest(f);
    if (ids !== null) {
      out.push(ids);
      covered.add(f);
      continue;
    }
    if (f.field.kind !== 'content' || f.field.path.length > 3 || f.field.path.some((c) => /^\d+$/.test(c))) continue;
    const path = f.field.path;
    const scalar = (v: Literal) => v !== null && !Array.isArray(v);
    let exact = path.length === 1;
    for (const c of f.conditions) {
      let groups: Literal[][] = [];
      if (c.op === '$eq' && scalar(c.value)) groups = [[c.value]];
      else if (c.op === '$in' && c.values.length > 0 && c.values.every(scalar)) groups = [[...c.values]];
      else if (c.op === '$all' && c.values.length > 0 && c.values.every(scalar)) groups = c.values.map((v) => [v]);
      if (groups.length === 0) exact = false;
      for (const values of groups) {
        const docs = values.flatMap((v) => containers(path, v));
        if (docs.length <= MAX_CONTAINERS) out.push(`(${docs.map((d) => `${ROW}.content @> ${sqlJsonb(d)}`).join(' OR ')})`);
        else exact = false;
      }
    }
    if (exact) covered.add(f);
  }
  return { tests: out, covered };
}

/**
 * `$id` by equality or `$in`: the primary key answers it. Exact (so `covered`): an id is a
 * lowercase canonical UUID, and a string that is not one names no document.
 */
function idTest(f: Extract<Filter, { kind: 'field' }>): string | null {
  if (f.field.kind !== 'meta' || f.field.name !== '$id' || f.conditions.length !== 1) return null;
  const c = f.conditions[0]!;
  const values = c.op === '$eq' ? [c.value] : c.op === '$in' ? c.values : null;
  if (values === null || !values.every((v) => typeof v === 'string')) return null;
  const ids = (values as string[]).filter((v) => UUID.test(v));
  return ids.length === 0 ? 'false' : `${ROW}.id IN (${ids.map((v) => `${sqlString(v)}::uuid`).join(', ')})`;
}

/** The filter without the conjuncts the containment tests answer exactly. */
function without(f: Filter, covered: Set<Filter>): Filter {
  if (covered.has(f)) return { kind: 'all' };
  if (f.kind !== 'and') return f;
  const rest = f.filters.map((x) => without(x, covered)).filter((x) => x.kind !== 'all');
  return rest.length === 0 ? { kind: 'all' } : rest.length === 1 ? rest[0]! : { kind: 'and', filters: rest };
}

function conditionsOf(q: Query, userId: string): string[] {
  if (!UUID.test(userId)) throw new Error('compileQuery: the user id must be a UUID');
  const { tests, covered } = containment(q.where);
  const conditions = [`${ROW}.user_id = ${sqlString(userId)}::uuid`, `${ROW}.deleted_at IS NULL`, ...tests];
  if (q.search) conditions.push(searchCondition(ROW, q.search));
  const where = filter(SCOPE, without(q.where, covered));
  if (where !== 'true') conditions.push(where);
  return conditions;
}

export function compileQuery(q: Query, userId: string): CompiledPage | CompiledCount {
  const conditions = conditionsOf(q, userId);
  if (q.count) return { kind: 'count', sql: `SELECT count(*)::int AS count FROM documents ${ROW} WHERE ${conditions.join(' AND ')}` };
  const keys: KeyPlan[] = q.sort.length > 0 ? q.sort.map((k) => keyPlan(SCOPE, k)) : q.search ? [scoreKey(searchScore(ROW, q.search))] : [];
  const idDir: Dir = keys.at(-1)?.dir ?? 'ASC';
  if (q.after) conditions.push(afterCursor(keys, idDir, q.after, `${ROW}.id`));
  const order = [...keys.flatMap((k) => k.parts.map((p) => `${p.expr} ${k.dir}`)), `${ROW}.id ${idDir}`].join(', ');
  const outputs = keys.map((k, i) => `, ${k.output.rank} AS k${i}r, ${k.output.num} AS k${i}n, ${k.output.str} AS k${i}s`).join('');
  // One row past the limit says whether a next page exists.
  const limit = q.limit === null ? '' : ` LIMIT ${q.limit + 1}`;
  const joins = keys.map((k) => (k.join ? ` ${k.join}` : '')).join('');
  return { kind: 'page', sql: `SELECT ${COLUMNS}${outputs} FROM documents ${ROW}${joins} WHERE ${conditions.join(' AND ')} ORDER BY ${order}${limit}`, keys: keys.length };
}
