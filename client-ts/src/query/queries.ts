import type Database from 'better-sqlite3-multiple-ciphers';
import { parseQuery, QueryError, type Query } from '@json-sync/core';
import { SyncError } from '../errors.js';
import { registerQueryFunctions, type QueryDeadline } from './sqlite-functions.js';
import type { QueryResultJson } from './query-api.js';
import { compileQuery, type Catalog, type CompiledQuery } from './sqlite-query.js';

/** Compiled statements kept per query text. */
const CACHE_SIZE = 256;

/**
 * Runs queries against the engine's database: parse (errors name the offending part), compile to
 * one SQLite statement for the indexes there are now, run on the engine's connection. The same
 * statement text is what the C library runs on its own connections (`compile`).
 */
export class Queries {
  private readonly compiled = new Map<string, { generation: number; query: Query; compiled: CompiledQuery; statement: Database.Statement }>();

  private readonly deadline: QueryDeadline;

  constructor(
    private readonly db: Database.Database,
    private readonly catalog: () => { generation: number; catalog: Catalog },
    limitMs: number,
  ) {
    this.deadline = { at: Infinity, limitMs };
    registerQueryFunctions(db, this.deadline);
  }

  /** A query's JSON text → its parsed form and statement, for the indexes in force. */
  compile(text: string): { query: Query; compiled: CompiledQuery; statement: Database.Statement } {
    const { generation, catalog } = this.catalog();
    const known = this.compiled.get(text);
    if (known && known.generation === generation) return known;
    const query = parse(text);
    let compiled: CompiledQuery;
    try {
      compiled = compileQuery(query, catalog);
    } catch (err) {
      throw new SyncError('invalid_input', (err as Error).message);
    }
    const entry = { generation, query, compiled, statement: this.db.prepare(compiled.sql).pluck() };
    if (this.compiled.size >= CACHE_SIZE) this.compiled.delete(this.compiled.keys().next().value!);
    this.compiled.set(text, entry);
    return entry;
  }

  run(text: string): QueryResultJson {
    const { statement } = this.compile(text);
    this.deadline.at = performance.now() + this.deadline.limitMs;
    try {
      return JSON.parse(statement.get() as string) as QueryResultJson;
    } finally {
      this.deadline.at = Infinity;
    }
  }

  /** How SQLite runs the query: the statement, the index it reads, and SQLite's plan. */
  explain(text: string): { sql: string; index: string | null; plan: string[] } {
    const { compiled } = this.compile(text);
    const plan = (this.db.prepare(`EXPLAIN QUERY PLAN ${compiled.sql}`).all() as { detail: string }[]).map((r) => r.detail);
    return { sql: compiled.sql, index: compiled.index, plan };
  }
}

/** Parses query text: JSON, then the language's rules. */
function parse(text: string): Query {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new SyncError('invalid_input', `query is not valid JSON: ${(err as Error).message}`);
  }
  try {
    return parseQuery(raw);
  } catch (err) {
    if (err instanceof QueryError) throw new SyncError('invalid_input', err.message);
    throw err;
  }
}
