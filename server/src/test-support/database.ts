import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { PostgresDatabase } from '../db/postgres.js';
import { migrate } from '../db/migrations.js';
import { createLogger } from '../logger.js';
import { generateCredentials, type GeneratedCredentials } from '../store/credentials.js';

/** The PostgreSQL server the tests use; CI points it at the local server. */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

function withDatabaseName(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

export interface TestDatabase {
  url: string;
  name: string;
  /** A migrated connection for direct reads and writes in assertions. */
  db: PostgresDatabase;
  credentials(name?: string): Promise<GeneratedCredentials>;
  drop(): Promise<void>;
}

/**
 * A fresh, migrated database of its own for one test file, dropped by `drop()`. `serverUrl` is a
 * connection string to an existing database of the PostgreSQL server to create it in (default
 * `TEST_DATABASE_URL`; the fault suite passes a private cluster of its own).
 */
export async function createTestDatabase(prefix = 'sync_test', serverUrl: string = TEST_DATABASE_URL): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  if (!/^[a-z0-9_]+$/.test(prefix)) throw new Error(`database prefix must be lowercase letters, digits and _: ${prefix}`);
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = withDatabaseName(serverUrl, name);
  const db = new PostgresDatabase(url, createLogger('silent'), 4);
  await migrate(db);
  return {
    url,
    name,
    db,
    credentials: (appName = 'test app') => generateCredentials(db, appName),
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
