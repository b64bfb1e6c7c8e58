import type { Search } from '@json-sync/core';
import { sqlString } from './pg-sql.js';

/**
 * `search` on the server: the documents' title and every string of their content, as the
 * sync_search_vector function (migration 4) folds and splits them into the stored search_vector,
 * matched by a tsquery of the query's terms — already folded by core's parseSearch, each a prefix
 * when it ended in `*` — and answered by the GIN index on that column.
 */

function tsquery(search: Search): string {
  // Terms hold letters and digits only (parseSearch): quoting them is enough for to_tsquery.
  const text = search.terms.map((t) => `'${t.word}'${t.prefix ? ':*' : ''}`).join(' & ');
  return `to_tsquery('simple'::regconfig, ${sqlString(text)})`;
}

/** The documents' stored search_vector column: sync_search_vector(title, content), kept by migration 5's trigger and batch write. */
function vector(row: string): string {
  return `${row}.search_vector`;
}

export function searchCondition(row: string, search: Search): string {
  return `${vector(row)} @@ ${tsquery(search)}`;
}

/** Relevance, negated so that ascending order is best first (as the device's bm25). */
export function searchScore(row: string, search: Search): string {
  return `(-ts_rank(${vector(row)}, ${tsquery(search)}))::float8`;
}
