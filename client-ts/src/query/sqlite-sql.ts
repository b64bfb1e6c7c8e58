import { RANK, type Condition, type Field, type Filter, type KeyValue, type Literal, type Scalar, type SortKey, type TypeName } from '@json-sync/core';

/**
 * The query language (core's parsed Query) as SQLite SQL over the engine's `views` table, with the
 * reference evaluator's semantics (core/src/query/evaluate.ts; docs/queries.md). Literals are
 * inlined, quoted, so the statement is self-contained text: the C library runs the same text on
 * its own connections. Each field is read the fast way — one JSON path — when no part of the path
 * before its last component is an array; otherwise a recursive walk finds every value the path
 * reaches through arrays of objects, as MongoDB does.
 */

/** One value a field holds in a document, as SQL expressions. */
interface Slot {
  /** SQLite's json_type of the value ('text', 'integer', 'real', 'true', 'false', 'null', 'array', 'object'); NULL when missing. */
  type: string;
  /** The value as SQL: text, a number, 1/0 for booleans, NULL. */
  value: string;
  /** The value as JSON text (arrays and objects included). */
  json: string;
  /** A table of its elements (json_each) when it is an array. */
  elements: string;
  /** The JSON text `elements`' fullkey column is relative to. */
  elementsRoot: string;
  /**
   * Where the value is missing at its one JSON path, whether another way down finds it (an array
   * of objects before the last component): given what a missing value answers, what the field does.
   */
  missingVia?: (missing: string) => string;
}

export function sqlString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

function sqlNumber(n: number): string {
  return Object.is(n, -0) ? '0' : String(n);
}

/** A JSON path to one key: `$."name"`; a component holding `"` is looked up with json_each instead (SQLite paths cannot quote it). */
function jsonPath(path: readonly string[]): string {
  return `$${path.map((c) => `."${c}"`).join('')}`;
}

let aliasCounter = 0;
/** A fresh table alias, so nested subqueries never shadow one another. */
function alias(prefix: string): string {
  aliasCounter = (aliasCounter + 1) % 1_000_000;
  return `${prefix}${aliasCounter}`;
}

function slotAtPath(root: string, path: readonly string[]): Slot {
  const p = sqlString(jsonPath(path));
  return { type: `json_type(${root}, ${p})`, value: `(${root} ->> ${p})`, json: `(${root} -> ${p})`, elements: `json_each(${root}, ${p})`, elementsRoot: root };
}

function slotOfJson(json: string): Slot {
  return { type: `json_type(${json})`, value: `(${json} ->> '$')`, json, elements: `json_each(${json})`, elementsRoot: json };
}

/** Element `e` (a row of `s.elements`) as a value of its own. */
function slotOfElement(e: string, s: Slot): Slot {
  return {
    type: `${e}.type`,
    value: `(CASE ${e}.type WHEN 'true' THEN 1 WHEN 'false' THEN 0 ELSE ${e}.value END)`,
    json: `(${s.elementsRoot} -> ${e}.fullkey)`,
    elements: `json_each(${s.elementsRoot}, ${e}.fullkey)`,
    elementsRoot: s.elementsRoot,
  };
}

const META_COLUMNS: Record<string, { column: string; type: 'text' | 'integer' }> = {
  $id: { column: 'id', type: 'text' },
  $revision: { column: 'revision', type: 'integer' },
  $title: { column: 'title', type: 'text' },
  $createdAt: { column: 'created_at', type: 'text' },
  $updatedAt: { column: 'updated_at', type: 'text' },
};

/** The compile context: the document row's alias and the JSON text fields are read from. */
interface Scope {
  row: string;
  content: string;
}

/**
 * Whether some value of `field` satisfies `test`. The fast path reads one JSON path; when a
 * prefix of the path is an array, a recursive walk (one row per way down) does.
 */
function someValue(scope: Scope, field: Field, test: (s: Slot) => string): string {
  if (field.kind === 'meta') {
    const m = META_COLUMNS[field.name]!;
    const col = `${scope.row}.${m.column}`;
    return test({ type: `(CASE WHEN ${col} IS NULL THEN 'null' ELSE '${m.type}' END)`, value: col, json: `json_quote(${col})`, elements: `json_each('[]')`, elementsRoot: `'[]'` });
  }
  const path = field.path;
  const fast = slotAtPath(scope.content, path);
  if (path.length === 1) return test(fast);
  // Missing at its JSON path: truly missing, unless a prefix is an array (then the walk decides).
  const prefixesNotArrays = path
    .slice(0, -1)
    .map((_, i) => `json_type(${scope.content}, ${sqlString(jsonPath(path.slice(0, i + 1)))}) IS NOT 'array'`)
    .join(' AND ');
  const w = alias('w');
  const walked = `EXISTS (${walk(scope.content, path, w)} SELECT 1 FROM ${w} WHERE ${w}.i = ${path.length} AND ${test(slotOfJson(`${w}.v`))})`;
  return test({ ...fast, missingVia: (missing) => `(CASE WHEN ${prefixesNotArrays} THEN ${missing} ELSE ${walked} END)` });
}

/**
 * `WITH RECURSIVE w(i, v, t)`: every way down `path` from `root` — into objects by name, into
 * arrays by index and through each element that is an object — ending at step `path.length` with
 * the value found (NULL where the path is missing), as the reference evaluator's valuesAt does.
 */
function walk(root: string, path: readonly string[], w: string): string {
  const n = path.length;
  const component = `(CASE ${w}.i ${path.map((c, i) => `WHEN ${i} THEN ${sqlString(c)}`).join(' ')} END)`;
  const member = `'$."' || ${component} || '"'`;
  const indexable = path.map((c, i) => (/^(0|[1-9]\d*)$/.test(c) ? i : -1)).filter((i) => i >= 0);
  const e = alias('e');
  const indexStep =
    indexable.length === 0
      ? ''
      : ` UNION ALL SELECT ${w}.i + 1, ${w}.v -> ('$[' || ${component} || ']'), json_type(${w}.v, '$[' || ${component} || ']') FROM ${w}
           WHERE ${w}.i IN (${indexable.join(', ')}) AND ${w}.t = 'array' AND CAST(${component} AS INTEGER) < json_array_length(${w}.v)`;
  const yieldsNothing = `NOT EXISTS (SELECT 1 FROM json_each(${w}.v) ${e} WHERE ${e}.type = 'object')${
    indexable.length === 0 ? '' : ` AND NOT (${w}.i IN (${indexable.join(', ')}) AND CAST(${component} AS INTEGER) < json_array_length(${w}.v))`
  }`;
  return `WITH RECURSIVE ${w}(i, v, t) AS (
      SELECT 0, ${root}, json_type(${root})
      UNION ALL SELECT ${w}.i + 1, ${w}.v -> (${member}), json_type(${w}.v, ${member}) FROM ${w} WHERE ${w}.i < ${n} AND ${w}.t = 'object'
      UNION ALL SELECT ${w}.i, ${e}.value, 'object' FROM ${w}, json_each(${w}.v) ${e} WHERE ${w}.i < ${n} AND ${w}.t = 'array' AND ${e}.type = 'object'${indexStep}
      UNION ALL SELECT ${n}, NULL, NULL FROM ${w} WHERE ${w}.i < ${n} AND (${w}.t IS NULL OR ${w}.t NOT IN ('object', 'array'))
      UNION ALL SELECT ${n}, NULL, NULL FROM ${w} WHERE ${w}.i < ${n} AND ${w}.t = 'array' AND ${yieldsNothing}
    )`;
}

// ---- conditions on one value -------------------------------------------------------------------

type SqlType = 'text' | 'integer' | 'real' | 'true' | 'false' | 'null' | 'array' | 'object';

/**
 * A condition on one value, by the value's JSON type: what it is for each type it can hold for
 * (any other: false), and for a missing value. Rendered as one CASE on the type, so SQLite looks
 * the value up once per row (and reads it only when its type can match).
 */
interface ByType {
  cases: Partial<Record<SqlType, string>>;
  missing?: string;
}

function render(s: Slot, spec: ByType): string {
  const whens = (Object.entries(spec.cases) as [SqlType, string][]).filter(([, sql]) => sql !== '0');
  const answer = spec.missing ?? '0';
  const missing = s.missingVia ? `(CASE WHEN ${s.type} IS NULL THEN ${s.missingVia(answer)} ELSE 0 END)` : answer !== '0' ? `(${s.type} IS NULL AND ${answer})` : '0';
  if (whens.length === 0) return missing;
  return `(CASE ${s.type} ${whens.map(([t, sql]) => `WHEN '${t}' THEN ${sql}`).join(' ')} ELSE ${missing} END)`;
}

/** The spec holds for the value or, when it is an array, for one of its elements. */
function valueOrElement(s: Slot, spec: (x: Slot) => ByType): string {
  const top = spec(s);
  const e = alias('e');
  const element = render(slotOfElement(e, s), { cases: spec(slotOfElement(e, s)).cases });
  const inArray = `EXISTS (SELECT 1 FROM ${s.elements} ${e} WHERE ${element})`;
  const array = top.cases.array && top.cases.array !== '0' ? `(${top.cases.array} OR ${inArray})` : inArray;
  return render(s, { cases: { ...top.cases, array }, ...(top.missing ? { missing: top.missing } : {}) });
}

/** Merges specs: a type holds when any of them holds for it. */
function anyOf(specs: ByType[]): ByType {
  const cases: Partial<Record<SqlType, string>> = {};
  for (const sp of specs) for (const [t, sql] of Object.entries(sp.cases) as [SqlType, string][]) cases[t] = cases[t] ? `(${cases[t]} OR ${sql})` : sql;
  const missing = specs.map((sp) => sp.missing).filter((m): m is string => m !== undefined);
  return { cases, ...(missing.length ? { missing: missing.length === 1 ? missing[0]! : `(${missing.join(' OR ')})` } : {}) };
}

/** The value itself is this literal: same JSON type and value (arrays element by element). */
function isLiteral(s: Slot, lit: Literal): ByType {
  if (Array.isArray(lit)) return { cases: { array: `${s.json} = ${sqlString(JSON.stringify(lit))}` } };
  if (lit === null) return { cases: { null: '1' } };
  if (typeof lit === 'boolean') return { cases: { [String(lit)]: '1' } };
  if (typeof lit === 'number') return { cases: { integer: `${s.value} = ${sqlNumber(lit)}`, real: `${s.value} = ${sqlNumber(lit)}` } };
  return { cases: { text: `${s.value} = ${sqlString(lit as string)}` } };
}

/** $eq on one value. Null also matches a missing value. */
function equals(s: Slot, lit: Literal): string {
  return valueOrElement(s, (x) => (lit === null ? { cases: { null: '1' }, missing: '1' } : isLiteral(x, lit)));
}

/** $in on one value: equal to one of the values (each type's values in one IN). */
function equalsOneOf(s: Slot, values: readonly Literal[]): string {
  const strings = values.filter((v): v is string => typeof v === 'string');
  const numbers = values.filter((v): v is number => typeof v === 'number');
  const others = values.filter((v) => typeof v !== 'string' && typeof v !== 'number');
  return valueOrElement(s, (x) => {
    const specs: ByType[] = others.map((o) => isLiteral(x, o));
    if (strings.length) specs.push({ cases: { text: `${x.value} IN (${strings.map(sqlString).join(', ')})` } });
    if (numbers.length) {
      const inList = `${x.value} IN (${numbers.map(sqlNumber).join(', ')})`;
      specs.push({ cases: { integer: inList, real: inList } });
    }
    if (values.includes(null)) specs.push({ cases: {}, missing: '1' });
    return anyOf(specs);
  });
}

const COMPARATOR = { $gt: '>', $gte: '>=', $lt: '<', $lte: '<=' } as const;

/** A range comparison within the scalar's own type. */
function compares(s: Slot, op: keyof typeof COMPARATOR, x: Scalar): string {
  if (x === null) return op === '$gte' || op === '$lte' ? equals(s, null) : '0';
  const cmp = COMPARATOR[op];
  return valueOrElement(s, (v) => {
    if (typeof x === 'number') return { cases: { integer: `${v.value} ${cmp} ${sqlNumber(x)}`, real: `${v.value} ${cmp} ${sqlNumber(x)}` } };
    if (typeof x === 'string') return { cases: { text: `${v.value} ${cmp} ${sqlString(x)}` } };
    // Booleans order false < true: the answer for each is known here.
    const holds = (b: number) => (cmp === '>' ? b > +x : cmp === '>=' ? b >= +x : cmp === '<' ? b < +x : b <= +x);
    return { cases: { true: holds(1) ? '1' : '0', false: holds(0) ? '1' : '0' } };
  });
}

const ALL_TYPES: SqlType[] = ['text', 'integer', 'real', 'true', 'false', 'null', 'array', 'object'];

const SQLITE_TYPES: Record<TypeName, SqlType[]> = {
  string: ['text'],
  number: ['integer', 'real'],
  int: ['integer'],
  bool: ['true', 'false'],
  null: ['null'],
  array: ['array'],
  object: ['object'],
};

function hasType(s: Slot, types: readonly TypeName[]): string {
  const cases = Object.fromEntries(types.flatMap((t) => SQLITE_TYPES[t]).map((t) => [t, '1'])) as ByType['cases'];
  return valueOrElement(s, () => ({ cases }));
}

// ---- conditions on a field, filters ----------------------------------------------------------

/** "Some value of the field satisfies `test`." */
type Some = (test: (s: Slot) => string) => string;

/** SQL that holds when the field (its values given by `some`) satisfies the condition; never NULL. */
function condition(scope: Scope, some: Some, c: Condition): string {
  switch (c.op) {
    case '$eq':
      return some((s) => equals(s, c.value));
    case '$ne':
      return `NOT ${some((s) => equals(s, c.value))}`;
    case '$gt':
    case '$gte':
    case '$lt':
    case '$lte':
      return some((s) => compares(s, c.op, c.value));
    case '$in':
      return some((s) => equalsOneOf(s, c.values));
    case '$nin':
      return `NOT ${some((s) => equalsOneOf(s, c.values))}`;
    case '$all':
      return c.values.length === 0 ? '0' : `(${c.values.map((v) => some((s) => equals(s, v))).join(' AND ')})`;
    case '$exists':
      return `${c.value ? '' : 'NOT '}${some((s) => render(s, { cases: Object.fromEntries(ALL_TYPES.map((t) => [t, '1'])) }))}`;
    case '$type':
      return some((s) => hasType(s, c.types));
    case '$size':
      return some((s) => render(s, { cases: { array: `json_array_length(${s.json}) = ${c.value}` } }));
    case '$regex': {
      const args = `${sqlString(c.regex.source)}, ${sqlString(c.regex.flags.join(''))}`;
      return some((s) => valueOrElement(s, (x) => ({ cases: { text: `sync_regexp(${args}, ${x.value})` } })));
    }
    case '$not':
      return `NOT (${c.conditions.map((inner) => condition(scope, some, inner)).join(' AND ')})`;
    case '$elemMatch': {
      const m = c.match;
      return some((s) => {
        const e = alias('e');
        const element = slotOfElement(e, s);
        // Operators take the element as the field's one value; a filter reads the element's fields.
        const inner =
          m.kind === 'operators'
            ? m.conditions.map((ic) => condition(scope, (test) => test(element), ic)).join(' AND ')
            : `${e}.type = 'object' AND ${filter({ row: scope.row, content: element.json }, m.filter)}`;
        return render(s, { cases: { array: `EXISTS (SELECT 1 FROM ${s.elements} ${e} WHERE ${inner})` } });
      });
    }
  }
}

export function filter(scope: Scope, f: Filter): string {
  switch (f.kind) {
    case 'all':
      return '1';
    case 'and':
      return `(${f.filters.map((x) => filter(scope, x)).join(' AND ')})`;
    case 'or':
      return `(${f.filters.map((x) => filter(scope, x)).join(' OR ')})`;
    case 'nor':
      return `NOT (${f.filters.map((x) => filter(scope, x)).join(' OR ')})`;
    case 'field': {
      const some: Some = (test) => someValue(scope, f.field, test);
      return `(${f.conditions.map((c) => condition(scope, some, c)).join(' AND ')})`;
    }
  }
}

// ---- sort keys ---------------------------------------------------------------------------------

function rankOfType(type: string): string {
  return `(CASE ${type} WHEN 'integer' THEN ${RANK.number} WHEN 'real' THEN ${RANK.number} WHEN 'text' THEN ${RANK.string} WHEN 'object' THEN ${RANK.object}
    WHEN 'array' THEN ${RANK.array} WHEN 'true' THEN ${RANK.bool} WHEN 'false' THEN ${RANK.bool} ELSE ${RANK.null} END)`;
}

function valueOfType(type: string, value: string): string {
  return `(CASE WHEN ${type} IN ('integer', 'real', 'text') THEN ${value} WHEN ${type} = 'true' THEN 1 WHEN ${type} = 'false' THEN 0 END)`;
}

/**
 * A field's sort key as two SQL expressions (rank, value): ascending takes the smallest value,
 * descending the largest; an array counts by its elements, an empty one ranks below null.
 */
export function sortKey(scope: Scope, key: SortKey): { rank: string; value: string } {
  const dir = key.direction === 1 ? 'ASC' : 'DESC';
  const field = key.field;
  if (field.kind === 'meta') {
    const m = META_COLUMNS[field.name]!;
    const col = `${scope.row}.${m.column}`;
    return { rank: `(CASE WHEN ${col} IS NULL THEN ${RANK.null} ELSE ${m.type === 'text' ? RANK.string : RANK.number} END)`, value: col };
  }
  // Candidates: (rank, value) of each value the path reaches, an array's elements in its place.
  const c = alias('c');
  const candidates = (s: Slot): string => {
    const e = alias('e');
    return `SELECT ${rankOfType(s.type)} AS r, ${valueOfType(s.type, s.value)} AS v WHERE ${s.type} IS NOT 'array'
      UNION ALL SELECT ${RANK.emptyArray}, NULL WHERE ${s.type} IS 'array' AND json_array_length(${s.json}) = 0
      UNION ALL SELECT ${rankOfType(`${e}.type`)}, ${valueOfType(`${e}.type`, `${e}.value`)} FROM ${s.elements} ${e} WHERE ${s.type} IS 'array'`;
  };
  const path = field.path;
  const pick = (column: 'r' | 'v', s: Slot): string => `(SELECT ${c}.${column} FROM (${candidates(s)}) ${c} ORDER BY ${c}.r ${dir}, ${c}.v ${dir} LIMIT 1)`;
  const fast = slotAtPath(scope.content, path);
  // A scalar at a path without arrays on the way needs no subquery.
  const simple = (column: 'r' | 'v') => (column === 'r' ? rankOfType(fast.type) : valueOfType(fast.type, fast.value));
  const prefixesNotArrays = path
    .slice(0, -1)
    .map((_, i) => `json_type(${scope.content}, ${sqlString(jsonPath(path.slice(0, i + 1)))}) IS NOT 'array'`)
    .concat([`${fast.type} IS NOT 'array'`])
    .join(' AND ');
  const general = (column: 'r' | 'v'): string => {
    if (path.length === 1) return pick(column, fast);
    const w = alias('w');
    const s = slotOfJson(`${w}.v`);
    const e = alias('e');
    return `(${walk(scope.content, path, w)}
      SELECT ${c}.${column} FROM (
        SELECT ${rankOfType(s.type)} AS r, ${valueOfType(s.type, s.value)} AS v FROM ${w} WHERE ${w}.i = ${path.length} AND ${s.type} IS NOT 'array'
        UNION ALL SELECT ${RANK.emptyArray}, NULL FROM ${w} WHERE ${w}.i = ${path.length} AND ${s.type} IS 'array' AND json_array_length(${s.json}) = 0
        UNION ALL SELECT ${rankOfType(`${e}.type`)}, ${valueOfType(`${e}.type`, `${e}.value`)} FROM ${w}, json_each(${w}.v) ${e} WHERE ${w}.i = ${path.length} AND ${s.type} IS 'array'
      ) ${c} ORDER BY ${c}.r ${dir}, ${c}.v ${dir} LIMIT 1)`;
  };
  return {
    rank: `(CASE WHEN ${prefixesNotArrays} THEN ${simple('r')} ELSE ${general('r')} END)`,
    value: `(CASE WHEN ${prefixesNotArrays} THEN ${simple('v')} ELSE ${general('v')} END)`,
  };
}

/** SQL literal of a sort key's value (from a cursor). */
export function keyValueSql(k: KeyValue): string {
  return k.value === null ? 'NULL' : typeof k.value === 'number' ? sqlNumber(k.value) : sqlString(k.value);
}

export type { Scope };
