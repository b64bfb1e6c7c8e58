import type { Test } from 'tap';
import { startTestServer, TestClient, type ServerProcess, type TestDatabase } from '@json-sync/test-support';

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
  const ts = await startTestServer({ prefix });
  const creds = { apiKey: ts.apiKey, secret: ts.secret };
  const clients: TestClient[] = [];
  t.teardown(async () => {
    for (const c of clients) c.close();
    await ts.teardown();
  });
  return {
    tdb: ts.tdb,
    creds,
    server: ts.server,
    async connect(email) {
      const c = await TestClient.connect(ts.url, { email, ...creds });
      clients.push(c);
      return c;
    },
  };
}
