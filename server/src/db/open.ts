import type { Database } from './database.js';
import type { Logger } from '../logger.js';
import { PostgresDatabase } from './postgres.js';
import { PGliteDatabase } from './pglite.js';

export interface DatabaseOptions {
  /** A PostgreSQL connection string; when absent, the embedded database in `dataDir` is used. */
  databaseUrl?: string;
  dataDir: string;
  poolSize?: number;
}

export async function openDatabase(opts: DatabaseOptions, log: Logger): Promise<Database> {
  if (opts.databaseUrl) return new PostgresDatabase(opts.databaseUrl, log, opts.poolSize);
  return PGliteDatabase.open(opts.dataDir);
}
