/**
 * A parsed query (docs/queries.md documents the language). Every backend — the reference
 * evaluator, the engine's SQLite, the server's PostgreSQL — reads this one form, never the raw JSON.
 */
import type { SafeRegex } from './regex.js';

/** The JSON scalars a condition compares with. */
export type Scalar = string | number | boolean | null;
/** A literal an equality may name: a scalar, or an array of literals (objects are refused: see docs/queries.md). */
export type Literal = Scalar | readonly Literal[];

/** Document metadata, queryable under reserved names that content fields cannot take (they start with `$`). */
export const META_FIELDS = ['$id', '$revision', '$title', '$createdAt', '$updatedAt'] as const;
export type MetaName = (typeof META_FIELDS)[number];

/** A metadata field, or a content path (dot-separated in the query text, split here). */
export type Field = { readonly kind: 'meta'; readonly name: MetaName } | { readonly kind: 'content'; readonly path: readonly string[] };

/** The JSON types `$type` names (`double`, `int`, `long` and `decimal` are read as documented). */
export type TypeName = 'string' | 'number' | 'int' | 'object' | 'array' | 'bool' | 'null';

/** One condition on the values at a field; a field's conditions all hold (an implicit $and). */
export type Condition =
  | { readonly op: '$eq' | '$ne'; readonly value: Literal }
  | { readonly op: '$gt' | '$gte' | '$lt' | '$lte'; readonly value: Scalar }
  | { readonly op: '$in' | '$nin'; readonly values: readonly Literal[] }
  | { readonly op: '$exists'; readonly value: boolean }
  | { readonly op: '$type'; readonly types: readonly TypeName[] }
  | { readonly op: '$all'; readonly values: readonly Literal[] }
  | { readonly op: '$size'; readonly value: number }
  | { readonly op: '$regex'; readonly regex: SafeRegex }
  | { readonly op: '$not'; readonly conditions: readonly Condition[] }
  | { readonly op: '$elemMatch'; readonly match: ElemMatch };

/** `$elemMatch` over scalar elements (operators) or over object elements (a filter on their fields). */
export type ElemMatch = { readonly kind: 'operators'; readonly conditions: readonly Condition[] } | { readonly kind: 'fields'; readonly filter: Filter };

export type Filter =
  | { readonly kind: 'all' }
  | { readonly kind: 'and' | 'or' | 'nor'; readonly filters: readonly Filter[] }
  | { readonly kind: 'field'; readonly field: Field; readonly conditions: readonly Condition[] };

export type Direction = 1 | -1;

export interface SortKey {
  readonly field: Field;
  readonly direction: Direction;
}

/** Full-text search: every term must match; a term ending in `*` matches words it begins. */
export interface Search {
  readonly text: string;
  readonly terms: readonly { readonly word: string; readonly prefix: boolean }[];
  /** The text index to search (device); null: the only one there is. */
  readonly index: string | null;
}

export interface Query {
  readonly where: Filter;
  /** The query's sort keys, then `$id` in the last key's direction: the order is total, so pages never overlap. */
  readonly sort: readonly SortKey[];
  readonly limit: number | null;
  /** The position after which this page starts (from the previous page's `next`). */
  readonly after: PageCursor | null;
  /** Content paths to return (null: the whole content). */
  readonly fields: readonly (readonly string[])[] | null;
  readonly count: boolean;
  readonly search: Search | null;
  /** Identifies where, sort and search: a cursor made for another query is refused. */
  readonly signature: string;
}

/** A sort key's value: the rank of its JSON type (docs/queries.md, "Order") and, for scalars, the value. */
export interface KeyValue {
  readonly rank: number;
  readonly value: string | number | null;
}

/** A page boundary: the last row's sort key values and id. */
export interface PageCursor {
  readonly keys: readonly KeyValue[];
  readonly id: string;
}
