import { encodeCursor, parseQuery, project, RANK, type KeyValue, type WireDocument } from '@json-sync/core';
import type { Database } from '../db/database.js';
import { toWireDocument, type DocumentRow } from '../store/documents.js';
import { compileQuery } from './pg-query.js';

/** The statement ran past the time limit (PostgreSQL's statement_timeout cancelled it). */
export class QueryTimeoutError extends Error {
  override readonly name = 'QueryTimeoutError';
  readonly code = 'query_timeout';
  constructor(readonly timeoutMs: number) {
    super(`the query ran longer than ${timeoutMs} ms and was stopped; narrow it, add a limit, or sort by a field an index orders`);
  }
}

export type QueryAnswer = { documents: WireDocument[]; next: string | null } | { count: number };

/** PostgreSQL's SQLSTATE for a statement cancelled by statement_timeout. */
const QUERY_CANCELED = '57014';

type Row = DocumentRow & Record<string, unknown>;

function keyValue(row: Row, i: number): KeyValue {
  const rank = Number(row[`k${i}r`]);
  if (rank === RANK.number || rank === RANK.bool) return { rank, value: Number(row[`k${i}n`]) };
  if (rank === RANK.string) return { rank, value: String(row[`k${i}s`]) };
  return { rank, value: null };
}

/**
 * Answers a query (the raw JSON of docs/queries.md) from one user's live documents. It runs as one
 * script — a read-only transaction whose statement_timeout bounds the query — so it costs one
 * round trip. Throws core's QueryError (invalid_query) or QueryTimeoutError.
 */
export async function runQuery(db: Database, userId: string, raw: unknown, timeoutMs: number): Promise<QueryAnswer> {
  const q = parseQuery(raw);
  const compiled = compileQuery(q, userId);
  // No JIT: a walk's LATERAL join makes the planner's cost estimate large enough to compile the
  // statement's expressions with LLVM, ~100 ms per query, far more than the query takes to run.
  const script = `BEGIN READ ONLY; SET LOCAL statement_timeout = ${Math.max(1, Math.floor(timeoutMs))}; SET LOCAL jit = off; ${compiled.sql}; COMMIT`;
  let rows: Row[];
  try {
    rows = (await db.session((s) => s.script(script)))[3]!.rows as Row[];
  } catch (err) {
    if ((err as { code?: unknown }).code === QUERY_CANCELED) throw new QueryTimeoutError(timeoutMs);
    throw err;
  }
  if (compiled.kind === 'count') return { count: Number(rows[0]!.count) };
  const more = q.limit !== null && rows.length > q.limit;
  const page = more ? rows.slice(0, q.limit!) : rows;
  const documents = page.map((row) => {
    const doc = toWireDocument(row);
    return q.fields ? { ...doc, content: project(doc.content, q.fields) } : doc;
  });
  const last = page.at(-1);
  const next = more && last ? encodeCursor(q.signature, { keys: Array.from({ length: compiled.keys }, (_, i) => keyValue(last, i)), id: last.id }) : null;
  return { documents, next };
}
