import { QueryError, RANK, type KeyValue, type PageCursor, type SortKey } from '@json-sync/core';
import { arrayOnTheWay, isoText, type Scope } from './pg-filter.js';
import { alias, objectPath, sqlNumber, sqlPathArray, sqlString } from './pg-sql.js';

/**
 * The order of a page: each sort key as SQL parts (compared one after another), then the id in the
 * last key's direction. A content field's key is (rank, number, string) — its value's rank in
 * MongoDB's order of types (core/src/query/order.ts), and its value in the column of its type —
 * which sorts exactly as the reference's compareKeys. Metadata keys are their columns themselves,
 * so an index on (user_id, updated_at, id) gives the order and the limit stops the scan.
 */

export type Dir = 'ASC' | 'DESC';

/** One compared part of a key; `cursor` makes the SQL literal of the part from a cursor's key value. */
interface Part {
  readonly expr: string;
  readonly cursor: (k: KeyValue) => string;
  /** A column that is never NULL: several of them in one direction compare as one row, which an index answers. */
  readonly column?: boolean;
}

/** A sort key as the statement orders by, and how the page's last row gives the cursor's key back. */
export interface KeyPlan {
  readonly parts: readonly Part[];
  readonly dir: Dir;
  /** Select-list expressions (aliased by the caller) whose values make the cursor's KeyValue. */
  readonly output: { readonly rank: string; readonly num: string; readonly str: string };
  /** A LATERAL join the key's expressions read (a content field that may hold arrays). */
  readonly join?: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

const malformed = () => new QueryError('after', "is not a page's `next` cursor");

/** The rank of a jsonb value that is not an array (NULL: missing, ranked as null). */
function rankOf(v: string): string {
  return `(CASE jsonb_typeof(${v}) WHEN 'number' THEN ${RANK.number} WHEN 'string' THEN ${RANK.string} WHEN 'object' THEN ${RANK.object}
    WHEN 'array' THEN ${RANK.array} WHEN 'boolean' THEN ${RANK.bool} ELSE ${RANK.null} END)`;
}

function numOf(v: string): string {
  return `(CASE jsonb_typeof(${v}) WHEN 'number' THEN (${v})::numeric WHEN 'boolean' THEN (CASE WHEN ${v} = 'true'::jsonb THEN 1 ELSE 0 END)::numeric END)`;
}

function strOf(v: string): string {
  return `((CASE WHEN jsonb_typeof(${v}) = 'string' THEN ${v} #>> '{}' END) COLLATE "C")`;
}

/** A string or number for a cursor's value part; NULL when the key's value has none (null, objects, arrays). */
function numLiteral(k: KeyValue): string {
  return typeof k.value === 'number' ? sqlNumber(k.value) : 'NULL';
}

function strLiteral(k: KeyValue): string {
  return typeof k.value === 'string' ? sqlString(k.value) : 'NULL';
}

/** A metadata key of a column that is never NULL on the server: its rank is fixed, a cursor's must be it. */
function columnKey(column: string, rank: number, dir: Dir, value: (k: KeyValue) => string, output: string): KeyPlan {
  const checked = (k: KeyValue) => {
    if (k.rank !== rank) throw malformed();
    return value(k);
  };
  const isNumber = rank === RANK.number;
  return { parts: [{ expr: column, cursor: checked, column: true }], dir, output: { rank: String(rank), num: isNumber ? output : 'NULL', str: isNumber ? 'NULL' : output } };
}

export function keyPlan(scope: Scope, key: SortKey): KeyPlan {
  const dir: Dir = key.direction === 1 ? 'ASC' : 'DESC';
  const field = key.field;
  const row = scope.row;
  if (field.kind === 'meta') {
    switch (field.name) {
      case '$id':
        return columnKey(`${row}.id`, RANK.string, dir, (k) => {
          if (typeof k.value !== 'string' || !UUID.test(k.value)) throw malformed();
          return `${sqlString(k.value)}::uuid`;
        }, `${row}.id::text`);
      case '$revision':
        return columnKey(`${row}.sync_revision`, RANK.number, dir, (k) => {
          if (typeof k.value !== 'number') throw malformed();
          return sqlNumber(k.value);
        }, `${row}.sync_revision`);
      case '$createdAt':
      case '$updatedAt': {
        const column = `${row}.${field.name === '$createdAt' ? 'created_at' : 'updated_at'}`;
        return columnKey(column, RANK.string, dir, (k) => {
          if (typeof k.value !== 'string' || !ISO.test(k.value)) throw malformed();
          return `${sqlString(k.value)}::timestamptz`;
        }, isoText(column));
      }
      case '$title': {
        const rank = `(CASE WHEN ${row}.title IS NULL THEN ${RANK.null} ELSE ${RANK.string} END)`;
        return {
          parts: [
            { expr: rank, cursor: (k) => String(k.rank) },
            { expr: `(${row}.title COLLATE "C")`, cursor: strLiteral },
          ],
          dir,
          output: { rank, num: 'NULL', str: `${row}.title` },
        };
      }
    }
  }
  // Candidates: (rank, number, string) of each value the path reaches, an array's elements in its place
  // (an empty one ranks first); ascending takes the smallest, descending the largest.
  const path = field.path;
  const fast = objectPath(scope.content, path);
  const walk = path.length > 1 ? arrayOnTheWay(scope.content, path) : 'false';
  const x = alias('x');
  const e = alias('e');
  const c = alias('c');
  const g = alias('k');
  const slots = walk === 'false' ? `SELECT ${fast} AS v` : `SELECT w.v FROM sync_values_at(${scope.content}, ${sqlPathArray(path)}) w(v)`;
  // A value found by -> that is not an array is the key itself; only other rows run the subquery
  // (a LATERAL join, once per row for the three columns; its WHERE is false before it reads anything).
  const simple = `jsonb_typeof(${fast}) IS DISTINCT FROM 'array'${walk === 'false' ? '' : ` AND NOT (${walk})`}`;
  // Each slot once (the walk is planned once): an array's elements joined to it, an empty array a
  // row of its own with no element (rank 0), any other value itself.
  const isArray = `jsonb_typeof(${x}.v) = 'array'`;
  const value = `(CASE WHEN ${isArray} THEN ${e}.v ELSE ${x}.v END)`;
  const join = `LEFT JOIN LATERAL (SELECT ${c}.r, ${c}.n, ${c}.s FROM (
      SELECT (CASE WHEN ${isArray} AND ${e}.v IS NULL THEN ${RANK.emptyArray} ELSE ${rankOf(value)} END) AS r, ${numOf(value)} AS n, ${strOf(value)} AS s
      FROM (${slots}) ${x} LEFT JOIN LATERAL jsonb_array_elements(CASE WHEN ${isArray} THEN ${x}.v END) ${e}(v) ON true
    ) ${c} WHERE NOT (${simple}) ORDER BY ${c}.r ${dir}, ${c}.n ${dir}, ${c}.s ${dir} LIMIT 1) ${g} ON true`;
  const r = `(CASE WHEN ${simple} THEN ${rankOf(fast)} ELSE ${g}.r END)`;
  const n = `(CASE WHEN ${simple} THEN ${numOf(fast)} ELSE ${g}.n END)`;
  const s = `((CASE WHEN ${simple} THEN ${strOf(fast)} ELSE ${g}.s END) COLLATE "C")`;
  return {
    parts: [
      { expr: r, cursor: (k) => String(k.rank) },
      { expr: n, cursor: numLiteral },
      { expr: s, cursor: strLiteral },
    ],
    dir,
    output: { rank: r, num: n, str: s },
    join,
  };
}

/** Search without sort: by relevance, best first (ts_rank, negated so that ascending is best first, as bm25 on the device). */
export function scoreKey(score: string): KeyPlan {
  return { parts: [{ expr: score, cursor: (k) => (typeof k.value === 'number' ? `${sqlNumber(k.value)}::float8` : 'NULL') }], dir: 'ASC', output: { rank: String(RANK.number), num: score, str: 'NULL' } };
}

/** Rows strictly after the cursor in the order: lexicographic over every part, then the id. */
export function afterCursor(keys: readonly KeyPlan[], idDir: Dir, cursor: PageCursor, id: string): string {
  if (!UUID.test(cursor.id)) throw malformed();
  const cursorId = `${sqlString(cursor.id)}::uuid`;
  const parts = keys.flatMap((k, i) => k.parts.map((p) => ({ ...p, dir: k.dir, value: p.cursor(cursor.keys[i]!) })));
  // Columns that are never NULL, all in one direction: one row comparison, which an index range answers.
  if (parts.every((p) => p.column && p.dir === idDir)) {
    const gt = idDir === 'ASC' ? '>' : '<';
    return `(${[...parts.map((p) => p.expr), id].join(', ')}) ${gt} (${[...parts.map((p) => p.value), cursorId].join(', ')})`;
  }
  let cond = `${id} ${idDir === 'ASC' ? '>' : '<'} ${cursorId}`;
  for (let i = parts.length - 1; i >= 0; i--) {
    const p = parts[i]!;
    const gt = p.dir === 'ASC' ? '>' : '<';
    // Equal ranks hold values of one type, so where the cursor's part is NULL the row's is too.
    cond = p.value === 'NULL' ? `(${p.expr} IS NULL AND ${cond})` : `(${p.expr} ${gt} ${p.value} OR (${p.expr} = ${p.value} AND ${cond}))`;
  }
  return cond;
}
