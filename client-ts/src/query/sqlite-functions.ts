import type Database from 'better-sqlite3-multiple-ciphers';
import { parseRegex, regexTest, type SafeRegex } from '@json-sync/core';
import { SyncError } from '../errors.js';

/** When the query running on the connection must end (performance.now() time; Infinity: none runs). */
export interface QueryDeadline {
  at: number;
  limitMs: number;
}

/** Compiled patterns by source and flags: a statement calls sync_regexp once per row. */
const patterns = new Map<string, SafeRegex>();
const MAX_CACHED = 256;

/**
 * The SQL functions compiled queries call on the engine's connection: `sync_regexp(pattern,
 * flags, text)`, the language's linear-time `$regex` (core's Pike VM). better-sqlite3 has no
 * interrupt, so the engine's time limit is checked here, once per row a `$regex` reads: the only
 * statements whose cost per row is more than SQLite's own.
 */
export function registerQueryFunctions(db: Database.Database, deadline: QueryDeadline): void {
  db.function('sync_regexp', { deterministic: true, varargs: false }, (source: unknown, flags: unknown, text: unknown) => {
    if (performance.now() > deadline.at) throw new SyncError('timeout', `the query ran longer than ${deadline.limitMs} ms and was stopped`);
    if (typeof source !== 'string' || typeof flags !== 'string' || typeof text !== 'string') return 0;
    const key = `${flags}/${source}`;
    let re = patterns.get(key);
    if (!re) {
      if (patterns.size >= MAX_CACHED) patterns.clear();
      patterns.set(key, (re = parseRegex(source, flags)));
    }
    return regexTest(re, text) ? 1 : 0;
  });
}
