import type { Test } from 'tap';
import { createTestDatabase, type TestDatabase } from './database.js';
import { startServer, type ServerProcess } from './server-process.js';
import { TestClient } from './ws-client.js';

export interface FileServer {
  tdb: TestDatabase;
  creds: { apiKey: string; secret: string };
  server: ServerProcess;
  /** A new authenticated connection as `email`, closed at teardown. */
  connect(email: string): Promise<TestClient>;
}

/**
 * One database and one server for a whole test file (each subtest works as its own user, by
 * email), torn down — connections, server, database — when the file's tests end.
 */
export async function fileServer(t: Test, prefix: string): Promise<FileServer> {
  const tdb = await createTestDatabase(prefix);
  const creds = await tdb.credentials();
  const server = await startServer({ databaseUrl: tdb.url }).catch(async (err: unknown) => {
    await tdb.drop();
    throw err;
  });
  const clients: TestClient[] = [];
  t.teardown(async () => {
    for (const c of clients) c.close();
    await server.stop();
    await tdb.drop();
  });
  return {
    tdb,
    creds,
    server,
    async connect(email) {
      const c = await TestClient.connect(server.url, { email, apiKey: creds.apiKey, secret: creds.secret });
      clients.push(c);
      return c;
    },
  };
}
