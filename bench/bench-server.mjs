// Shared by the benchmarks: the test fixture's fresh PostgreSQL database with API credentials and
// a real server on a random loopback port (startTestServer of @json-sync/test-support), with the
// benchmarks' database setting. stop() stops the server(s) and drops the database, even after a failure.
const base = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
// Set before the fixture loads: it reads TEST_DATABASE_URL once.
process.env.TEST_DATABASE_URL = base;
const { startTestServer } = await import('@json-sync/test-support');

/** The PostgreSQL server the benchmarks run against (host:port, for printing). */
export const databaseHost = new URL(base).host;

/** `nodeArgs` go to the server's node (e.g. --cpu-prof), `args` to `sync-server serve`. */
export async function startBenchServer(name, { nodeArgs = [], args = [] } = {}) {
  const ts = await startTestServer({ prefix: `sync_${name}`, appName: name, nodeArgs, args });
  return {
    url: ts.url,
    httpUrl: ts.httpUrl,
    apiKey: ts.apiKey,
    secret: ts.secret,
    dbUrl: ts.tdb.url,
    pid: ts.server.child.pid,
    /** Another server process on the same database (stopped by stop()). */
    async startAnother() {
      const p = await ts.startAnother();
      return { url: p.url, httpUrl: p.httpUrl, pid: p.child.pid, stop: () => p.stop() };
    },
    stopServer: () => ts.server.stop(),
    stop: () => ts.teardown(),
  };
}
