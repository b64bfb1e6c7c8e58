/**
 * The query API's public shapes, apart from the modules that implement them: the package's
 * declarations import this file, so an application's type-check never needs better-sqlite3's types.
 */

/** A document in a query's result: sync_engine_get_document's object. */
export interface QueryDocumentJson {
  id: string;
  title: string | null;
  content: Record<string, unknown>;
  sync_revision: number | null;
  pending: number;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
}

/** What a query answers: a page of documents and the cursor of the next, or just the count. */
export type QueryResultJson = { documents: QueryDocumentJson[]; next: string | null } | { count: number };

export interface IndexSpec {
  name: string;
  /** Dotted content paths. */
  fields: string[];
  unique?: boolean;
}

export interface IndexInfo {
  name: string;
  kind: 'value' | 'text';
  fields: string[];
  unique: boolean;
}

/**
 * What changed in a live query's result since the last call. Applied to the previous result in
 * this order it gives the new one: drop `removed`, take out `moved`, then insert `moved` and
 * `added` at their `index` (ascending), and replace `changed` in place.
 */
export interface QueryDiff {
  added: { index: number; document: QueryDocumentJson }[];
  removed: string[];
  changed: QueryDocumentJson[];
  moved: { id: string; index: number }[];
  /** Every match, past the page too (when the watch asked for it). */
  total?: number;
}

/** The first call: the whole result, as a diff from nothing. */
export type LiveHandler = (diff: QueryDiff) => void;
