import pg from 'pg';
import type { Database, Isolation, ListenHandlers, Queryable, QueryResult, Session } from './database.js';
import { hostOf, parseHosts } from './hosts.js';
import type { Logger } from '../logger.js';

// Sequences and counts are BIGINT; they stay far below 2^53, so read them as numbers.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

const LISTEN_RETRY_MIN_MS = 100;
const LISTEN_RETRY_MAX_MS = 5000;
/** Between two rounds over the host list while none of them is a primary (a standby not yet promoted). */
const PRIMARY_SEARCH_PAUSE_MS = 200;
/** One host's share of a round: a host that does not answer must not hold up the others. */
const PROBE_TIMEOUT_MS = 2000;

/** Refused while no host is known to take writes: the batcher answers it as the retryable server_error. */
export class NoPrimaryError extends Error {
  constructor() {
    super('no primary database: looking for one among the hosts of DATABASE_URL');
  }
}

/**
 * A pool for queries and transactions plus one dedicated connection for LISTEN that reconnects by
 * itself. With several hosts, or `target_session_attrs=read-write`, it does what libpq does: the
 * hosts are tried in order and the first that is not in recovery is kept; when a query fails, the
 * current host is checked, and if it is gone or has become a standby the search starts again (the
 * pool and the LISTEN connection move to the new primary; queries meanwhile fail at once with
 * NoPrimaryError rather than wait).
 */
export class PostgresDatabase implements Database {
  readonly kind = 'postgres' as const;
  private pool: pg.Pool;
  private target: string;
  private readonly targets: string[];
  /** Whether hosts are checked and switched at all: a single host without read-write is used as it is. */
  private readonly failover: boolean;
  /** The first search, at start-up: queries wait for it. */
  private readonly ready: Promise<void>;
  /** A later search, after the primary was lost: queries are refused meanwhile. */
  private search: Promise<void> | null = null;
  private checking = false;
  private listener: pg.Client | null = null;
  private closed = false;
  roundTrips = 0;

  constructor(
    url: string,
    private readonly log: Logger,
    private readonly poolSize = 10,
  ) {
    const hosts = parseHosts(url);
    this.targets = hosts.targets;
    this.failover = hosts.readWrite || hosts.targets.length > 1;
    this.target = this.targets[0]!;
    this.pool = this.newPool(this.target);
    // At start-up one round over the hosts, as libpq's connect: none of them a primary is an error.
    this.ready = this.failover ? this.findPrimary(1) : Promise.resolve();
    this.ready.catch(() => {});
  }

  private newPool(target: string): pg.Pool {
    const pool = new pg.Pool({ connectionString: target, max: this.poolSize, application_name: 'sync-server', connectionTimeoutMillis: 5000 });
    // An idle client that dies (server restart) must not crash the process; the pool replaces it.
    pool.on('error', (err) => {
      this.log.warn({ err: err.message }, 'idle database connection lost');
      this.suspect();
    });
    return pool;
  }

  /** The pool of the current primary; during a failover, NoPrimaryError at once. */
  private async currentPool(): Promise<pg.Pool> {
    await this.ready;
    if (this.search) throw new NoPrimaryError();
    return this.pool;
  }

  /**
   * Tries the hosts in order until one answers `pg_is_in_recovery() = false`, `rounds` times over
   * the list (0: until one does or the database is closed), then moves the pool and the LISTEN
   * connection to it.
   */
  private async findPrimary(rounds: number): Promise<void> {
    let tried: string[] = [];
    for (let round = 0; rounds === 0 || round < rounds; round++) {
      tried = [];
      for (const target of this.targets) {
        if (this.closed) return;
        const verdict = await probe(target);
        if (verdict === 'primary') return this.use(target);
        tried.push(`${hostOf(target)}: ${verdict}`);
      }
      if (rounds === 0 || round + 1 < rounds) await new Promise((r) => setTimeout(r, PRIMARY_SEARCH_PAUSE_MS));
    }
    throw new Error(`no host of DATABASE_URL accepts writes (${tried.join('; ')})`);
  }

  private use(target: string): void {
    if (target !== this.target) {
      const old = this.pool;
      this.pool = this.newPool(target);
      this.log.warn({ from: hostOf(this.target), to: hostOf(target) }, 'database primary changed');
      this.target = target;
      // Its checked-out clients finish (or fail) with their sessions; idle ones close now.
      old.end().catch(() => {});
      // LISTEN lives on the primary too: the listener reconnects there, and then pushes what it missed.
      this.listener?.end().catch(() => {});
    }
  }

  /**
   * A query failed: if the current host no longer answers as a primary, look for the new one. One
   * check at a time; with a single plain host nothing is checked (the pool reconnects by itself).
   */
  private suspect(): void {
    if (!this.failover || this.closed || this.search || this.checking) return;
    this.checking = true;
    void probe(this.target)
      .then((verdict) => {
        if (verdict === 'primary' || this.closed || this.search) return;
        this.log.warn({ host: hostOf(this.target), verdict }, 'database host lost; looking for the primary');
        this.search = this.findPrimary(0).finally(() => (this.search = null));
      })
      .finally(() => (this.checking = false));
  }

  private async failed<T>(work: Promise<T>): Promise<T> {
    try {
      return await work;
    } catch (err) {
      if (connectionTrouble(err)) this.suspect();
      throw err;
    }
  }

  async query<R>(sql: string, params?: unknown[]): Promise<QueryResult<R>> {
    const pool = await this.currentPool();
    this.roundTrips++;
    const r = await this.failed(pool.query(sql, params as unknown[]));
    return { rows: r.rows as R[], rowCount: r.rowCount ?? 0 };
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>, isolation: Isolation = 'read committed'): Promise<T> {
    return this.session(async (s) => {
      await s.script(`BEGIN ISOLATION LEVEL ${isolation === 'repeatable read' ? 'REPEATABLE READ' : 'READ COMMITTED'}`);
      const result = await fn(s);
      await s.script('COMMIT');
      return result;
    });
  }

  async session<T>(fn: (s: Session & Queryable) => Promise<T>): Promise<T> {
    const pool = await this.currentPool();
    const client = await this.failed(pool.connect());
    let broken: Error | undefined;
    // pg-pool drops its own 'error' listener while a client is checked out: without one, a backend
    // terminated mid-transaction (PostgreSQL stopping, pg_terminate_backend) is an unhandled
    // 'error' event that ends the process. The failing query rejects too; that is what we act on.
    const onError = (err: Error) => {
      broken = err;
      this.log.warn({ err: err.message }, 'database connection lost during a transaction');
    };
    client.on('error', onError);
    const session: Session & Queryable = {
      query: async <R>(sql: string, params?: unknown[]) => {
        this.roundTrips++;
        const r = await client.query(sql, params as unknown[]);
        return { rows: r.rows as R[], rowCount: r.rowCount ?? 0 };
      },
      script: async (sql: string) => {
        this.roundTrips++;
        // Without parameters pg uses the simple query protocol, which takes many statements at once.
        const r = (await client.query(sql)) as unknown as pg.QueryResult | pg.QueryResult[];
        return (Array.isArray(r) ? r : [r]).map((x) => ({ rows: x.rows, rowCount: x.rowCount ?? 0 }));
      },
    };
    try {
      return await fn(session);
    } catch (err) {
      if (broken || connectionTrouble(err)) this.suspect();
      try {
        // Outside a transaction this is only a warning, so it is safe whatever fn got to.
        await client.query('ROLLBACK');
      } catch (rollbackErr) {
        broken = rollbackErr as Error;
      }
      throw err;
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }

  async listen(channel: string, handlers: ListenHandlers): Promise<void> {
    let delay = LISTEN_RETRY_MIN_MS;
    let first = true;
    const connect = async (): Promise<void> => {
      if (this.closed) return;
      await this.ready;
      if (this.search) await this.search.catch(() => {});
      const client = new pg.Client({ connectionString: this.target, application_name: 'sync-server-listen' });
      client.on('notification', (msg) => {
        if (msg.channel === channel && msg.payload !== undefined) handlers.onNotification(msg.payload);
      });
      const retry = (err?: Error) => {
        if (this.listener !== client) return;
        this.listener = null;
        client.removeAllListeners('error');
        client.on('error', () => {});
        client.end().catch(() => {});
        if (this.closed) return;
        this.log.warn({ err: err?.message }, 'listen connection lost; reconnecting');
        this.suspect();
        setTimeout(() => void connect(), delay).unref();
        delay = Math.min(delay * 2, LISTEN_RETRY_MAX_MS);
      };
      this.listener = client;
      client.on('error', retry);
      client.on('end', () => retry());
      try {
        await client.connect();
        await client.query(`LISTEN ${channel}`);
      } catch (err) {
        if (first) {
          this.listener = null;
          client.removeAllListeners();
          client.on('error', () => {});
          await client.end().catch(() => {});
          throw err;
        }
        retry(err as Error);
        return;
      }
      delay = LISTEN_RETRY_MIN_MS;
      if (!first) handlers.onReconnect();
      first = false;
    };
    await connect();
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([this.ready.catch(() => {}), this.search?.catch(() => {})]);
    const l = this.listener;
    this.listener = null;
    if (l) await l.end().catch(() => {});
    await this.pool.end();
  }
}

/**
 * An error that may mean the host is gone or no longer the primary: no SQLSTATE at all (the socket
 * failed), a connection exception (08), an operator intervention (57P: shut down, terminated,
 * starting up) or a write refused as read-only (25006: the host is a standby now).
 */
function connectionTrouble(err: unknown): boolean {
  if (err instanceof NoPrimaryError) return false;
  const code = (err as { code?: unknown }).code;
  if (!(err instanceof pg.DatabaseError)) return true;
  return typeof code === 'string' && (code.startsWith('08') || code.startsWith('57P') || code === '25006');
}

/** Whether a host takes writes now: 'primary', 'standby', or why it could not be asked. */
async function probe(target: string): Promise<string> {
  const client = new pg.Client({ connectionString: target, application_name: 'sync-server-probe', connectionTimeoutMillis: PROBE_TIMEOUT_MS, query_timeout: PROBE_TIMEOUT_MS });
  client.on('error', () => {});
  try {
    await client.connect();
    const r = await client.query<{ recovery: boolean }>('SELECT pg_is_in_recovery() AS recovery');
    return r.rows[0]?.recovery ? 'standby' : 'primary';
  } catch (err) {
    return (err as Error).message || String(err);
  } finally {
    await client.end().catch(() => {});
  }
}
