import { mkdirSync, openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import type { Database, Isolation, ListenHandlers, Queryable, QueryResult, Session } from './database.js';

/** Raised when another process already has the embedded database directory open. */
export class DataDirLockedError extends Error {
  override readonly name = 'DataDirLockedError';
  constructor(
    readonly dataDir: string,
    readonly pid: number,
  ) {
    super(
      `the embedded database in ${dataDir} is in use by process ${pid}. ` +
        'It is single-process: stop that server first (admin commands run while the server is stopped), ' +
        'or point every process at PostgreSQL with DATABASE_URL.',
    );
  }
}

const LOCK_FILE = 'sync-server.pid';

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the directory's pid lock, replacing a stale one left by a process that died. */
function lockDataDir(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number.parseInt(readFileSync(path, 'utf8'), 10);
      if (Number.isInteger(holder) && holder !== process.pid && processAlive(holder)) throw new DataDirLockedError(dataDir, holder);
      rmSync(path, { force: true });
    }
  }
  throw new Error(`could not lock ${dataDir}`);
}

/**
 * Embedded PostgreSQL (PGlite, WASM). It is one connection, so every query and transaction is
 * serialised through a promise queue; a transaction holds the queue until it ends.
 */
export class PGliteDatabase implements Database {
  readonly kind = 'pglite' as const;
  private tail: Promise<unknown> = Promise.resolve();
  roundTrips = 0;

  private constructor(
    private readonly db: PGlite,
    private readonly unlock: () => void,
  ) {}

  static async open(dataDir: string): Promise<PGliteDatabase> {
    const unlock = lockDataDir(dataDir);
    try {
      const db = await PGlite.create(dataDir, { parsers: { 20: (v: string) => Number(v) } });
      return new PGliteDatabase(db, unlock);
    } catch (err) {
      unlock();
      throw err;
    }
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => {});
    return run;
  }

  private async raw<R>(sql: string, params?: unknown[]): Promise<QueryResult<R>> {
    this.roundTrips++;
    const r = await this.db.query<R>(sql, params);
    // PGlite reports affectedRows = 0 for a SELECT; pg reports the rows returned.
    return { rows: r.rows, rowCount: r.affectedRows || r.rows.length };
  }

  query<R>(sql: string, params?: unknown[]): Promise<QueryResult<R>> {
    return this.exclusive(() => this.raw<R>(sql, params));
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>, isolation: Isolation = 'read committed'): Promise<T> {
    return this.exclusive(async () => {
      await this.db.exec(`BEGIN ISOLATION LEVEL ${isolation === 'repeatable read' ? 'REPEATABLE READ' : 'READ COMMITTED'}`);
      try {
        const result = await fn({ query: (sql, params) => this.raw(sql, params) });
        await this.db.exec('COMMIT');
        return result;
      } catch (err) {
        await this.db.exec('ROLLBACK');
        throw err;
      }
    });
  }

  session<T>(fn: (s: Session) => Promise<T>): Promise<T> {
    return this.exclusive(async () => {
      try {
        return await fn({
          script: async (sql) => {
            this.roundTrips++;
            return (await this.db.exec(sql)).map((r) => ({ rows: r.rows, rowCount: r.affectedRows || r.rows.length }));
          },
        });
      } catch (err) {
        await this.db.exec('ROLLBACK');
        throw err;
      }
    });
  }

  async listen(channel: string, handlers: ListenHandlers): Promise<void> {
    // One process owns the directory, so only this process's own commits notify; nothing is ever missed.
    await this.exclusive(() => this.db.listen(channel, handlers.onNotification));
  }

  async close(): Promise<void> {
    await this.exclusive(async () => {
      await this.db.close();
    });
    this.unlock();
  }
}
