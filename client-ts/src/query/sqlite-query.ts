import type { Field, Filter, KeyValue, Query, SortKey } from '@json-sync/core';
import { keyBlob, rankBounds } from './index-keys.js';
import { filter, keyValueSql, sortKey, sqlString, type Scope } from './sqlite-sql.js';

/** A value index as the planner sees it (the catalog: indexes.ts). */
export interface ValueIndexInfo {
  readonly name: string;
  readonly table: string;
  readonly fields: readonly (readonly string[])[];
  /** Some document holds several rows (an array field): its rows must be grouped before they order. */
  readonly multikey: boolean;
}

export interface TextIndexInfo {
  readonly name: string;
  readonly table: string;
}

export interface Catalog {
  readonly values: readonly ValueIndexInfo[];
  readonly texts: readonly TextIndexInfo[];
}

/** A query as one SQLite statement answering one row, one column: the result's JSON text. */
export interface CompiledQuery {
  readonly sql: string;
  /** The value index the statement reads, if any (explain says so). */
  readonly index: string | null;
  /** Whether it calls sync_regexp (only the engine's own connection has that function). */
  readonly regex: boolean;
}

const ROW = 'v';
const SCOPE: Scope = { row: ROW, content: `${ROW}.content` };

/** sync_engine_get_document's object, for one row of `views`. */
const DOCUMENT_JSON = (content: string) =>
  `json_object('id', ${ROW}.id, 'title', ${ROW}.title, 'content', json(${content}), 'sync_revision', ${ROW}.revision, 'pending', ${ROW}.pending,
     'created_at', ${ROW}.created_at, 'updated_at', ${ROW}.updated_at, 'deleted_at', ${ROW}.deleted_at)`;

function blob(b: Buffer): string {
  return `X'${b.toString('hex')}'`;
}

/** The content reduced to `fields` (a path that is missing, or runs through an array, is left out). */
function projection(fields: readonly (readonly string[])[]): string {
  const pairs = fields.map((path) => {
    const p = sqlString(`$${path.map((c) => `."${c}"`).join('')}`);
    return `CASE WHEN json_type(${SCOPE.content}, ${p}) IS NULL THEN '$.""' ELSE ${p} END, ${SCOPE.content} -> ${p}`;
  });
  return `json_remove(json_set('{}', ${pairs.join(', ')}), '$.""')`;
}

/** The top-level conditions every match must meet (an implicit or explicit $and of fields). */
function conjuncts(f: Filter): Extract<Filter, { kind: 'field' }>[] {
  if (f.kind === 'field') return [f];
  if (f.kind === 'and') return f.filters.flatMap(conjuncts);
  return [];
}

function samePath(field: Field, path: readonly string[]): boolean {
  return field.kind === 'content' && field.path.length === path.length && field.path.every((c, i) => c === path[i]);
}

/**
 * What an index key column must hold for a condition on its field, as SQL over `column`; null
 * when the index cannot help (the condition is kept by the full filter in any case — an index
 * only narrows the documents it is tested on).
 */
function keyCondition(column: string, f: Extract<Filter, { kind: 'field' }>): string | null {
  for (const c of f.conditions) {
    if (c.op === '$eq' && !Array.isArray(c.value)) return `${column} = ${blob(keyBlob(keyOfScalar(c.value as never)))}`;
    if (c.op === '$in' && c.values.every((v) => !Array.isArray(v))) return `${column} IN (${c.values.map((v) => blob(keyBlob(keyOfScalar(v as never)))).join(', ')})`;
    if ((c.op === '$gt' || c.op === '$gte' || c.op === '$lt' || c.op === '$lte') && c.value !== null) {
      const k = keyOfScalar(c.value);
      const [low, high] = rankBounds(k.rank);
      const bound = blob(keyBlob(k));
      const cmp = c.op === '$gt' ? '>' : c.op === '$gte' ? '>=' : c.op === '$lt' ? '<' : '<=';
      return c.op === '$gt' || c.op === '$gte' ? `(${column} ${cmp} ${bound} AND ${column} < ${blob(high)})` : `(${column} ${cmp} ${bound} AND ${column} >= ${blob(low)})`;
    }
  }
  return null;
}

function keyOfScalar(v: string | number | boolean | null): KeyValue {
  if (v === null) return { rank: 1, value: null };
  if (typeof v === 'boolean') return { rank: 8, value: v ? 1 : 0 };
  return typeof v === 'number' ? { rank: 2, value: v } : { rank: 3, value: v };
}

/**
 * The order: the sort keys' (rank, value) expressions, then the id in the last key's direction;
 * a search without sort by its relevance (bm25: lower is better).
 */
interface Order {
  keys: { rank: string; value: string; dir: 'ASC' | 'DESC' }[];
  idDir: 'ASC' | 'DESC';
}

function orderOf(q: Query, score: string | null): Order {
  if (q.sort.length === 0 && score !== null) return { keys: [{ rank: '2', value: score, dir: 'ASC' }], idDir: 'ASC' };
  const keys = q.sort.map((k: SortKey) => ({ ...sortKey(SCOPE, k), dir: k.direction === 1 ? ('ASC' as const) : ('DESC' as const) }));
  return { keys, idDir: keys.at(-1)?.dir ?? 'ASC' };
}

/** Rows strictly after the cursor in the order: a lexicographic comparison over (rank, value, …, id). */
function afterCursor(order: Order, cursor: NonNullable<Query['after']>, cols: { rank: string; value: string }[], id: string): string {
  let cond = `${id} ${order.idDir === 'ASC' ? '>' : '<'} ${sqlString(cursor.id)}`;
  for (let i = order.keys.length - 1; i >= 0; i--) {
    const gt = order.keys[i]!.dir === 'ASC' ? '>' : '<';
    const k = cursor.keys[i]!;
    const r = cols[i]!.rank;
    const v = cols[i]!.value;
    const value = keyValueSql(k);
    cond = `(${r} ${gt} ${k.rank} OR (${r} = ${k.rank} AND (${value === 'NULL' ? '0' : `${v} ${gt} ${value}`} OR (${v} IS ${value} AND ${cond}))))`;
  }
  return cond;
}

/** A value index that can give the order itself: its fields are equality-bound fields, then the sort's. */
interface OrderingIndex {
  index: ValueIndexInfo;
  /** Conditions on its leading key columns (equalities from `where`). */
  bound: string[];
  /** The filters those conditions answer exactly (a field with one scalar $eq): the statement need not test them again. */
  covered: Set<Filter>;
  /** Its key columns that carry the sort, in order. */
  columns: string[];
}

/**
 * An index whose rows come out in the query's order: every sort key ascending (or every one
 * descending) on content fields, the index's fields being fields `where` binds by equality followed
 * by exactly the sort's fields, and no document holding several rows (a multikey index would list
 * a document once per value).
 */
function orderingIndex(q: Query, catalog: Catalog): OrderingIndex | null {
  if (q.sort.length === 0 || q.search || q.sort.some((k) => k.field.kind !== 'content' || k.direction !== q.sort[0]!.direction)) return null;
  const equalities = conjuncts(q.where).filter((f) => f.field.kind === 'content' && f.conditions.some((c) => c.op === '$eq' && !Array.isArray(c.value)));
  for (const index of catalog.values) {
    if (index.multikey) continue;
    const lead = index.fields.length - q.sort.length;
    if (lead < 0 || !q.sort.every((k, i) => samePath(k.field, index.fields[lead + i]!))) continue;
    const bound: string[] = [];
    const covered = new Set<Filter>();
    for (let i = 0; i < lead; i++) {
      const f = equalities.find((e) => samePath(e.field, index.fields[i]!));
      const c = f?.conditions.find((x) => x.op === '$eq' && !Array.isArray(x.value)) as { value: string | number | boolean | null } | undefined;
      if (!f || !c) break;
      bound.push(`i.k${i} = ${blob(keyBlob(keyOfScalar(c.value)))}`);
      // In an index without multikey rows a document's one key is its value's (an array's only
      // element, a missing value's null): key = the literal's key is exactly $eq.
      if (f.conditions.length === 1) covered.add(f);
    }
    if (bound.length === lead) return { index, bound, covered, columns: q.sort.map((_, i) => `i.k${lead + i}`) };
  }
  return null;
}

/** Rows after the cursor, compared on index key columns (BLOBs in the language's order) and the id. */
function afterCursorKeys(columns: string[], dir: 'ASC' | 'DESC', cursor: NonNullable<Query['after']>, id: string): string {
  const gt = dir === 'ASC' ? '>' : '<';
  let cond = `${id} ${gt} ${sqlString(cursor.id)}`;
  for (let i = columns.length - 1; i >= 0; i--) {
    const k = blob(keyBlob(cursor.keys[i]!));
    cond = `(${columns[i]} ${gt} ${k} OR (${columns[i]} = ${k} AND ${cond}))`;
  }
  return cond;
}

/**
 * Compiles a parsed query into one statement over `views` (live documents only). A value index
 * gives the order (and lets a limit stop early) when one fits; otherwise one narrows the documents
 * tested when a top-level condition falls on its first field; a text index answers `search`. The
 * documents' JSON is built for the page's rows only.
 */
export function compileQuery(q: Query, catalog: Catalog): CompiledQuery {
  const ordering = q.count ? null : orderingIndex(q, catalog);
  const where = filter(SCOPE, ordering ? without(q.where, ordering.covered) : q.where);
  const regex = /\bsync_regexp\(/.test(where);
  const conditions = [`${ROW}.deleted = 0`, where];
  let index: string | null = null;
  let from = `views ${ROW}`;
  let score: string | null = null;
  if (ordering) {
    from = `${ordering.index.table} i JOIN views ${ROW} ON ${ROW}.id = i.doc`;
    conditions.unshift(...ordering.bound);
    index = ordering.index.name;
  } else {
    for (const f of conjuncts(q.where)) {
      const idx = catalog.values.find((i) => samePath(f.field, i.fields[0]!));
      const narrow = idx ? keyCondition('k0', f) : null;
      if (idx && narrow) {
        conditions.push(`${ROW}.id IN (SELECT doc FROM ${idx.table} WHERE ${narrow})`);
        index = idx.name;
        break;
      }
    }
  }
  if (q.search) {
    const text = q.search.index === null ? catalog.texts[0] : catalog.texts.find((t) => t.name === q.search!.index);
    if (!text) throw new Error(q.search.index === null ? 'search: no text index (create one with createTextIndex)' : `search.index: no text index ${JSON.stringify(q.search.index)}`);
    if (q.search.index === null && catalog.texts.length > 1) throw new Error(`search: ${catalog.texts.length} text indexes; name one with {"text": ..., "index": ...}`);
    const match = q.search.terms.map((t) => `"${t.word.replace(/"/g, '""')}"${t.prefix ? ' *' : ''}`).join(' AND ');
    from = `${text.table} s JOIN ${text.table}_docs m ON m.rid = s.rowid JOIN views ${ROW} ON ${ROW}.id = m.doc`;
    conditions.push(`${text.table} MATCH ${sqlString(match)}`);
    // FTS5's rank is bm25, lower is more relevant; read from the index, not computed again.
    score = 's.rank';
  }
  if (q.count) return { sql: `SELECT json_object('count', count(*)) FROM ${from} WHERE ${conditions.join(' AND ')}`, index, regex };

  const order = orderOf(q, score);
  const limit = q.limit === null ? '' : `LIMIT ${q.limit + 1}`;
  // The page: ids and what orders them, cut at the limit (plus one row, to know whether more follow).
  let page: string;
  let orderCols: { col: string; dir: 'ASC' | 'DESC' }[];
  const orderOn = (table: string) => orderCols.map((o) => `${table}.${o.col} ${o.dir}`).join(', ');
  if (ordering) {
    // The index's key columns give the order: SQLite walks the index and stops at the limit.
    const dir = order.keys[0]!.dir;
    if (q.after) conditions.push(afterCursorKeys(ordering.columns, dir, q.after, 'i.doc'));
    orderCols = [...ordering.columns.map((_, i) => ({ col: `o${i}`, dir })), { col: 'id', dir }];
    // Ordered by the index's own columns (i.doc, not v.id: the same value, but only i.doc is in the index).
    const indexOrder = [...ordering.columns.map((c) => `${c} ${dir}`), `i.doc ${dir}`].join(', ');
    page = `SELECT i.doc AS id, ${ordering.columns.map((c, i) => `${c} AS o${i}`).join(', ')} FROM ${from} WHERE ${conditions.join(' AND ')} ORDER BY ${indexOrder} ${limit}`;
  } else {
    const cols = order.keys.map((_, i) => ({ rank: `k${i}r`, value: `k${i}v` }));
    orderCols = [...order.keys.flatMap((k, i) => [{ col: `k${i}r`, dir: k.dir }, { col: `k${i}v`, dir: k.dir }]), { col: 'id', dir: order.idDir }];
    const keyCols = order.keys.map((k, i) => `, ${k.rank} AS k${i}r, ${k.value} AS k${i}v`).join('');
    const after = q.after ? `WHERE ${afterCursor(order, q.after, cols, 'q.id')}` : '';
    page = `SELECT * FROM (SELECT ${ROW}.id AS id${keyCols} FROM ${from} WHERE ${conditions.join(' AND ')}) q ${after} ORDER BY ${orderOn('q')} ${limit}`;
  }
  const content = q.fields ? projection(q.fields) : `${ROW}.content`;
  const documents = `(SELECT json_group_array(${DOCUMENT_JSON(content)} ORDER BY ${orderOn('p')})
      FROM (SELECT * FROM page ORDER BY ${orderOn('page')}${q.limit === null ? '' : ` LIMIT ${q.limit}`}) p JOIN views ${ROW} ON ${ROW}.id = p.id)`;
  // The next page's cursor: the last row's sort key values and id. The page holds them unless an
  // ordering index made it (it holds that index's keys): then the document is read again for them.
  // (A search's score exists only in the page: its full-text table is not joined again.)
  const keyValues = (ordering ? order.keys.map((k) => `${k.rank}, ${k.value}`) : order.keys.map((_, i) => `p.k${i}r, p.k${i}v`)).join(', ');
  const next =
    q.limit === null
      ? 'NULL'
      : `CASE WHEN (SELECT count(*) FROM page) > ${q.limit} THEN (SELECT hex(json_array(${sqlString(q.signature)}, json_array(${keyValues}), ${ROW}.id))
          FROM (SELECT * FROM page ORDER BY ${orderOn('page')} LIMIT 1 OFFSET ${q.limit - 1}) p JOIN views ${ROW} ON ${ROW}.id = p.id) END`;
  const sql = `WITH page AS MATERIALIZED (${page})
    SELECT json_object('documents', ${documents}, 'next', ${next})`;
  return { sql, index, regex };
}

/** The filter without the given conjuncts (those an index already answers). */
function without(f: Filter, covered: Set<Filter>): Filter {
  if (covered.has(f)) return { kind: 'all' };
  if (f.kind !== 'and') return f;
  const rest = f.filters.map((x) => without(x, covered)).filter((x) => x.kind !== 'all');
  return rest.length === 0 ? { kind: 'all' } : rest.length === 1 ? rest[0]! : { kind: 'and', filters: rest };
}
