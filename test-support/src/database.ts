import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { credentialsFrom, runCli } from './run-cli.js';

/** The PostgreSQL server the tests use; CI points it at the local server. */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

function withDatabaseName(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Direct SQL on a test database, for setting up and checking what the server stored. */
export interface SqlPool {
  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<{ rows: R[]; rowCount: number }>;
  close(): Promise<void>;
}

export interface TestCredentials {
  applicationId: string;
  name: string;
  apiKey: string;
  secret: string;
}

export interface TestDatabase {
  url: string;
  name: string;
  /** A small connection pool for direct reads and writes in assertions (BIGINT read as numbers, as the server reads them). */
  db: SqlPool;
  /** A new application and key pair, made by `sync-server generate-credentials`. */
  credentials(name?: string): Promise<TestCredentials>;
  drop(): Promise<void>;
}

export interface TestDatabaseOptions {
  /**
   * A connection string to an existing database of the PostgreSQL server to create it in (default
   * `TEST_DATABASE_URL`; the fault suite passes a private cluster of its own).
   */
  serverUrl?: string;
  /** Leave it empty, without the server's schema (default: `sync-server migrate` has run on it). */
  empty?: boolean;
}

const INT8 = pg.types.builtins.INT8;

/** A small pool on `url` for a test's own reads and writes (BIGINT read as numbers, as the server reads them). */
export function sqlPool(url: string): SqlPool {
  const pool = new pg.Pool({
    connectionString: url,
    max: 4,
    types: { getTypeParser: ((oid: number, format?: 'text' | 'binary') => (oid === INT8 ? Number : pg.types.getTypeParser(oid, format))) as typeof pg.types.getTypeParser },
  });
  // Tests terminate backends and stop clusters on purpose: an idle connection dying is no failure of theirs.
  pool.on('error', () => {});
  return {
    async query<R>(sql: string, params?: unknown[]) {
      const r = await pool.query(sql, params);
      return { rows: r.rows as R[], rowCount: r.rowCount ?? 0 };
    },
    close: () => pool.end(),
  };
}

/**
 * A fresh database of its own for one test file, migrated by the server's own `sync-server migrate`
 * (unless `empty`), dropped by `drop()`. `prefix` begins its name, so a leftover one says which
 * suite made it.
 */
export async function createTestDatabase(prefix = 'sync_test', opts: TestDatabaseOptions = {}): Promise<TestDatabase> {
  const { serverUrl = TEST_DATABASE_URL } = opts;
  if (!/^[a-z0-9_]+$/.test(prefix)) throw new Error(`database prefix must be lowercase letters, digits and _: ${prefix}`);
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = withDatabaseName(serverUrl, name);
  const cli = async (args: string[]): Promise<string> => {
    const r = await runCli(args, { databaseUrl: url });
    if (r.code !== 0) throw new Error(`sync-server ${args.join(' ')} failed (${r.code}):\n${r.stderr}`);
    return r.stdout;
  };
  if (!opts.empty) {
    try {
      await cli(['migrate']);
    } catch (err) {
      await dropTestDatabase(name, serverUrl);
      throw err;
    }
  }
  const db = sqlPool(url);
  return {
    url,
    name,
    db,
    async credentials(appName = 'test app') {
      const { apiKey, secret } = credentialsFrom(await cli(['generate-credentials', '--name', appName]));
      const app = await db.query<{ id: string }>('SELECT application_id AS id FROM api_credentials WHERE api_key = $1', [apiKey]);
      return { applicationId: app.rows[0]!.id, name: appName, apiKey, secret };
    },
    async drop() {
      await db.close();
      await dropTestDatabase(name, serverUrl);
    },
  };
}

/** Drops a database made by `createTestDatabase`, by name (for fixtures whose creator has exited). */
export async function dropTestDatabase(name: string, serverUrl: string = TEST_DATABASE_URL): Promise<void> {
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`not a test database name: ${name}`);
  const c = new pg.Client({ connectionString: serverUrl });
  await c.connect();
  try {
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await c.end();
  }
}
