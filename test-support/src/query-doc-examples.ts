import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { JsonObject, QueryableDocument } from '@json-sync/core';

/** docs/queries.md, which these examples come from. */
export const QUERIES_DOC = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs', 'queries.md');

export interface DocExample {
  query: JsonObject;
  /** The titles the documentation says the query answers, in order. */
  titles: string[];
}

/**
 * The documents and the examples of docs/queries.md: its `json documents` block, and every
 * `json query` block with the `→ [...]` line after it. A block without its answer line is an error,
 * so the documentation cannot hold an example no test runs.
 */
export function queryDocExamples(): { documents: QueryableDocument[]; examples: DocExample[] } {
  const text = readFileSync(QUERIES_DOC, 'utf8');
  const docs = /```json documents\n([\s\S]*?)```/.exec(text);
  if (!docs) throw new Error('docs/queries.md has no ```json documents block');
  const documents = (JSON.parse(docs[1]!) as JsonObject[]).map((content, i) => ({
    id: `00000000-0000-4000-8000-${String(i + 1).padStart(12, '0')}`,
    revision: i + 1,
    title: String(content.title),
    createdAt: `2026-12-01T00:00:0${i}.000Z`,
    updatedAt: `2026-12-02T00:00:0${i}.000Z`,
    content,
  }));
  const examples: DocExample[] = [];
  for (const m of text.matchAll(/```json query\n([\s\S]*?)```\n(.*)/g)) {
    const answer = /^→ `(\[.*\])`$/.exec(m[2]!.trim());
    if (!answer) throw new Error(`docs/queries.md: the query ${m[1]!.trim()} has no "→ \`[...]\`" line after it`);
    examples.push({ query: JSON.parse(m[1]!) as JsonObject, titles: JSON.parse(answer[1]!) as string[] });
  }
  return { documents, examples };
}
