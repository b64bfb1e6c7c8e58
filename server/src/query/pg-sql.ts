import { literal } from '../db/sql.js';

/** SQL text helpers the query compiler shares: literals inlined (the statement runs as one script), paths. */

export function sqlString(s: string): string {
  return literal(s);
}

export function sqlNumber(n: number): string {
  return Object.is(n, -0) ? '0' : String(n);
}

/** A JSON value as a jsonb literal. */
export function sqlJsonb(v: unknown): string {
  return `${literal(JSON.stringify(v))}::jsonb`;
}

/** `root -> 'a' -> 'b'`: the value at a path through objects (NULL where it is missing, or meets an array or a scalar). */
export function objectPath(root: string, path: readonly string[]): string {
  return path.reduce((expr, c) => `(${expr} -> ${sqlString(c)})`, root);
}

/** A text[] literal of a path, for sync_values_at. */
export function sqlPathArray(path: readonly string[]): string {
  return `ARRAY[${path.map(sqlString).join(', ')}]::text[]`;
}

let aliasCounter = 0;
/** A fresh alias, so nested subqueries never shadow one another. */
export function alias(prefix: string): string {
  aliasCounter = (aliasCounter + 1) % 1_000_000;
  return `${prefix}${aliasCounter}`;
}
