import type { Condition, Field, Filter, Literal, MetaName, Scalar, TypeName } from '@json-sync/core';
import { pgRegex } from './pg-regex.js';
import { alias, objectPath, sqlJsonb, sqlNumber, sqlPathArray, sqlString } from './pg-sql.js';

/**
 * `where` as a PostgreSQL boolean over one documents row, with the reference evaluator's semantics
 * (core/src/query/evaluate.ts; docs/queries.md). A value is a jsonb expression, SQL NULL when the
 * field is missing. A path is read with `->` when no array lies on the way; where one does, the
 * sync_values_at function (migration 4) walks every way down, as MongoDB does. Every expression
 * this file makes is true or false, never NULL, so NOT composes.
 */

/** The row being tested: its alias (metadata columns) and the jsonb its fields are read from. */
export interface Scope {
  readonly row: string;
  readonly content: string;
}

type PgType = 'string' | 'number' | 'boolean' | 'null' | 'array' | 'object';

/** A condition on one value by its jsonb type (any type not named: false), and for a missing value. */
interface ByType {
  cases: Partial<Record<PgType, string>>;
  missing?: string;
}

/** RFC 3339 text with milliseconds in UTC, as the wire documents' times are (toISOString). */
export function isoText(column: string): string {
  return `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
}

/** A metadata field as a jsonb value, so its conditions are the content's (a null title is null, not missing). */
export function metaValue(row: string, name: MetaName): string {
  switch (name) {
    case '$id':
      return `to_jsonb(${row}.id::text)`;
    case '$revision':
      return `to_jsonb(${row}.sync_revision)`;
    case '$title':
      return `COALESCE(to_jsonb(${row}.title), 'null'::jsonb)`;
    case '$createdAt':
      return `to_jsonb(${isoText(`${row}.created_at`)})`;
    case '$updatedAt':
      return `to_jsonb(${isoText(`${row}.updated_at`)})`;
  }
}

/** SQL that holds (never NULL) when some prefix of `path` (before its last component) is an array: only then is a walk needed. */
export function arrayOnTheWay(content: string, path: readonly string[]): string {
  return path
    .slice(0, -1)
    .map((_, i) => `jsonb_typeof(${objectPath(content, path.slice(0, i + 1))}) IS NOT DISTINCT FROM 'array'`)
    .join(' OR ');
}

/** Whether some value of `field` satisfies `test` (given a jsonb expression, NULL for a missing value). */
function someValue(scope: Scope, field: Field, test: (x: string) => string): string {
  if (field.kind === 'meta') return test(metaValue(scope.row, field.name));
  const fast = objectPath(scope.content, field.path);
  if (field.path.length === 1) return test(fast);
  const w = alias('w');
  const walked = `EXISTS (SELECT 1 FROM sync_values_at(${scope.content}, ${sqlPathArray(field.path)}) ${w}(v) WHERE ${test(`${w}.v`)})`;
  // A value found by -> is the path's only one (no array on the way); missing with no array on the way, truly missing.
  return `(CASE WHEN ${fast} IS NOT NULL THEN ${test(fast)} WHEN ${arrayOnTheWay(scope.content, field.path)} THEN ${walked} ELSE ${test('NULL::jsonb')} END)`;
}

function render(x: string, spec: ByType): string {
  const whens = (Object.entries(spec.cases) as [PgType, string][]).filter(([, sql]) => sql !== 'false');
  const missing = spec.missing === undefined || spec.missing === 'false' ? 'false' : `(${x} IS NULL AND ${spec.missing})`;
  if (whens.length === 0) return missing;
  return `(CASE jsonb_typeof(${x}) ${whens.map(([t, sql]) => `WHEN '${t}' THEN ${sql}`).join(' ')} ELSE ${missing} END)`;
}

/** The spec holds for the value or, when it is an array, for one of its elements. */
function valueOrElement(x: string, spec: (v: string) => ByType): string {
  const top = spec(x);
  const e = alias('e');
  const element = render(`${e}.v`, { cases: spec(`${e}.v`).cases });
  const inArray = element === 'false' ? 'false' : `EXISTS (SELECT 1 FROM jsonb_array_elements(${x}) ${e}(v) WHERE ${element})`;
  const array = top.cases.array && top.cases.array !== 'false' ? `(${top.cases.array} OR ${inArray})` : inArray;
  return render(x, { cases: { ...top.cases, array }, ...(top.missing ? { missing: top.missing } : {}) });
}

/**
 * $eq on one value: the value is the literal or, when it is an array, holds it. For a scalar that
 * is exactly jsonb containment (`[1, "a"] @> "a"`, numbers compared as numbers, nested arrays not
 * searched); an array literal is compared whole, with the value and with its elements. Null also
 * matches a missing value.
 */
function equals(x: string, lit: Literal): string {
  if (lit === null) return `(${x} IS NULL OR ${x} @> 'null'::jsonb)`;
  if (!Array.isArray(lit)) return `(${x} @> ${sqlJsonb(lit)}) IS TRUE`;
  const e = alias('e');
  const l = sqlJsonb(lit);
  return `(CASE jsonb_typeof(${x}) WHEN 'array' THEN ${x} = ${l} OR EXISTS (SELECT 1 FROM jsonb_array_elements(${x}) ${e}(v) WHERE ${e}.v = ${l}) ELSE false END)`;
}

/** $in on one value: the scalars in one containment test against a list, arrays and null each their own. */
function equalsOneOf(x: string, values: readonly Literal[]): string {
  const scalars = values.filter((v) => v !== null && !Array.isArray(v));
  const parts: string[] = [];
  if (scalars.length) parts.push(`(${x} @> ANY (ARRAY[${scalars.map(sqlJsonb).join(', ')}])) IS TRUE`);
  if (values.includes(null)) parts.push(equals(x, null));
  for (const v of values) if (Array.isArray(v)) parts.push(equals(x, v));
  return parts.length === 0 ? 'false' : `(${parts.join(' OR ')})`;
}

const COMPARATOR = { $gt: '>', $gte: '>=', $lt: '<', $lte: '<=' } as const;

/** A range comparison within the scalar's own type (strings by their UTF-8 bytes: the "C" collation). */
function compares(x: string, op: keyof typeof COMPARATOR, v: Scalar): string {
  if (v === null) return op === '$gte' || op === '$lte' ? equals(x, null) : 'false';
  const cmp = COMPARATOR[op];
  return valueOrElement(x, (e) => {
    if (typeof v === 'number') return { cases: { number: `(${e})::numeric ${cmp} ${sqlNumber(v)}` } };
    if (typeof v === 'string') return { cases: { string: `(${e} #>> '{}') COLLATE "C" ${cmp} ${sqlString(v)}` } };
    // Booleans order false < true: the answer for each is known here.
    const holds = (b: number) => (cmp === '>' ? b > +v : cmp === '>=' ? b >= +v : cmp === '<' ? b < +v : b <= +v);
    const [t, f] = [holds(1), holds(0)];
    return { cases: { boolean: t === f ? String(t) : `${e} = '${t}'::jsonb` } };
  });
}

function hasType(x: string, types: readonly TypeName[]): string {
  return valueOrElement(x, (e) => {
    const cases: ByType['cases'] = {};
    const or = (t: PgType, sql: string) => (cases[t] = cases[t] === undefined || sql === 'true' ? sql : cases[t] === 'true' ? 'true' : `(${cases[t]} OR ${sql})`);
    for (const t of types) {
      if (t === 'string') or('string', 'true');
      else if (t === 'number') or('number', 'true');
      else if (t === 'int') or('number', `(${e})::numeric = trunc((${e})::numeric)`);
      else if (t === 'bool') or('boolean', 'true');
      else or(t, 'true');
    }
    return { cases };
  });
}

/** "Some value of the field satisfies `test`." */
type Some = (test: (x: string) => string) => string;

function condition(scope: Scope, some: Some, c: Condition): string {
  switch (c.op) {
    case '$eq':
      return some((x) => equals(x, c.value));
    case '$ne':
      return `NOT ${some((x) => equals(x, c.value))}`;
    case '$gt':
    case '$gte':
    case '$lt':
    case '$lte':
      return some((x) => compares(x, c.op, c.value));
    case '$in':
      return some((x) => equalsOneOf(x, c.values));
    case '$nin':
      return `NOT ${some((x) => equalsOneOf(x, c.values))}`;
    case '$all':
      return c.values.length === 0 ? 'false' : `(${c.values.map((v) => some((x) => equals(x, v))).join(' AND ')})`;
    case '$exists':
      return `${c.value ? '' : 'NOT '}${some((x) => `(${x} IS NOT NULL)`)}`;
    case '$type':
      return some((x) => hasType(x, c.types));
    case '$size':
      return some((x) => render(x, { cases: { array: `jsonb_array_length(${x}) = ${c.value}` } }));
    case '$regex': {
      const pattern = sqlString(pgRegex(c.regex));
      return some((x) => valueOrElement(x, (e) => ({ cases: { string: `(${e} #>> '{}') ~ ${pattern}` } })));
    }
    case '$not':
      return `NOT (${c.conditions.map((inner) => condition(scope, some, inner)).join(' AND ')})`;
    case '$elemMatch': {
      const m = c.match;
      return some((x) => {
        const e = alias('e');
        const element = `${e}.v`;
        // Operators take the element as the field's one value; a filter reads the element's fields.
        const inner =
          m.kind === 'operators'
            ? m.conditions.map((ic) => condition(scope, (test) => test(element), ic)).join(' AND ')
            : `(CASE jsonb_typeof(${element}) WHEN 'object' THEN ${filter({ row: scope.row, content: element }, m.filter)} ELSE false END)`;
        return render(x, { cases: { array: `EXISTS (SELECT 1 FROM jsonb_array_elements(${x}) ${e}(v) WHERE ${inner})` } });
      });
    }
  }
}

export function filter(scope: Scope, f: Filter): string {
  switch (f.kind) {
    case 'all':
      return 'true';
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
