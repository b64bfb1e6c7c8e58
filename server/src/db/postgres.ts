import pg from 'pg';
import type { Database, Isolation, ListenHandlers, Queryable, QueryResult, Session } from './database.js';
import type { Logger } from '../logger.js';

// Sequences and counts are BIGINT; they stay far below 2^53, so read them as numbers.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

const LISTEN_RETRY_MIN_MS = 100;
const LISTEN_RETRY_MAX_MS = 5000;

/** A pool for queries and transactions plus one dedicated connection for LISTEN that reconnects by itself. */
export class PostgresDatabase implements Database {
  readonly kind = 'postgres' as const;
  private readonly pool: pg.Pool;
  private listener: pg.Client | null = null;
  private closed = false;
  roundTrips = 0;

  constructor(
    private readonly url: string,
    private readonly log: Logger,
    poolSize = 10,
  ) {
    this.pool = new pg.Pool({ connectionString: url, max: poolSize, application_name: 'sync-server', connectionTimeoutMillis: 5000 });
    // An idle client that dies (server restart) must not crash the process; the pool replaces it.
    this.pool.on('error', (err) => this.log.warn({ err: err.message }, 'idle database connection lost'));
  }

  async query<R>(sql: string, params?: unknown[]): Promise<QueryResult<R>> {
    this.roundTrips++;
    const r = await this.pool.query(sql, params as unknown[]);
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
    const client = await this.pool.connect();
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
      const client = new pg.Client({ connectionString: this.url, application_name: 'sync-server-listen' });
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
    const l = this.listener;
    this.listener = null;
    if (l) await l.end().catch(() => {});
    await this.pool.end();
  }
}
