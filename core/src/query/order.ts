import type { JsonValue } from '../json-value.js';
import type { KeyValue } from './ast.js';

/**
 * MongoDB's order of types, for the JSON types (docs/queries.md, "Order"): an empty array sorts
 * first, then null (and a missing field), numbers, strings, objects, arrays, booleans.
 */
export const RANK = { emptyArray: 0, null: 1, number: 2, string: 3, object: 4, array: 5, bool: 8 } as const;

export function rankOf(v: JsonValue | undefined): number {
  if (v === undefined || v === null) return RANK.null;
  switch (typeof v) {
    case 'number':
      return RANK.number;
    case 'string':
      return RANK.string;
    case 'boolean':
      return RANK.bool;
    default:
      return Array.isArray(v) ? (v.length === 0 ? RANK.emptyArray : RANK.array) : RANK.object;
  }
}

/**
 * Strings compare by their UTF-8 bytes, as SQLite's BINARY collation and PostgreSQL's "C"
 * collation do (JavaScript's `<` compares UTF-16 units, which orders characters above U+FFFF
 * differently).
 */
export function compareStrings(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Only surrogates (0xD800–0xDFFF) sit below 0xE000–0xFFFF in UTF-16 while their code points sort above.
    const sx = x >= 0xd800 && x <= 0xdfff;
    const sy = y >= 0xd800 && y <= 0xdfff;
    if (sx !== sy && Math.max(x, y) >= 0xe000) return sx ? 1 : -1;
    return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

/** A value as a sort key: its rank, and its value when it is a scalar (booleans as 0/1). */
export function keyOf(v: JsonValue | undefined): KeyValue {
  const rank = rankOf(v);
  if (rank === RANK.number || rank === RANK.string) return { rank, value: v as number | string };
  if (rank === RANK.bool) return { rank, value: v ? 1 : 0 };
  return { rank, value: null };
}

/** Orders two sort keys: by rank, then by value (objects and arrays of one rank are equal). */
export function compareKeys(a: KeyValue, b: KeyValue): number {
  if (a.rank !== b.rank) return a.rank - b.rank;
  if (a.value === null || b.value === null) return 0;
  if (typeof a.value === 'string') return compareStrings(a.value, b.value as string);
  return (a.value as number) - (b.value as number);
}
