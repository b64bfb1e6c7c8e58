import { QueryError, type ClientMessageOf, type ServerMessageOf } from '@json-sync/core';
import type { Database } from '../db/database.js';
import type { Logger } from '../logger.js';
import { QueryTimeoutError, runQuery } from './run-query.js';

/** A query's JSON beyond this is refused before it is parsed: the language's own bounds allow far less useful text. */
export const MAX_QUERY_BYTES = 64 * 1024;

/**
 * Queries one process runs at once; the rest wait their turn. Each holds a pooled connection for up
 * to the time limit, and mutations need connections too: a burst of slow queries must not take them all.
 */
const MAX_CONCURRENT_QUERIES = 4;

let running = 0;
const waiting: (() => void)[] = [];

async function inTurn<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= MAX_CONCURRENT_QUERIES) await new Promise<void>((resolve) => waiting.push(resolve));
  else running++;
  try {
    return await fn();
  } finally {
    // The slot passes straight to the next waiter (running stays counted), or is freed.
    const next = waiting.shift();
    if (next) next();
    else running--;
  }
}

export type QueryReply = ServerMessageOf<'query_result'> | ServerMessageOf<'error'>;

/**
 * The answer to a query_documents message, for the session's user only: a query_result, or an error
 * naming the request — invalid_query (the message names the part), query_timeout, server_error.
 */
export async function answerQuery(db: Database, log: Logger, userId: string, m: ClientMessageOf<'query_documents'>, timeoutMs: number): Promise<QueryReply> {
  const request_id = m.request_id;
  try {
    const size = JSON.stringify(m.query).length;
    if (size > MAX_QUERY_BYTES) throw new QueryError('query', `at most ${MAX_QUERY_BYTES} bytes of JSON (this one has ${size})`);
    const answer = await inTurn(() => runQuery(db, userId, m.query, timeoutMs));
    return { type: 'query_result', request_id, ...answer };
  } catch (err) {
    if (err instanceof QueryError || err instanceof QueryTimeoutError) return { type: 'error', code: err.code, message: err.message, request_id };
    log.error({ err: (err as Error).message }, 'query failed');
    return { type: 'error', code: 'server_error', message: 'internal error; retry', request_id };
  }
}
